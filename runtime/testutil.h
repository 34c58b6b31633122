// File: testutil.h
// Test models in the shared format with every weight in one encoding, built from a model's
// own float weights the way each method would store them, for comparing the runtime with the
// decode-to-float path.
#ifndef MC_RUNTIME_TESTUTIL_H_
#define MC_RUNTIME_TESTUTIL_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "nn_models/classifier.h"
#include "serialization/compressed_model.pb.h"

namespace mc::runtime::testing {

/// How the weights of convolutions and linear layers are stored.
enum class WeightEncoding {
  kFloat,             ///< float32 passthrough
  kFourBits,          ///< uniform, 4 bits, one range per tensor (QAT)
  kDiffqWidths,       ///< uniform, one range per tensor, widths 1..8 per group of 16 (DiffQ)
  kWideWidths,        ///< uniform, widths 2..12 per group of 8 (levels above 8 bits)
  kBuckets,           ///< uniform, 4 bits, one range per bucket of 256 (quantized distillation)
  kStep,              ///< uniform step form, 3 bits (LSQ)
  kSigns,             ///< uniform, 1 bit: sign times a scale (MetaQuant's binary weights)
  kLearnedPoints,     ///< learned points, 8 points, buckets of 64 (differentiable quantization)
  kCodebook,          ///< 16 centroids of blocks of the kernel's size or 4 ("bit goes down")
};

std::string EncodingName(WeightEncoding encoding);

/// `weight` in `encoding` (quantized from its values; random widths, centroids and assignments
/// are drawn from ATen's generator).
serialization::CompressedTensor EncodeWeight(const std::string& name, const at::Tensor& weight,
                                             WeightEncoding encoding);

/// `weight` as uniform levels of `bits` bits with one range for the tensor.
serialization::CompressedTensor EncodeUniformWeight(const std::string& name, const at::Tensor& weight,
                                                    int64_t bits);

/// `weight` as `num_centroids` random centroids of `block` values with random assignments.
serialization::CompressedTensor EncodeCodebookWeight(const std::string& name,
                                                     const at::Tensor& weight, int64_t block,
                                                     int64_t num_centroids);

/// `model`'s parameters and buffers, its weight matrices and kernels (parameters of 2 or more
/// dimensions whose local name starts with "weight": convolutions, linear layers, embeddings,
/// LSTM weights) in `encoding` (quantized from their current values, seeded), the rest as
/// float32.
serialization::CompressedModel EncodeModel(const nn_models::Classifier& model,
                                           WeightEncoding encoding);

}  // namespace mc::runtime::testing

#endif  // MC_RUNTIME_TESTUTIL_H_
