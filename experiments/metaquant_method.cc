#include "experiments/metaquant_method.h"

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/units.h"
#include "experiments/float_training.h"
#include "experiments/quantized_training.h"
#include "metaquant/trainer.h"
#include "model_io/decoder.h"
#include "model_io/model_loading.h"
#include "serialization/experiment_config.h"
#include "serialization/nested_archive.h"
#include "serialization/tensor_codec.h"

namespace mc::experiments {

using serialization::CheckChoice;
using serialization::CheckRange;
using serialization::ExperimentConfig;
using serialization::ExperimentSummary;
using serialization::MetaQuantConfig;
using serialization::Range;

ExperimentConfig MetaQuantDefaults(absl::string_view dataset) {
  ExperimentConfig config = BaselineRecipe(dataset);
  const bool short_run = dataset == "fashion_mnist" || dataset == "mnist";
  serialization::TrainingConfig& training = *config.mutable_training();
  training.set_epochs(short_run ? 2 : 100);
  training.set_lr(1e-3);
  training.set_lr_schedule(serialization::TrainingConfig::STEP);
  training.set_lr_step_epochs(30);
  training.set_lr_gamma(0.1);
  MetaQuantConfig& m = *config.mutable_metaquant();
  m.set_forward("dorefa");
  m.set_bits(1);
  m.set_meta("multifc");
  m.set_optimizer("sgd");
  m.set_meta_lr(1e-3);
  m.set_meta_hidden(100);
  m.set_meta_layers(3);
  m.set_meta_bias(true);
  m.set_decay_meta_lr(true);
  m.set_look_ahead("paper");
  m.set_start_from("");
  return config;
}

absl::Status ValidateMetaQuantConfig(const ExperimentConfig& config) {
  const MetaQuantConfig& m = config.metaquant();
  MC_ASSIGN_OR_RETURN(const metaquant::ForwardQuantizer forward, metaquant::ParseForwardQuantizer(m.forward()));
  if (m.meta() != "ste") MC_RETURN_IF_ERROR(metaquant::ParseMetaNetType(m.meta()).status());
  MC_RETURN_IF_ERROR(metaquant::ParseBaseOptimizer(m.optimizer()).status());
  const int max_bits = forward == metaquant::ForwardQuantizer::kBwn ? 1 : 16;
  const absl::Status bits = CheckRange("metaquant.bits", m.bits(), Range::Closed(1, max_bits));
  if (!bits.ok()) return absl::InvalidArgumentError(absl::StrCat(bits.message(), " for ", m.forward()));
  MC_RETURN_IF_ERROR(CheckRange("metaquant.meta_lr", m.meta_lr(), Range::LeftOpen(0, 1)));
  MC_RETURN_IF_ERROR(CheckRange("metaquant.meta_hidden", m.meta_hidden(), Range::AtLeast(1)));
  MC_RETURN_IF_ERROR(CheckRange("metaquant.meta_layers", m.meta_layers(), Range::AtLeast(2)));
  return CheckChoice("metaquant.look_ahead", m.look_ahead(), {"paper", "released"});
}

namespace {

metaquant::MetaQuantOptions Options(const ExperimentConfig& config) {
  const MetaQuantConfig& m = config.metaquant();
  metaquant::MetaQuantOptions options;
  options.forward(*metaquant::ParseForwardQuantizer(m.forward()))
      .bits(m.bits())
      .meta(m.meta() == "ste" ? std::nullopt
                              : std::optional<metaquant::MetaNetType>(*metaquant::ParseMetaNetType(m.meta())))
      .meta_net(metaquant::MetaNetOptions()
                    .hidden(m.meta_hidden())
                    .num_layers(m.meta_layers())
                    .multifc_bias(m.meta_bias()))
      .lr(config.training().lr())
      .optimizer(*metaquant::ParseBaseOptimizer(m.optimizer()))
      .meta_lr(m.meta_lr())
      .look_ahead(m.look_ahead() == "paper" ? metaquant::LookAhead::kPaper : metaquant::LookAhead::kReleased);
  return options;
}

class MetaQuantTraining : public TrainingMethod {
 public:
  explicit MetaQuantTraining(const MethodContext& context)
      : model_(context.model),
        trainer_(context.model, Options(context.config)),
        decay_meta_lr_(context.config.metaquant().decay_meta_lr()),
        name_(context.config.metaquant().meta() == "ste" ? "ste" : "metaquant") {}

  std::string name() const override { return name_; }

  StepResult TrainStep(const at::Tensor& images, const at::Tensor& labels) override {
    const metaquant::MetaQuantTrainer::StepOutput output = trainer_.Step(images, labels, gradient_sync());
    return {output.loss, output.logits};
  }

  at::Tensor EvalLogits(const at::Tensor& images) override {
    model_->eval();
    trainer_.Quantize();  // once; undone by the next training step
    return model_->forward(images);
  }

  std::vector<torch::optim::Optimizer*> ScheduledOptimizers() override {
    std::vector<torch::optim::Optimizer*> optimizers = {&trainer_.base_optimizer()};
    if (decay_meta_lr_ && trainer_.meta_optimizer() != nullptr) optimizers.push_back(trainer_.meta_optimizer());
    return optimizers;
  }

  void Save(torch::serialize::OutputArchive& archive) override {
    trainer_.Unquantize();
    serialization::WriteNested(archive, "model", *model_);
    serialization::WriteNested(archive, "trainer", [this](torch::serialize::OutputArchive& nested) {
      trainer_.Save(nested);
    });
  }

  void Load(torch::serialize::InputArchive& archive) override {
    trainer_.Unquantize();
    serialization::ReadNested(archive, "model", *model_);
    serialization::ReadNested(archive, "trainer", [this](torch::serialize::InputArchive& nested) {
      trainer_.Load(nested);
    });
  }

  absl::StatusOr<CompressedResult> Compress() override {
    CompressedResult result;
    result.model = trainer_.GetQuantizedState();
    result.layers = ParameterLayerSummaries(*model_, result.model, [](const serialization::CompressedTensor& tensor) {
      const int64_t numel = serialization::NumElements(tensor).value_or(0);
      return tensor.uniform().bits() * numel / 8.0 + 8;  // levels + min, max
    });
    double bytes = 0;
    for (const serialization::LayerSummary& layer : result.layers) bytes += layer.bytes();
    result.model_size_mb = bytes / kBytesPerMb;
    return result;
  }

  void FillSummary(ExperimentSummary& summary) override {
    const BitsStatistics statistics = StoredBitsStatistics(trainer_.GetQuantizedState());
    summary.set_mean_bits(statistics.mean_bits);
    for (const auto& [width, count] : statistics.histogram) (*summary.mutable_bits_histogram())[width] = count;
  }

  absl::Status Restore(const serialization::CompressedModel& stored,
                       nn_models::Classifier& fresh_model) override {
    return model_io::LoadCompressedModel(stored, fresh_model);
  }

  std::vector<at::Tensor> ReplicatedTensors() override {
    std::vector<at::Tensor> tensors = ParametersAndBuffers(*model_);
    if (trainer_.meta_net() != nullptr) {
      const std::vector<at::Tensor> meta = trainer_.meta_net()->parameters();
      tensors.insert(tensors.end(), meta.begin(), meta.end());
    }
    return tensors;
  }

 private:
  std::shared_ptr<nn_models::Classifier> model_;
  metaquant::MetaQuantTrainer trainer_;
  bool decay_meta_lr_;
  std::string name_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeMetaQuantTraining(const MethodContext& context) {
  MC_RETURN_IF_ERROR(model_io::LoadModelFileInto(context.config.metaquant().start_from(), *context.model));
  return std::make_unique<MetaQuantTraining>(context);
}

FloatStartingPoint MetaQuantStartingPoint() {
  FloatStartingPoint start;
  start.model_file = [](ExperimentConfig& config) {
    return config.mutable_metaquant()->mutable_start_from();
  };
  start.subdirectory = "float";
  start.role = "the float model to start from";
  return start;
}

}  // namespace mc::experiments
