// File: lsq.h
// Learned step size quantization (LSQ, Esser et al. 2020, "Learned Step Size Quantization")
// of weights, as DiffQ's reference implements it for its LSQ baseline: each quantized tensor
// has one learned scalar step s and symmetric signed levels, w_q = idx * s with
//   idx = round(clamp(w / s, low, high)),  low = -2^(b-1),  high = 2^(b-1) - 1.
// Gradients: round passes the gradient straight through, so dw_q/dw = 1 inside [low, high]
// and 0 outside; dw_q/ds = idx - w/s inside and low or high outside, scaled by
// g = 1 / sqrt(numel * high) (the paper's gradient scale).
//
// Initial step: 2 * mean|w| / sqrt(2^(b-1)), as the reference. (The paper divides by
// sqrt(Q_P) with Q_P = high = 2^(b-1) - 1; the reference's divisor is kept so that results
// compare.) A tensor of zeros thus starts with step 0 and cannot be trained or quantized.
//
// model_size() in MB (2^20 bytes): the unquantized parameters (16 or 32 bits each) plus, for
// each quantized tensor, bits * numel + 32 (the float32 step), the reference's formula.
// The state stores idx + 2^(b-1) as b-bit levels in the step form of UniformEncoding
// (value = (level - 2^(b-1)) * s, one float32 product), so evaluation, the training value and
// a restored file agree bit for bit. The steps themselves are not restored from a state:
// checkpoint steps() (= learnable_parameters()) to resume training.
//
// Example:
//   mc::quant::LSQ quantizer(model, mc::quant::LSQOptions().bits(4));
//   quantizer.setup_optimizer(optimizer);
//   {
//     mc::quant::TrainingStep step = quantizer.training_step();
//     cross_entropy(model->forward(x), y).backward();
//     step.backward();  // gradients of the weights and of the steps
//   }
//   optimizer.step();
#ifndef MC_QUANT_LSQ_H_
#define MC_QUANT_LSQ_H_

#include <torch/arg.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "quant/base_quantizer.h"

namespace torch::optim {
class Optimizer;
}

namespace mc::quant {

struct LSQOptions {
  /// Bits per weight: an integer in [2, 15] (at 1 bit high = 0 and the gradient scale
  /// 1 / sqrt(numel * high) is infinite). Default 8 (reference).
  TORCH_ARG(double, bits) = 8;
  /// Parameters with at most min_size MB of float32 stay unquantized. Default 0.01.
  TORCH_ARG(double, min_size) = 0.01;
  /// Store unquantized parameters as float16. Default false.
  TORCH_ARG(bool, float16) = false;
  /// fnmatch globs of parameters to leave unquantized, on full and local names.
  TORCH_ARG(std::vector<std::string>, exclude) = {};
  /// Quantize tied parameters once. Default true.
  TORCH_ARG(bool, detect_bound) = true;
};

class LSQ : public BaseQuantizer {
 public:
  /// Initialises one step per quantized tensor. Throws c10::Error if bits is not an integer
  /// in [2, 15], min_size is negative, or a quantizer is already attached to `model`.
  LSQ(std::shared_ptr<torch::nn::Module> model, const LSQOptions& options = LSQOptions());

  /// Adds the steps to `optimizer` as a new parameter group with the optimizer's default
  /// options (learning rate and weight decay included), as the reference. Call once; throws
  /// c10::Error on a second call.
  void setup_optimizer(torch::optim::Optimizer& optimizer);
  /// Declares that the steps will not be trained (evaluation, export).
  void no_optimizer();

  /// The learned steps, one float32 0-d tensor per quantized parameter.
  const std::vector<at::Tensor>& steps() const { return steps_; }
  std::vector<at::Tensor> learnable_parameters() const override { return steps_; }
  /// The fixed width, as an integer.
  int64_t bits() const { return bits_; }

  /// bits * numel + 32 per quantized parameter (model_size() is true_model_size(): the size
  /// does not depend on the steps).
  std::vector<double> quantized_param_bits() const override;

  const LSQOptions& options() const { return options_; }

 protected:
  /// Throws c10::Error if the step of parameter `index` is zero or not finite.
  at::Tensor TrainingWeight(size_t index, const at::Tensor& weight) override;
  /// Throws c10::Error if the step of parameter `index` is zero or not finite.
  serialization::CompressedTensor EncodeParam(size_t index,
                                              const at::Tensor& weight) const override;
  /// \error kInvalidArgument if the tensor is not in the step form at this width.
  absl::StatusOr<at::Tensor> DecodeParam(
      size_t index, const serialization::CompressedTensor& stored) const override;
  std::map<std::string, std::string> MethodOptions() const override;
  bool has_learnable_parameters() const override { return true; }

 private:
  /// Step of parameter `index`, detached, after checking that it is usable.
  at::Tensor CheckedStep(size_t index) const;

  LSQOptions options_;
  int64_t bits_;
  std::vector<at::Tensor> steps_;
  bool optimizer_set_up_ = false;
};

}  // namespace mc::quant

#endif  // MC_QUANT_LSQ_H_
