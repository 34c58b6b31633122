// File: codebook_codec.h
// Stores a product-quantized layer (vq/layout.h) as the CodebookEncoding of
// serialization/compressed_model.proto and reads it back, with every field checked, so that
// any reader of the shared format (model_io/decoder.h) rebuilds the weight.
//
// Stored form of a weight of shape (out, in[, kh, kw]) cut into n subvectors of block_size:
//   layout          "conv" for a 4-D weight, "linear" for a 2-D one (vq/layout.h's order:
//                   block-major, then output channel, along (in, kh, kw) or in)
//   block_size      subvector length, dividing in * kh * kw (or in)
//   num_centroids   k, in [1, 65536]
//   centroids       k * block_size float16 values (centroid_dtype FLOAT16), row-major
//   assignment_bits max(1, ceil(log2 k))
//   assignments     the n centroid indices, bit-packed at assignment_bits (quant/bitpack.h)
// Decoding is exact: the weight is the float16-rounded centroids indexed by the assignments,
// which is what RoundCentroids gives the compressor before it writes the layer.
//
// Example:
//   MC_ASSIGN_OR_RETURN(serialization::CompressedTensor stored,
//                       EncodeCodebook("layer1.0.conv1.weight", conv->weight.sizes(),
//                                      centroids, assignments));
//   MC_ASSIGN_OR_RETURN(at::Tensor weight, DecodeCodebook(stored));
#ifndef MC_VQ_CODEBOOK_CODEC_H_
#define MC_VQ_CODEBOOK_CODEC_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "serialization/compressed_model.pb.h"

namespace mc::vq {

/// The largest number of centroids the encoding stores (16-bit assignments).
inline constexpr int64_t kMaxStoredCentroids = int64_t{1} << 16;

/// "conv" for a 4-D weight shape, "linear" for a 2-D one, "" otherwise.
std::string CodebookLayoutName(at::IntArrayRef weight_shape);

/// Bits per stored assignment for k centroids: max(1, ceil(log2 k)).
int AssignmentBits(int64_t num_centroids);

/// The centroids as the encoding stores them: rounded to float16, returned as float32.
at::Tensor RoundCentroids(const at::Tensor& centroids);

/// Encodes the weight of shape `weight_shape` given by (centroids, assignments).
/// centroids: (k, block_size) floating point (stored as float16); assignments: (n,) integer,
/// n = NumSubvectors(weight_shape, block_size), each in [0, k).
/// \error kInvalidArgument if the shape is not 2-D or 4-D, block_size does not divide its
///   rows, n does not match, k is outside [1, 65536] or an assignment is outside [0, k).
absl::StatusOr<serialization::CompressedTensor> EncodeCodebook(const std::string& name,
                                                              at::IntArrayRef weight_shape,
                                                              const at::Tensor& centroids,
                                                              const at::Tensor& assignments);

/// A stored codebook tensor, unpacked.
struct DecodedCodebook {
  at::Tensor centroids;        ///< (k, block_size) float32 (float16 values)
  at::Tensor assignments;      ///< (n,) int64, in [0, k)
  std::vector<int64_t> shape;  ///< the weight's shape
};

/// Reads a codebook tensor's parts back.
/// \error kDataLoss naming the tensor when the encoding is missing or inconsistent: a layout
///   that does not match the shape, a block size that does not divide it, k out of range, a
///   centroid dtype other than FLOAT16 or FLOAT32, wrong assignment_bits, byte counts that do
///   not match, or an assignment >= k.
absl::StatusOr<DecodedCodebook> DecodeCodebookParts(const serialization::CompressedTensor& stored);

/// The float32 weight of a codebook tensor, in its shape. \error as DecodeCodebookParts.
absl::StatusOr<at::Tensor> DecodeCodebook(const serialization::CompressedTensor& stored);

}  // namespace mc::vq

#endif  // MC_VQ_CODEBOOK_CODEC_H_
