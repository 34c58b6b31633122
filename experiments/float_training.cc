#include "experiments/float_training.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include "common/status_macros.h"
#include "common/units.h"
#include "nn_models/state_dict.h"
#include "serialization/module_encoding.h"
#include "serialization/nested_archive.h"
#include "serialization/tensor_codec.h"

namespace mc::experiments {

using serialization::TrainingConfig;

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const TrainingConfig& training,
                                                       const std::vector<at::Tensor>& parameters) {
  if (training.optimizer() == TrainingConfig::ADAM) {
    return std::make_unique<torch::optim::Adam>(
        parameters,
        torch::optim::AdamOptions(training.lr()).weight_decay(training.weight_decay()));
  }
  return std::make_unique<torch::optim::SGD>(parameters,
                                             torch::optim::SGDOptions(training.lr())
                                                 .momentum(training.momentum())
                                                 .nesterov(training.nesterov())
                                                 .weight_decay(training.weight_decay()));
}

std::vector<at::Tensor> OptimizedParameters(const std::vector<torch::optim::Optimizer*>& optimizers) {
  std::vector<at::Tensor> parameters;
  for (const torch::optim::Optimizer* optimizer : optimizers) {
    for (const torch::optim::OptimizerParamGroup& group : optimizer->param_groups()) {
      parameters.insert(parameters.end(), group.params().begin(), group.params().end());
    }
  }
  return parameters;
}

void ClipGradients(const std::vector<at::Tensor>& parameters, double max_norm) {
  if (max_norm > 0) torch::nn::utils::clip_grad_norm_(parameters, max_norm);
}

std::vector<at::Tensor> ParametersAndBuffers(const torch::nn::Module& module) {
  std::vector<at::Tensor> tensors = module.parameters();
  const std::vector<at::Tensor> buffers = module.buffers();
  tensors.insert(tensors.end(), buffers.begin(), buffers.end());
  return tensors;
}

CompressedResult EncodeFloatModel(const torch::nn::Module& module) {
  CompressedResult result;
  int64_t parameter_values = 0;
  serialization::AppendModuleTensors(module, /*encoded=*/{}, result.model);
  for (const auto& item : module.named_parameters()) {
    const int64_t numel = item.value().numel();
    parameter_values += numel;
    serialization::LayerSummary layer;
    layer.set_name(item.key());
    layer.set_numel(numel);
    layer.set_encoding("passthrough_float32");
    layer.set_bits(32);
    layer.set_bytes(4.0 * numel);
    result.layers.push_back(layer);
  }
  result.model_size_mb = 4.0 * static_cast<double>(parameter_values) / kBytesPerMb;
  return result;
}

absl::Status RestoreFloatModel(const serialization::CompressedModel& stored,
                               torch::nn::Module& module) {
  serialization::StateDict state;
  for (const serialization::CompressedTensor& tensor : stored.tensors()) {
    MC_ASSIGN_OR_RETURN(at::Tensor value, serialization::DecodePassthrough(tensor));
    state.emplace_back(tensor.name(), std::move(value));
  }
  return nn_models::LoadStateDict(module, state);
}

FloatTraining::FloatTraining(std::shared_ptr<nn_models::Classifier> model,
                             const TrainingConfig& training)
    : model_(std::move(model)),
      optimizer_(MakeOptimizer(training, model_->parameters())),
      grad_clip_norm_(training.grad_clip_norm()) {}

FloatTraining::~FloatTraining() = default;

StepResult FloatTraining::TrainStep(const at::Tensor& images, const at::Tensor& labels) {
  model_->train();
  optimizer_->zero_grad();
  at::Tensor logits = model_->forward(images);
  at::Tensor loss = torch::nn::functional::cross_entropy(logits, labels);
  loss.backward();
  const std::vector<at::Tensor> parameters = OptimizedParameters({optimizer_.get()});
  distributed::SyncGradients(gradient_sync(), parameters);
  ClipGradients(parameters, grad_clip_norm_);
  optimizer_->step();
  return {loss.detach(), logits.detach()};
}

at::Tensor FloatTraining::EvalLogits(const at::Tensor& images) {
  model_->eval();
  return model_->forward(images);
}

std::vector<torch::optim::Optimizer*> FloatTraining::ScheduledOptimizers() {
  return {optimizer_.get()};
}

void FloatTraining::Save(torch::serialize::OutputArchive& archive) {
  serialization::WriteNested(archive, "model", *model_);
  serialization::WriteNested(archive, "optimizer", *optimizer_);
}

void FloatTraining::Load(torch::serialize::InputArchive& archive) {
  serialization::ReadNested(archive, "model", *model_);
  serialization::ReadNested(archive, "optimizer", *optimizer_);
}

absl::StatusOr<CompressedResult> FloatTraining::Compress() { return EncodeFloatModel(*model_); }

void FloatTraining::FillSummary(serialization::ExperimentSummary& summary) {
  // The written model is the float model itself.
  summary.set_float_test_accuracy(summary.test_accuracy());
}

std::vector<at::Tensor> FloatTraining::ReplicatedTensors() { return ParametersAndBuffers(*model_); }

absl::Status FloatTraining::Restore(const serialization::CompressedModel& stored,
                                    nn_models::Classifier& fresh_model) {
  return RestoreFloatModel(stored, fresh_model);
}

}  // namespace mc::experiments
