// File: base_quantizer.h
// What every weight quantizer shares (uniform QAT, LSQ, DiffQ): which parameters of a model
// are quantized, the in-place mechanism that lets any torch::nn::Module train with
// quantized or noisy weights without its code knowing, cached true quantization for
// evaluation, model sizes, and the quantized state in the shared compressed-model format.
//
// Which parameters are quantized: a parameter is quantized when it has more than
// floor(min_size * 2^20 / 4) elements (min_size in MB of float32) and matches no `exclude`
// pattern; patterns are fnmatch globs tested against the full dotted name ("layer1.0.conv1.
// weight") and the local name ("weight"). With detect_bound, a parameter registered in
// several modules (tied weights) is quantized, stored and counted once, under its first
// name. Parameters that are not quantized are stored as float16 when `float16` is set, as
// float32 otherwise. Buffers (e.g. BatchNorm statistics) are stored as they are and not
// counted in model sizes.
//
// Training: LibTorch modules have no forward hooks, so a TrainingStep scope writes each
// quantized weight's training value w' = f(w) (noisy, fake-quantized, ...) into the weight
// in place before the forward. After loss.backward(), each weight's .grad holds dL/dw'; the
// scope backpropagates it through the small graph of f to give dL/dw and the gradients of
// the quantizer's own parameters (e.g. DiffQ's bit logits), then restores w on exit, even
// when an exception unwinds the step. Evaluation: quantize() writes the true quantized
// weights once and keeps them until unquantize() or the next TrainingStep, so evaluation
// forwards cost nothing extra.
//
// Example:
//   {
//     mc::quant::TrainingStep step = quantizer.training_step();
//     at::Tensor loss = cross_entropy(model->forward(x), y) + penalty * quantizer.model_size();
//     loss.backward();
//     step.backward();
//   }  // float weights restored
//   optimizer.step();
//   quantizer.quantize();  // evaluate the quantized model
#ifndef MC_QUANT_BASE_QUANTIZER_H_
#define MC_QUANT_BASE_QUANTIZER_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "serialization/compressed_model.pb.h"

namespace torch::nn {
class Module;
}

namespace mc::quant {

/// Which parameters a quantizer takes; see the file comment.
struct ParamSelection {
  double min_size = 0.01;            ///< MB of float32; only larger parameters are quantized
  bool float16 = false;              ///< store the other parameters as float16
  std::vector<std::string> exclude;  ///< fnmatch globs on full and local names
  bool detect_bound = true;          ///< quantize tied parameters once
};

/// A quantized parameter, by its first name.
struct QuantizedParam {
  std::string name;
  at::Tensor param;  ///< the model's parameter itself
};

class BaseQuantizer;

/// RAII scope of one training step; see the file comment. Move-only.
class TrainingStep {
 public:
  TrainingStep(TrainingStep&& other) noexcept;
  TrainingStep& operator=(TrainingStep&&) = delete;
  ~TrainingStep();

  /// Call once after loss.backward(): turns dL/dw' into dL/dw and the gradients of the
  /// quantizer's parameters. Parameters without a gradient are left alone.
  void backward();

 private:
  friend class BaseQuantizer;
  explicit TrainingStep(BaseQuantizer* quantizer);
  void Restore();

  BaseQuantizer* quantizer_;
  std::vector<at::Tensor> originals_;        ///< w, leaves of the small graphs
  std::vector<at::Tensor> training_values_;  ///< w' = f(w)
  bool backward_done_ = false;
};

class BaseQuantizer {
 public:
  virtual ~BaseQuantizer();
  BaseQuantizer(const BaseQuantizer&) = delete;
  BaseQuantizer& operator=(const BaseQuantizer&) = delete;

  /// Starts a training step (undoing quantize() first). Throws c10::Error if the quantizer
  /// has learnable parameters and neither setup_optimizer() nor no_optimizer() was called,
  /// or after detach().
  TrainingStep training_step();

  /// Writes the true quantized weights (float16 parameters rounded to float16) into the
  /// model, once; later calls are free until unquantize() or the next training step.
  void quantize();
  /// Puts the float weights back. Does nothing when the model is not quantized.
  void unquantize();
  bool is_quantized() const { return quantized_; }

  /// Estimate of the model size in MB (2^20 bytes) as a 0-d float tensor, differentiable in
  /// the quantizer's learned parameters where the method has them: the parameters that are
  /// not quantized (16 or 32 bits each) plus the quantized ones by the method's formula.
  /// Default: true_model_size().
  virtual at::Tensor model_size() const;
  /// The exact size by the same formula, with the widths actually stored.
  double true_model_size() const;
  /// Size in MB of the serialized quantized state compressed with zlib at `level`
  /// (-1: zlib's default): the entropy of the levels shows here.
  double compressed_model_size(int level = -1) const;

  /// The quantized model in the shared format: quantized parameters bit-packed, the others
  /// as float16 or float32, buffers as they are.
  serialization::CompressedModel get_quantized_state() const;
  /// Writes a state into the model's parameters and buffers (all or nothing).
  /// \error kInvalidArgument listing every missing, unexpected or mis-shaped tensor, or a
  /// state of another method; kDataLoss for corrupt tensors. The model is then unchanged.
  absl::Status restore_quantized_state(const serialization::CompressedModel& state);

  /// Restores the float weights and releases the model: the quantizer is unusable after.
  void detach();

  const std::vector<QuantizedParam>& quantized_params() const { return params_; }
  /// The quantizer's own learned tensors (e.g. DiffQ's bit logits), for checkpoints.
  virtual std::vector<at::Tensor> learnable_parameters() const { return {}; }
  /// Exact size in bits of each quantized parameter by the method's formula (the terms of
  /// true_model_size()), in the order of quantized_params().
  virtual std::vector<double> quantized_param_bits() const = 0;
  /// Name of the method, recorded in the state ("diffq", "uniform", "lsq").
  const std::string& method() const { return method_; }

 protected:
  /// Selects the parameters of `model`. Throws c10::Error if another quantizer is attached
  /// to the same model (detach() it first).
  BaseQuantizer(std::shared_ptr<torch::nn::Module> model, const ParamSelection& selection,
                std::string method);

  /// Training value w' of quantized parameter `index` as a differentiable function of
  /// `weight` (a leaf holding the float values) and of the quantizer's parameters.
  virtual at::Tensor TrainingWeight(size_t index, const at::Tensor& weight) = 0;
  /// Training values of all quantized parameters at once, `weights[i]` being parameter i's
  /// leaf. Calls TrainingWeight for each; a method whose parameters share work (DiffQ's
  /// widths) overrides it to do that work in one pass.
  virtual std::vector<at::Tensor> TrainingWeights(const std::vector<at::Tensor>& weights);
  /// Encodes the float values `weight` of quantized parameter `index` (name and shape are
  /// filled in by the caller).
  virtual serialization::CompressedTensor EncodeParam(size_t index,
                                                      const at::Tensor& weight) const = 0;
  /// Decodes a stored quantized parameter (its name and shape are already checked).
  virtual absl::StatusOr<at::Tensor> DecodeParam(
      size_t index, const serialization::CompressedTensor& stored) const = 0;
  /// Method options recorded in the state.
  virtual std::map<std::string, std::string> MethodOptions() const = 0;
  /// Whether training needs setup_optimizer()/no_optimizer() first.
  virtual bool has_learnable_parameters() const { return false; }
  /// Called by setup_optimizer()/no_optimizer() of subclasses.
  void mark_optimizer_ready() { optimizer_ready_ = true; }

  /// Size in bits of the parameters that are not quantized: 16 or 32 per value.
  double unquantized_bits() const;
  /// Float values of quantized parameter `index` (the originals while quantized).
  at::Tensor float_weight(size_t index) const;

 private:
  friend class TrainingStep;
  struct Passthrough {
    std::string name;
    at::Tensor tensor;
    bool is_buffer;
  };

  /// EncodeParam with the parameter's name and shape filled in.
  serialization::CompressedTensor EncodeQuantized(size_t index, const at::Tensor& weight) const;

  std::shared_ptr<torch::nn::Module> model_;
  std::string method_;
  ParamSelection selection_;
  std::vector<QuantizedParam> params_;
  std::vector<Passthrough> passthrough_;  ///< other parameters, then buffers
  /// Float values saved by quantize(), for quantized then float16 parameters.
  std::vector<at::Tensor> saved_;
  bool quantized_ = false;
  bool optimizer_ready_ = false;
  bool detached_ = false;
};

}  // namespace mc::quant

#endif  // MC_QUANT_BASE_QUANTIZER_H_
