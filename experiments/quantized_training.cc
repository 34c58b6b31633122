#include "experiments/quantized_training.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "experiments/float_training.h"
#include "quant/uniform.h"
#include "quant/uniform_codec.h"
#include "serialization/nested_archive.h"
#include "serialization/tensor_codec.h"

namespace mc::experiments {

BitsStatistics StoredBitsStatistics(const serialization::CompressedTensor& tensor) {
  BitsStatistics statistics;
  if (!tensor.has_uniform()) return statistics;
  absl::StatusOr<at::Tensor> widths = quant::DecodeUniformWidths(tensor);
  absl::StatusOr<int64_t> numel = serialization::NumElements(tensor);
  if (!widths.ok() || !numel.ok()) return statistics;
  const at::Tensor element_bits = quant::ElementBits(*widths, *numel, tensor.uniform().group_size());
  const at::Tensor counts = at::bincount(element_bits);
  for (int64_t width = 1; width < counts.numel(); ++width) {
    const int64_t count = counts[width].item<int64_t>();
    if (count > 0) statistics.histogram[static_cast<int32_t>(width)] = count;
  }
  statistics.weights = *numel;
  statistics.mean_bits = element_bits.sum().item<double>() / *numel;
  return statistics;
}

std::vector<serialization::LayerSummary> ParameterLayerSummaries(
    const torch::nn::Module& model, const serialization::CompressedModel& state,
    const std::function<double(const serialization::CompressedTensor&)>& uniform_bytes) {
  std::set<std::string> parameter_names;
  for (const auto& item : model.named_parameters()) parameter_names.insert(item.key());
  std::vector<serialization::LayerSummary> layers;
  for (const serialization::CompressedTensor& tensor : state.tensors()) {
    if (parameter_names.count(tensor.name()) == 0) continue;  // buffers are not counted
    serialization::LayerSummary layer;
    layer.set_name(tensor.name());
    const int64_t numel = serialization::NumElements(tensor).value_or(0);
    layer.set_numel(numel);
    if (tensor.has_uniform()) {
      layer.set_encoding("uniform");
      layer.set_bits(StoredBitsStatistics(tensor).mean_bits);
      layer.set_bytes(uniform_bytes(tensor));
    } else {
      const bool half = tensor.passthrough().dtype() == serialization::FLOAT16;
      layer.set_encoding(half ? "passthrough_float16" : "passthrough_float32");
      layer.set_bits(half ? 16 : 32);
      layer.set_bytes((half ? 2.0 : 4.0) * numel);
    }
    layers.push_back(layer);
  }
  return layers;
}

BitsStatistics StoredBitsStatistics(const serialization::CompressedModel& state) {
  BitsStatistics total;
  double bits = 0;
  for (const serialization::CompressedTensor& tensor : state.tensors()) {
    const BitsStatistics one = StoredBitsStatistics(tensor);
    for (const auto& [width, count] : one.histogram) total.histogram[width] += count;
    bits += one.mean_bits * one.weights;
    total.weights += one.weights;
  }
  total.mean_bits = total.weights > 0 ? bits / total.weights : 0;
  return total;
}

QuantizedTraining::QuantizedTraining(std::string name, std::shared_ptr<nn_models::Classifier> model,
                                     const serialization::TrainingConfig& training, double penalty,
                                     QuantizerBuilder builder, TrainingLoss training_loss)
    : name_(std::move(name)),
      model_(std::move(model)),
      penalty_(penalty),
      builder_(std::move(builder)),
      training_loss_(std::move(training_loss)),
      optimizer_(MakeOptimizer(training, model_->parameters())),
      setup_(builder_(model_, optimizer_.get())),
      grad_clip_norm_(training.grad_clip_norm()) {}

QuantizedTraining::~QuantizedTraining() = default;

StepResult QuantizedTraining::TrainStep(const at::Tensor& images, const at::Tensor& labels) {
  model_->train();
  optimizer_->zero_grad();
  if (setup_.quantizer_optimizer) setup_.quantizer_optimizer->zero_grad();
  at::Tensor logits;
  at::Tensor loss;
  {
    quant::TrainingStep step = setup_.quantizer->training_step();
    logits = model_->forward(images);
    loss = training_loss_ ? training_loss_(logits, images, labels)
                          : torch::nn::functional::cross_entropy(logits, labels);
    at::Tensor objective = loss;
    if (penalty_ > 0) objective = loss + penalty_ * setup_.quantizer->model_size();
    objective.backward();
    step.backward();
  }
  std::vector<torch::optim::Optimizer*> optimizers = {optimizer_.get()};
  if (setup_.quantizer_optimizer) optimizers.push_back(setup_.quantizer_optimizer.get());
  distributed::SyncGradients(gradient_sync(), OptimizedParameters(optimizers));
  ClipGradients(OptimizedParameters({optimizer_.get()}), grad_clip_norm_);
  optimizer_->step();
  if (setup_.quantizer_optimizer) setup_.quantizer_optimizer->step();
  return {loss.detach(), logits.detach()};
}

at::Tensor QuantizedTraining::EvalLogits(const at::Tensor& images) {
  model_->eval();
  setup_.quantizer->quantize();  // once; kept until the next training step
  return model_->forward(images);
}

std::vector<torch::optim::Optimizer*> QuantizedTraining::ScheduledOptimizers() {
  return {optimizer_.get()};
}

void QuantizedTraining::Save(torch::serialize::OutputArchive& archive) {
  setup_.quantizer->unquantize();
  serialization::WriteNested(archive, "model", *model_);
  serialization::WriteNested(archive, "optimizer", *optimizer_);
  if (setup_.quantizer_optimizer) {
    serialization::WriteNested(archive, "quantizer_optimizer", *setup_.quantizer_optimizer);
  }
  const std::vector<at::Tensor> learned = setup_.quantizer->learnable_parameters();
  for (size_t i = 0; i < learned.size(); ++i) {
    archive.write(absl::StrCat("quantizer_", i), learned[i].detach());
  }
}

void QuantizedTraining::Load(torch::serialize::InputArchive& archive) {
  setup_.quantizer->unquantize();
  serialization::ReadNested(archive, "model", *model_);
  serialization::ReadNested(archive, "optimizer", *optimizer_);
  if (setup_.quantizer_optimizer) {
    serialization::ReadNested(archive, "quantizer_optimizer", *setup_.quantizer_optimizer);
  }
  torch::NoGradGuard no_grad;
  const std::vector<at::Tensor> learned = setup_.quantizer->learnable_parameters();
  for (size_t i = 0; i < learned.size(); ++i) {
    at::Tensor value;
    archive.read(absl::StrCat("quantizer_", i), value);
    learned[i].detach().copy_(value);  // in place: the optimizers hold these tensors
  }
}

std::map<std::string, double> QuantizedTraining::EpochExtras() {
  const BitsStatistics statistics = StoredBitsStatistics(setup_.quantizer->get_quantized_state());
  return {{"model_size_mb", setup_.quantizer->true_model_size()},
          {"mean_bits", statistics.mean_bits}};
}

std::map<std::string, std::vector<double>> QuantizedTraining::EpochHistograms() {
  const serialization::CompressedModel state = setup_.quantizer->get_quantized_state();
  std::vector<double> bits_per_layer;
  for (const serialization::CompressedTensor& tensor : state.tensors()) {
    if (tensor.has_uniform()) bits_per_layer.push_back(StoredBitsStatistics(tensor).mean_bits);
  }
  if (bits_per_layer.empty()) return {};
  return {{"bits_per_layer", std::move(bits_per_layer)}};
}

absl::StatusOr<CompressedResult> QuantizedTraining::Compress() {
  const quant::BaseQuantizer& quantizer = *setup_.quantizer;
  CompressedResult result;
  result.model = quantizer.get_quantized_state();
  result.model_size_mb = quantizer.true_model_size();
  std::map<std::string, double> quantized_bytes;
  const std::vector<double> param_bits = quantizer.quantized_param_bits();
  for (size_t i = 0; i < param_bits.size(); ++i) {
    quantized_bytes[quantizer.quantized_params()[i].name] = param_bits[i] / 8;
  }
  result.layers = ParameterLayerSummaries(*model_, result.model,
                                          [&](const serialization::CompressedTensor& tensor) {
                                            return quantized_bytes[tensor.name()];
                                          });
  return result;
}

void QuantizedTraining::FillSummary(serialization::ExperimentSummary& summary) {
  const BitsStatistics statistics = StoredBitsStatistics(setup_.quantizer->get_quantized_state());
  summary.set_mean_bits(statistics.mean_bits);
  for (const auto& [width, count] : statistics.histogram) {
    (*summary.mutable_bits_histogram())[width] = count;
  }
}

std::vector<at::Tensor> QuantizedTraining::ReplicatedTensors() {
  std::vector<at::Tensor> tensors = ParametersAndBuffers(*model_);
  const std::vector<at::Tensor> learned = setup_.quantizer->learnable_parameters();
  tensors.insert(tensors.end(), learned.begin(), learned.end());
  return tensors;
}

absl::Status QuantizedTraining::Restore(const serialization::CompressedModel& stored,
                                        nn_models::Classifier& fresh_model) {
  // The quantizer attaches to a shared_ptr; the fresh model is owned by the caller.
  std::shared_ptr<torch::nn::Module> alias(std::shared_ptr<torch::nn::Module>(), &fresh_model);
  QuantizerSetup restorer = builder_(alias, nullptr);
  absl::Status status = restorer.quantizer->restore_quantized_state(stored);
  restorer.quantizer->detach();
  return status;
}

}  // namespace mc::experiments
