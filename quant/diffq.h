// File: diffq.h
// DiffQ (Défossez, Adi, Synnaeve 2021, "Differentiable Model Compression via Pseudo
// Quantization Noise"): during training each group of weights receives uniform-quantization-
// like noise whose amplitude follows a learned number of bits, so the bit widths are learned
// by gradient descent together with the weights; a penalty on model_size() trades size for
// accuracy. At evaluation and export the weights are truly quantized, each group at its own
// rounded width, with one (min, max) range per tensor.
//
// Bits of a group with logit l, s = sigmoid(l):
//   param "bits":  b = max_bits * s + (1 - s) * min_bits;  noise step = 1 / (2^b - 1)
//   param "noise": step = exp(s log(1/(2^max_bits - 1)) + (1 - s) log(1/(2^min_bits - 1))),
//                  b = log2(1 + 1/step)
// Training value of a weight w in a group: w + (max(W) - min(W)) * step * eps, with eps =
// N(0, 1)/2 ("gaussian") or U(-1/2, 1/2) ("uniform"), fresh at every step; gradients reach
// both w and the logits. Stored width: round(extra_bits + b) clamped to [1, 15].
//
// model_size() in MB (2^20 bytes): the unquantized parameters (16 or 32 bits each), plus for
// each quantized tensor with G groups:
//   sum over groups of (elements x (extra_bits + b))   the only differentiable term
//   + 64                                               two float32 scales (min, max)
//   + 8                                                header of the width table
//   + ceil(log2(1 + round(max b) - min_bits)) * G      the per-group width table
// all divided by 8 * 2^20. true_model_size() uses the stored widths. These are the
// reference implementation's formulas, constants included, so penalties mean the same.
// Groups are runs of group_size elements in row-major order; a tensor whose size is not a
// multiple of group_size ends with a shorter group (the reference refuses such tensors).
//
// Example:
//   mc::quant::DiffQuantizer quantizer(model, mc::quant::DiffQuantizerOptions()
//                                                 .group_size(8).exclude({"bias"}));
//   quantizer.setup_optimizer(optimizer, /*lr=*/1e-3);
#ifndef MC_QUANT_DIFFQ_H_
#define MC_QUANT_DIFFQ_H_

#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <vector>

#include "quant/base_quantizer.h"
#include "quant/uniform.h"

namespace torch::optim {
class Optimizer;
}

namespace mc::quant {

struct DiffQuantizerOptions {
  /// Weights sharing one learned width; 0 = one width per tensor. Default 1 (reference).
  TORCH_ARG(int64_t, group_size) = 1;
  /// Parameters with at most min_size MB of float32 stay unquantized. Default 0.01.
  TORCH_ARG(double, min_size) = 0.01;
  /// Range of the learned widths; min_bits < init_bits < max_bits <= 15. Defaults 2 and 15.
  TORCH_ARG(int64_t, min_bits) = 2;
  TORCH_ARG(int64_t, max_bits) = 15;
  /// Width of every group at the start. Default 8.
  TORCH_ARG(double, init_bits) = 8;
  /// Added to the learned width when storing (and in the size). Default 0.
  TORCH_ARG(int64_t, extra_bits) = 0;
  /// "gaussian" (default) or "uniform".
  TORCH_ARG(std::string, noise) = "gaussian";
  /// Parameterisation of the logits: "bits" (default) or "noise".
  TORCH_ARG(std::string, param) = "bits";
  /// Store unquantized parameters as float16. Default false.
  TORCH_ARG(bool, float16) = false;
  /// fnmatch globs of parameters to leave unquantized, on full and local names.
  TORCH_ARG(std::vector<std::string>, exclude) = {};
  /// Quantize tied parameters once. Default true.
  TORCH_ARG(bool, detect_bound) = true;
};

class DiffQuantizer : public BaseQuantizer {
 public:
  /// Throws c10::Error naming the bad option (bits out of order, unknown noise or param,
  /// negative group size) or if a quantizer is already attached to `model`.
  DiffQuantizer(std::shared_ptr<torch::nn::Module> model,
                const DiffQuantizerOptions& options = DiffQuantizerOptions());

  /// Adds the bit logits to `optimizer` as a new parameter group with learning rate `lr`
  /// and no weight decay (other settings from the optimizer's defaults). Call once.
  void setup_optimizer(torch::optim::Optimizer& optimizer, double lr = 1e-3);
  /// Declares that the logits will not be trained (evaluation, export).
  void no_optimizer();

  /// The learned logits, one tensor (G) per quantized parameter.
  const std::vector<at::Tensor>& logits() const { return logits_; }
  /// Current continuous widths of quantized parameter `index`: (G), without extra_bits.
  at::Tensor bits(size_t index) const;
  /// Widths that would be stored for parameter `index`: int64 (G) in [1, 15].
  at::Tensor stored_bits(size_t index) const;

  at::Tensor model_size() const override;
  std::vector<double> quantized_param_bits() const override;
  std::vector<at::Tensor> learnable_parameters() const override { return logits_; }

  const DiffQuantizerOptions& options() const { return options_; }

 protected:
  at::Tensor TrainingWeight(size_t index, const at::Tensor& weight) override;
  std::vector<at::Tensor> TrainingWeights(const std::vector<at::Tensor>& weights) override;
  serialization::CompressedTensor EncodeParam(size_t index, const at::Tensor& weight) const override;
  absl::StatusOr<at::Tensor> DecodeParam(size_t index,
                                         const serialization::CompressedTensor& stored) const override;
  std::map<std::string, std::string> MethodOptions() const override;
  bool has_learnable_parameters() const override { return true; }

 private:
  /// Bits of quantized parameter `index` by the size formula (see the file comment); with
  /// `exact`, at the stored widths.
  at::Tensor ParamBits(size_t index, bool exact) const;
  /// The size formula's terms of parameter `index` that do not depend on the widths, its
  /// widest group being `widest` bits wide.
  double OverheadBits(size_t index, double widest) const;
  /// Elements in each group of parameter `index`: float64 (G).
  at::Tensor GroupElements(size_t index) const;
  UniformLayout Layout(size_t index) const;
  /// Widths (without extra_bits) and noise steps 1 / (2^bits - 1) from logits of any shape.
  at::Tensor BitsFromLogits(const at::Tensor& logits) const;
  at::Tensor StepFromLogits(const at::Tensor& logits) const;
  /// The noise parameterisation's step from the sigmoid of its logits.
  at::Tensor NoiseFromSigmoid(const at::Tensor& s) const;
  /// w + noise scaled by parameter `index`'s per-group `step` (one value per group).
  at::Tensor NoisyWeight(size_t index, const at::Tensor& weight, const at::Tensor& step) const;

  DiffQuantizerOptions options_;
  std::vector<at::Tensor> logits_;
  std::vector<int64_t> group_counts_;  // G of each quantized parameter
  at::Tensor group_elements_;          // float64: elements per group, all parameters in order
  bool optimizer_set_up_ = false;
};

}  // namespace mc::quant

#endif  // MC_QUANT_DIFFQ_H_
