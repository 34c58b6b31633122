// File: bucketed_uniform.h
// Bucketed uniform quantization, the quantizer of quantized distillation (Polino et al.
// 2018): each tensor is flattened row-major and cut into buckets of `bucket_size` elements
// (the last one may be shorter); each bucket is scaled linearly to [0, 1] by its own min and
// max and rounded to one of 2^bits evenly spaced levels, deterministically (ties away from
// zero, as the reference) or stochastically (unbiased). A constant bucket quantizes exactly
// to its value. The arithmetic is quant/uniform.h's with scale groups of bucket_size.
//
// As a weight quantizer (BucketedUniformQuantizer), every parameter is quantized by default
// (biases and BatchNorm affine parameters included, as the reference; min_size 0). With
// straight_through (default) each training step runs on the quantized weights and the
// gradient goes straight through to the full-precision weights, which the optimizer updates.
// Stochastic rounding applies to training steps; evaluation and the stored state use
// deterministic rounding. Stored size: bits per weight plus two float32 scales per bucket.
// With per_channel, a tensor of two or more dimensions has one bucket per slice along its
// first dimension (an output channel or row) instead, so that channels of different ranges
// (a depthwise convolution's, whose 9 weights per channel vary by orders of magnitude across
// channels) do not share a scale.
//
// Example:
//   mc::quant::BucketedUniformQuantizer quantizer(model,
//       mc::quant::BucketedUniformOptions().bits(4).bucket_size(256));
//   { mc::quant::TrainingStep step = quantizer.training_step();
//     loss_fn(model->forward(x)).backward(); step.backward(); }
//   optimizer.step();
#ifndef MC_QUANT_BUCKETED_UNIFORM_H_
#define MC_QUANT_BUCKETED_UNIFORM_H_

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "quant/base_quantizer.h"
#include "quant/uniform.h"

namespace mc::quant {

/// Quantizes `x` (any shape) at `bits` in [1, 16] with buckets of `bucket_size` elements (0:
/// one bucket for the tensor). Levels are int32 in [0, 2^bits - 1], one (min, max) per bucket.
UniformQuantized BucketedUniformQuantize(const at::Tensor& x, int64_t bits, int64_t bucket_size,
                                         Rounding rounding);

/// Values of BucketedUniformQuantize's result: float32, the shape of q.levels.
at::Tensor BucketedUniformUnquantize(const UniformQuantized& q, int64_t bits, int64_t bucket_size);

struct BucketedUniformOptions {
  /// Bits per weight, an integer in [1, 15]. Default 4.
  TORCH_ARG(double, bits) = 4;
  /// Elements per bucket; 0 means one bucket per tensor. Default 256 (reference).
  TORCH_ARG(int64_t, bucket_size) = 256;
  /// One bucket per output channel (slice along the first dimension) for tensors of two or
  /// more dimensions; bucket_size still applies to the others. Default false (reference).
  TORCH_ARG(bool, per_channel) = false;
  /// Round stochastically during training steps. Default false (reference).
  TORCH_ARG(bool, stochastic_rounding) = false;
  /// Train on the quantized weights with a straight-through gradient. Default true.
  TORCH_ARG(bool, straight_through) = true;
  /// Parameters with at most min_size MB of float32 stay unquantized. Default 0: all.
  TORCH_ARG(double, min_size) = 0;
  /// fnmatch globs of parameters to leave unquantized, on full and local names.
  TORCH_ARG(std::vector<std::string>, exclude) = {};
};

class BucketedUniformQuantizer : public BaseQuantizer {
 public:
  /// Throws c10::Error if bits is not an integer in [1, 15], bucket_size or min_size is
  /// negative, or a quantizer is already attached to `model`.
  BucketedUniformQuantizer(std::shared_ptr<torch::nn::Module> model,
                           const BucketedUniformOptions& options = BucketedUniformOptions());

  int64_t bits() const { return bits_; }
  const BucketedUniformOptions& options() const { return options_; }

  /// bits * numel + 64 * buckets per quantized parameter.
  std::vector<double> quantized_param_bits() const override;

  /// Elements per bucket of `weight` (a quantized parameter or a tensor of its shape).
  int64_t BucketSize(const at::Tensor& weight) const;

 protected:
  at::Tensor TrainingWeight(size_t index, const at::Tensor& weight) override;
  serialization::CompressedTensor EncodeParam(size_t index,
                                              const at::Tensor& weight) const override;
  /// \error kInvalidArgument if the tensor was stored at another width or bucket size.
  absl::StatusOr<at::Tensor> DecodeParam(
      size_t index, const serialization::CompressedTensor& stored) const override;
  std::map<std::string, std::string> MethodOptions() const override;

 private:
  BucketedUniformOptions options_;
  int64_t bits_;
};

}  // namespace mc::quant

#endif  // MC_QUANT_BUCKETED_UNIFORM_H_
