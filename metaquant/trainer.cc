#include "metaquant/trainer.h"

#include <cmath>
#include <map>

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/nn/module.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include "absl/strings/str_cat.h"
#include "nn_models/layers.h"
#include "quant/uniform_codec.h"
#include "serialization/module_encoding.h"
#include "serialization/nested_archive.h"

namespace mc::metaquant {

/// A quantized layer: its weight (and bias), what the next meta step reads, and the
/// directions of the last update.
struct MetaQuantTrainer::Layer {
  std::string name;
  at::Tensor weight;
  at::Tensor bias;              ///< undefined for layers without one
  at::Tensor quantized_grad;    ///< dL/dŴ of the previous step
  at::Tensor pre_quantized;     ///< W~ of the previous step
  at::Tensor weight_direction;  ///< the last update of W divided by the learning rate
  at::Tensor bias_direction;
};

/// What Step wrote into the layers for its quantized forward, per layer.
struct MetaQuantTrainer::WrittenWeights {
  explicit WrittenWeights(size_t layers)
      : graphs(layers), leaves(layers), weights(layers), biases(layers) {}

  std::vector<at::Tensor> graphs;   ///< Ŵ, differentiable in the look-ahead weight
  std::vector<at::Tensor> leaves;   ///< copies of W that take the STE gradient
  std::vector<at::Tensor> weights;  ///< the float W, to put back after the forward
  std::vector<at::Tensor> biases;   ///< the float b where the forward moved it
};

namespace {

std::unique_ptr<torch::optim::Optimizer> MakeBaseOptimizer(const MetaQuantOptions& options,
                                                           const std::vector<at::Tensor>& params) {
  switch (options.optimizer()) {
    case BaseOptimizer::kSgd:
      return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(options.lr()));
    case BaseOptimizer::kSgdMomentum:
      return std::make_unique<torch::optim::SGD>(
          params, torch::optim::SGDOptions(options.lr()).momentum(0.9).weight_decay(5e-4));
    case BaseOptimizer::kAdam:
      return std::make_unique<torch::optim::Adam>(
          params, torch::optim::AdamOptions(options.lr()).weight_decay(5e-4));
  }
  TORCH_CHECK(false, "unknown base optimizer");
}

// The options of the parameter group of `optimizer` that holds `param`.
const torch::optim::OptimizerOptions& GroupOptions(const torch::optim::Optimizer& optimizer,
                                                   const at::Tensor& param) {
  for (const auto& group : optimizer.param_groups()) {
    for (const at::Tensor& p : group.params()) {
      if (p.is_same(param)) return group.options();
    }
  }
  TORCH_CHECK(false, "the parameter is not one of the optimizer's");
}

// grad + weight_decay * param, the gradient both optimizers step with.
at::Tensor WithWeightDecay(const at::Tensor& grad, const at::Tensor& param, double weight_decay) {
  return weight_decay != 0 ? grad + weight_decay * param.detach() : grad;
}

// The optimizer's state of `param`, or null before its first step.
template <typename State>
const State* ParamState(const torch::optim::Optimizer& optimizer, const at::Tensor& param) {
  const auto found = optimizer.state().find(c10::guts::to_string(param.unsafeGetTensorImpl()));
  return found == optimizer.state().end() ? nullptr : static_cast<const State*>(found->second.get());
}

}  // namespace

at::Tensor PreviewStepDirection(const torch::optim::Optimizer& optimizer, const at::Tensor& param,
                                const at::Tensor& grad) {
  if (dynamic_cast<const torch::optim::SGD*>(&optimizer) != nullptr) {
    const auto& options = static_cast<const torch::optim::SGDOptions&>(GroupOptions(optimizer, param));
    const at::Tensor d = WithWeightDecay(grad, param, options.weight_decay());
    if (options.momentum() == 0) return d;
    const auto* state = ParamState<torch::optim::SGDParamState>(optimizer, param);
    const at::Tensor buffer =
        state == nullptr ? d : state->momentum_buffer() * options.momentum() + (1 - options.dampening()) * d;
    return options.nesterov() ? d + options.momentum() * buffer : buffer;
  }
  if (dynamic_cast<const torch::optim::Adam*>(&optimizer) != nullptr) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(GroupOptions(optimizer, param));
    TORCH_CHECK(!options.amsgrad(), "PreviewStepDirection: AMSGrad is not supported");
    const auto [beta1, beta2] = options.betas();
    const at::Tensor g = WithWeightDecay(grad, param, options.weight_decay());
    const auto* state = ParamState<torch::optim::AdamParamState>(optimizer, param);
    const int64_t step = (state == nullptr ? 0 : state->step()) + 1;
    at::Tensor exp_avg = (1 - beta1) * g;
    at::Tensor exp_avg_sq = (1 - beta2) * g * g;
    if (state != nullptr) {
      exp_avg = exp_avg + beta1 * state->exp_avg();
      exp_avg_sq = exp_avg_sq + beta2 * state->exp_avg_sq();
    }
    const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
    const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
    return exp_avg / ((exp_avg_sq.sqrt() / std::sqrt(bias_correction2) + options.eps()) * bias_correction1);
  }
  TORCH_CHECK(false, "PreviewStepDirection: only torch::optim::SGD and Adam are supported");
}

absl::StatusOr<BaseOptimizer> ParseBaseOptimizer(absl::string_view name) {
  if (name == "sgd") return BaseOptimizer::kSgd;
  if (name == "sgdm") return BaseOptimizer::kSgdMomentum;
  if (name == "adam") return BaseOptimizer::kAdam;
  return absl::InvalidArgumentError(
      absl::StrCat("optimizer \"", name, "\" is not one of sgd, sgdm, adam"));
}

std::vector<std::string> QuantizedWeightNames(const torch::nn::Module& model) {
  std::vector<std::string> names;
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    if (!nn_models::IsConvolutionOrLinear(*item.value())) continue;
    names.push_back(item.key().empty() ? "weight" : item.key() + ".weight");
  }
  return names;
}

MetaQuantTrainer::MetaQuantTrainer(std::shared_ptr<nn_models::Classifier> model,
                                   const MetaQuantOptions& options)
    : model_(std::move(model)), options_(options), names_(QuantizedWeightNames(*model_)) {
  (void)metaquant::Quantize(options.forward(), options.bits(), at::zeros({1}));  // checks the width
  TORCH_CHECK(options.lr() > 0, "MetaQuant: lr must be > 0, got ", options.lr());
  TORCH_CHECK(!names_.empty(), "MetaQuant: the model has no convolution or linear layer");
  auto parameters = model_->named_parameters();
  for (const std::string& name : names_) {
    Layer layer;
    layer.name = name;
    layer.weight = parameters[name];
    const std::string bias = name.substr(0, name.size() - std::string("weight").size()) + "bias";
    if (parameters.contains(bias)) layer.bias = parameters[bias];
    layers_.push_back(std::move(layer));
  }
  base_optimizer_ = MakeBaseOptimizer(options, model_->parameters());
  if (options.meta()) {
    meta_ = CreateMetaNet(*options.meta(), options.meta_net());
    meta_optimizer_ = std::make_unique<torch::optim::Adam>(
        meta_->parameters(),
        torch::optim::AdamOptions(options.meta_lr()).weight_decay(options.meta_weight_decay()));
  }
}

MetaQuantTrainer::~MetaQuantTrainer() = default;

double MetaQuantTrainer::CurrentLr() const {
  return base_optimizer_->param_groups().front().options().get_lr();
}

MetaQuantTrainer::StepOutput MetaQuantTrainer::Step(const at::Tensor& images,
                                                    const at::Tensor& labels,
                                                    const distributed::GradientSync& sync_gradients) {
  Unquantize();
  model_->train();
  const double lr = CurrentLr();
  const bool meta_step = meta_ != nullptr && has_history_;
  if (meta_optimizer_) meta_optimizer_->zero_grad();
  const std::vector<at::Tensor> meta_grads =
      meta_step ? MetaGradients() : std::vector<at::Tensor>();
  const WrittenWeights written = WriteQuantizedWeights(meta_grads, meta_step, lr);

  model_->zero_grad();
  StepOutput output;
  at::Tensor loss;
  {
    // Put the float weights back however the forward ends.
    struct Restore {
      MetaQuantTrainer* trainer;
      const WrittenWeights& weights;
      ~Restore() { trainer->RestoreFloatWeights(weights); }
    } restore{this, written};
    output.logits = model_->forward(images);
    loss = at::cross_entropy_loss(output.logits, labels);
    loss.backward();
    distributed::SyncGradients(sync_gradients, model_->parameters());
    BackwardThroughQuantizers(written, meta_step);
  }

  if (meta_ != nullptr && !meta_step) {
    RecordFirstDirections();
  } else {
    UpdateWeights(meta_grads, meta_step, lr);
  }
  has_history_ = true;
  output.loss = loss.detach();
  output.logits = output.logits.detach();
  return output;
}

// Meta gradients c * M of every layer, from the previous step's (dL/dŴ, W~).
std::vector<at::Tensor> MetaQuantTrainer::MetaGradients() {
  std::vector<at::Tensor> meta_grads(layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& layer = layers_[i];
    meta_grads[i] = Calibration(options_.forward(), layer.weight) *
                    meta_->Forward(layer.name, layer.quantized_grad, layer.pre_quantized);
  }
  return meta_grads;
}

// Quantized (look-ahead) weights, written into the layers in place for the forward; the
// released look-ahead also moves the biases. Records W~ for the next meta step.
MetaQuantTrainer::WrittenWeights MetaQuantTrainer::WriteQuantizedWeights(
    const std::vector<at::Tensor>& meta_grads, bool meta_step, double lr) {
  WrittenWeights written(layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& layer = layers_[i];
    at::Tensor look_ahead;
    if (!meta_step) {
      // STE, or MetaQuant's first step: the straight-through gradient of W.
      written.leaves[i] = layer.weight.detach().clone().requires_grad_(true);
      look_ahead = written.leaves[i];
    } else {
      look_ahead = MetaLookAheadWeight(layer, meta_grads[i], lr);
    }
    const QuantizedWeight q = metaquant::Quantize(options_.forward(), options_.bits(), look_ahead);
    written.graphs[i] = q.quantized;
    layer.pre_quantized = q.pre_quantized.detach();
    torch::NoGradGuard no_grad;
    written.weights[i] = layer.weight.detach().clone();
    layer.weight.detach().copy_(q.quantized.detach());
    if (meta_step && options_.look_ahead() == LookAhead::kReleased && layer.bias.defined()) {
      written.biases[i] = layer.bias.detach().clone();
      layer.bias.detach().sub_(lr * layer.bias_direction);
    }
  }
  return written;
}

// W_meta = W - lr * (c * M + (d - c * M).detach()) (trainer.h): its value is W - lr * d and
// its gradient reaches the meta network through -lr * c * M.
at::Tensor MetaQuantTrainer::MetaLookAheadWeight(const Layer& layer, const at::Tensor& meta_grad,
                                                 double lr) const {
  const at::Tensor direction =
      options_.look_ahead() == LookAhead::kPaper
          ? PreviewStepDirection(*base_optimizer_, layer.weight, meta_grad.detach())
          : layer.weight_direction;
  return layer.weight.detach() - lr * (meta_grad + (direction - meta_grad).detach());
}

// Puts back the float weights and biases that WriteQuantizedWeights wrote over.
void MetaQuantTrainer::RestoreFloatWeights(const WrittenWeights& written) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < written.weights.size(); ++i) {
    if (written.weights[i].defined()) layers_[i].weight.detach().copy_(written.weights[i]);
    if (written.biases[i].defined()) layers_[i].bias.detach().copy_(written.biases[i]);
  }
}

// Keeps dL/dŴ of every layer for the next meta step and takes it back through the
// quantizers: to W for STE, to the meta network for MetaQuant.
void MetaQuantTrainer::BackwardThroughQuantizers(const WrittenWeights& written, bool meta_step) {
  std::vector<at::Tensor> quantized_grads;
  for (Layer& layer : layers_) {
    layer.quantized_grad = layer.weight.grad().detach().clone();
    quantized_grads.push_back(layer.quantized_grad);
    layer.weight.mutable_grad() = at::Tensor();
  }
  torch::autograd::backward(written.graphs, quantized_grads);
  if (!meta_step) {
    for (size_t i = 0; i < layers_.size(); ++i) {
      layers_[i].weight.mutable_grad() = written.leaves[i].grad();
    }
  }
}

// MetaQuant's first step updates nothing: the STE gradient is the first direction.
void MetaQuantTrainer::RecordFirstDirections() {
  for (Layer& layer : layers_) {
    layer.weight_direction = layer.weight.grad().detach().clone();
    if (layer.bias.defined()) layer.bias_direction = layer.bias.grad().detach().clone();
  }
  model_->zero_grad();
}

// The meta network's step, then the base optimizer's step with the gradients c * M (STE: the
// straight-through ones); MetaQuant records the directions of the update.
void MetaQuantTrainer::UpdateWeights(const std::vector<at::Tensor>& meta_grads, bool meta_step,
                                     double lr) {
  if (meta_step) {
    meta_optimizer_->step();
    for (size_t i = 0; i < layers_.size(); ++i) {
      layers_[i].weight.mutable_grad() = meta_grads[i].detach();
    }
  }
  std::vector<at::Tensor> before;
  for (const Layer& layer : layers_) {
    if (meta_ == nullptr) break;
    before.push_back(layer.weight.detach().clone());
    if (layer.bias.defined()) before.push_back(layer.bias.detach().clone());
  }
  base_optimizer_->step();
  // The refined direction of this update, which the next look-ahead applies again.
  size_t k = 0;
  for (Layer& layer : layers_) {
    if (meta_ == nullptr) break;
    layer.weight_direction = (before[k++] - layer.weight.detach()) / lr;
    if (layer.bias.defined()) layer.bias_direction = (before[k++] - layer.bias.detach()) / lr;
  }
}

void MetaQuantTrainer::Quantize() {
  if (!saved_weights_.empty()) return;
  torch::NoGradGuard no_grad;
  for (Layer& layer : layers_) {
    saved_weights_.push_back(layer.weight.detach().clone());
    layer.weight.detach().copy_(
        metaquant::Quantize(options_.forward(), options_.bits(), layer.weight.detach()).quantized);
  }
}

void MetaQuantTrainer::Unquantize() {
  if (saved_weights_.empty()) return;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < layers_.size(); ++i) layers_[i].weight.detach().copy_(saved_weights_[i]);
  saved_weights_.clear();
}

serialization::CompressedModel MetaQuantTrainer::GetQuantizedState() const {
  serialization::CompressedModel state;
  state.set_method("metaquant");
  (*state.mutable_method_options())["forward"] = ForwardQuantizerName(options_.forward());
  (*state.mutable_method_options())["bits"] = absl::StrCat(options_.bits());
  std::map<std::string, serialization::CompressedTensor> encoded;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const at::Tensor weight = saved_weights_.empty() ? layers_[i].weight.detach() : saved_weights_[i];
    const QuantizedLevels levels = Levels(options_.forward(), options_.bits(), weight);
    serialization::CompressedTensor& tensor = encoded[layers_[i].name];
    tensor.set_name(layers_[i].name);
    for (const int64_t d : weight.sizes()) tensor.add_shape(d);
    *tensor.mutable_uniform() = quant::EncodeUniform(
        {levels.levels, at::full({1}, levels.min), at::full({1}, levels.max)},
        at::full({}, options_.bits(), at::kLong), {});
  }
  serialization::AppendModuleTensors(*model_, std::move(encoded), state);
  return state;
}

void MetaQuantTrainer::Save(torch::serialize::OutputArchive& archive) const {
  serialization::WriteNested(archive, "base_optimizer", *base_optimizer_);
  archive.write("has_history", c10::IValue(has_history_));
  if (meta_) {
    serialization::WriteNested(archive, "meta_net", *meta_);
    serialization::WriteNested(archive, "meta_optimizer", *meta_optimizer_);
    serialization::WriteNested(archive, "meta_state", [this](torch::serialize::OutputArchive& nested) {
      meta_->SaveState(nested);
    });
  }
  if (!meta_ || !has_history_) return;  // the STE baseline keeps no history
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& layer = layers_[i];
    archive.write(absl::StrCat("quantized_grad_", i), layer.quantized_grad);
    archive.write(absl::StrCat("pre_quantized_", i), layer.pre_quantized);
    archive.write(absl::StrCat("weight_direction_", i), layer.weight_direction);
    if (layer.bias.defined()) archive.write(absl::StrCat("bias_direction_", i), layer.bias_direction);
  }
}

void MetaQuantTrainer::Load(torch::serialize::InputArchive& archive) {
  Unquantize();
  serialization::ReadNested(archive, "base_optimizer", *base_optimizer_);
  c10::IValue history;
  archive.read("has_history", history);
  has_history_ = history.toBool();
  if (meta_) {
    serialization::ReadNested(archive, "meta_net", *meta_);
    serialization::ReadNested(archive, "meta_state", [this](torch::serialize::InputArchive& nested) {
      meta_->LoadState(nested);
    });
    serialization::ReadNested(archive, "meta_optimizer", *meta_optimizer_);
  }
  if (!meta_ || !has_history_) return;  // the STE baseline keeps no history
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& layer = layers_[i];
    archive.read(absl::StrCat("quantized_grad_", i), layer.quantized_grad);
    archive.read(absl::StrCat("pre_quantized_", i), layer.pre_quantized);
    archive.read(absl::StrCat("weight_direction_", i), layer.weight_direction);
    if (layer.bias.defined()) archive.read(absl::StrCat("bias_direction_", i), layer.bias_direction);
  }
}

}  // namespace mc::metaquant
