// File: trainer.h
// MetaQuant training (Chen et al. 2019) and its straight-through (STE) baseline, for any
// classifier: the weights of every convolution and linear layer are quantized in the forward
// (metaquant/forward_quantizers.h); biases and BatchNorm stay full precision.
//
// MetaQuant, one step:
//   1. The shared meta network (metaquant/meta_nets.h) maps each layer's previous (dL/dŴ, W~)
//      to M; with the calibration c = dW~/dW of the current weights, c * M is the layer's
//      meta gradient.
//   2. Look-ahead forward at W_meta = W - lr * (c * M + (d - c * M).detach()): its value is
//      W - lr * d and its gradient reaches the meta network through -lr * c * M.
//      - LookAhead::kPaper (default; the paper's equation 6): d = π(c * M), the step the base
//        optimizer would take with the gradient c * M (PreviewStepDirection); for plain SGD
//        d = c * M and W_meta is W - lr * c * M itself.
//      - LookAhead::kReleased (the released code): d is the step the optimizer last applied,
//        so the forward applies the previous step a second time and its value does not
//        depend on M; biases of quantized layers also look ahead by value (b - lr * d_b).
//        The meta network then sees no cost in overshooting, and its step size can grow
//        until training diverges (metaquant/README.md).
//   3. Cross-entropy at Q(A(W_meta)); the meta network takes an Adam step on it.
//   4. The base weights take the optimizer's step with the gradient c * M (BatchNorm and
//      biases with their ordinary gradients at the look-ahead point).
// The very first step is a plain quantized forward and backward that only records
// (dL/dŴ, W~) and the STE gradient as the first direction; nothing is updated.
// STE baseline: the same quantizers and optimizer; W takes the straight-through gradient.
//
// Example:
//   MetaQuantTrainer trainer(model, MetaQuantOptions().forward(ForwardQuantizer::kDorefa)
//                                       .meta(MetaNetType::kMultiFC).lr(1e-3));
//   for (each batch) trainer.Step(images, labels);
//   trainer.Quantize();  // evaluate the quantized model; the next Step undoes it
//   serialization::CompressedModel model = trainer.GetQuantizedState();
#ifndef MC_METAQUANT_TRAINER_H_
#define MC_METAQUANT_TRAINER_H_

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "distributed/gradient_sync.h"
#include "metaquant/forward_quantizers.h"
#include "metaquant/meta_nets.h"
#include "nn_models/classifier.h"
#include "serialization/compressed_model.pb.h"

namespace torch::optim {
class Optimizer;
}
namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

namespace mc::metaquant {

enum class BaseOptimizer {
  kSgd,          ///< plain SGD: no momentum, no weight decay
  kSgdMomentum,  ///< momentum 0.9, weight decay 5e-4
  kAdam,         ///< Adam (0.9, 0.999), weight decay 5e-4
};

/// "sgd", "sgdm" or "adam". \error kInvalidArgument naming the accepted names.
absl::StatusOr<BaseOptimizer> ParseBaseOptimizer(absl::string_view name);

enum class LookAhead {
  kPaper,     ///< W - lr * π(c * M): the paper's equation 6 (see the file comment)
  kReleased,  ///< the released code's loop, which re-applies the previous step
};

struct MetaQuantOptions {
  TORCH_ARG(ForwardQuantizer, forward) = ForwardQuantizer::kDorefa;
  /// Bits of dorefa, in [1, 16]; BWN is 1 bit. Default 1 (the paper's experiments).
  TORCH_ARG(int64_t, bits) = 1;
  /// The meta network; none trains the STE baseline. Default MultiFC.
  TORCH_ARG(std::optional<MetaNetType>, meta) = MetaNetType::kMultiFC;
  /// The meta network's hidden size, MultiFC's depth and whether its layers have biases
  /// (MetaNetOptions in metaquant/meta_nets.h).
  TORCH_ARG(MetaNetOptions, meta_net);
  /// Base learning rate. Default 1e-3 (reference).
  TORCH_ARG(double, lr) = 1e-3;
  TORCH_ARG(BaseOptimizer, optimizer) = BaseOptimizer::kSgd;
  /// Adam learning rate and weight decay of the meta network. Default 1e-3, 0 (reference).
  TORCH_ARG(double, meta_lr) = 1e-3;
  TORCH_ARG(double, meta_weight_decay) = 0;
  TORCH_ARG(LookAhead, look_ahead) = LookAhead::kPaper;
};

/// The direction d of the step `optimizer` (torch::optim::SGD or Adam) would take on `param`
/// if `grad` were its gradient (the step is param -= lr * d), weight decay and momentum or
/// moment estimates included; the optimizer's state is left as it is.
at::Tensor PreviewStepDirection(const torch::optim::Optimizer& optimizer, const at::Tensor& param,
                                const at::Tensor& grad);

/// Names of the weights MetaQuant quantizes: every Conv1d/2d/3d and Linear weight of `model`.
std::vector<std::string> QuantizedWeightNames(const torch::nn::Module& model);

class MetaQuantTrainer {
 public:
  /// Throws c10::Error on invalid options (bits, lr) or a model without convolution or linear
  /// layers.
  MetaQuantTrainer(std::shared_ptr<nn_models::Classifier> model, const MetaQuantOptions& options);
  ~MetaQuantTrainer();

  struct StepOutput {
    at::Tensor loss;    ///< 0-d float
    at::Tensor logits;  ///< (B, classes), of the quantized look-ahead forward
  };
  /// One training step on images (B, C, H, W) and labels (B), updates included. A data-
  /// parallel caller passes `sync_gradients`: it averages dL/dŴ and the ordinary gradients of
  /// the model right after the backward pass, so the meta network's input, its gradient and
  /// every update are those of the global batch on every rank.
  StepOutput Step(const at::Tensor& images, const at::Tensor& labels,
                  const distributed::GradientSync& sync_gradients = {});

  /// Writes the quantized weights Q(A(W)) into the model for evaluation (kept until
  /// Unquantize() or the next Step); Unquantize() puts W back.
  void Quantize();
  void Unquantize();

  /// The quantized model: quantized weights as uniform levels (dorefa: 2^bits levels on
  /// [-1, 1]; BWN: 1 bit on [-α, α]), the other parameters and the buffers as float32
  /// (int64 for integer buffers).
  serialization::CompressedModel GetQuantizedState() const;

  /// The base optimizer (its learning rate is the one used in the look-ahead) and the meta
  /// network's optimizer (null for the STE baseline).
  torch::optim::Optimizer& base_optimizer() { return *base_optimizer_; }
  torch::optim::Optimizer* meta_optimizer() { return meta_optimizer_.get(); }
  MetaNet* meta_net() { return meta_.get(); }
  const std::vector<std::string>& quantized_weights() const { return names_; }
  const MetaQuantOptions& options() const { return options_; }

  /// Everything a resumed run needs besides the model: optimizers, meta network (with
  /// LSTMFC's hidden states), the previous step's (dL/dŴ, W~) and directions.
  void Save(torch::serialize::OutputArchive& archive) const;
  void Load(torch::serialize::InputArchive& archive);

 private:
  struct Layer;
  struct WrittenWeights;
  double CurrentLr() const;
  // The stages of Step, in order (trainer.cc).
  std::vector<at::Tensor> MetaGradients();
  WrittenWeights WriteQuantizedWeights(const std::vector<at::Tensor>& meta_grads, bool meta_step,
                                       double lr);
  at::Tensor MetaLookAheadWeight(const Layer& layer, const at::Tensor& meta_grad, double lr) const;
  void RestoreFloatWeights(const WrittenWeights& written);
  void BackwardThroughQuantizers(const WrittenWeights& written, bool meta_step);
  void RecordFirstDirections();
  void UpdateWeights(const std::vector<at::Tensor>& meta_grads, bool meta_step, double lr);

  std::shared_ptr<nn_models::Classifier> model_;
  MetaQuantOptions options_;
  std::vector<std::string> names_;
  std::vector<Layer> layers_;
  std::shared_ptr<MetaNet> meta_;
  std::unique_ptr<torch::optim::Optimizer> base_optimizer_;
  std::unique_ptr<torch::optim::Optimizer> meta_optimizer_;
  bool has_history_ = false;
  std::vector<at::Tensor> saved_weights_;  ///< W while Quantize() is in effect
};

}  // namespace mc::metaquant

#endif  // MC_METAQUANT_TRAINER_H_
