#include "experiments/vq_method.h"

#include <cmath>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/units.h"
#include "experiments/float_training.h"
#include "model_io/decoder.h"
#include "model_io/model_loading.h"
#include "nn_models/classifier.h"
#include "serialization/experiment_config.h"
#include "vq/compressor.h"

namespace mc::experiments {

using serialization::CheckRange;
using serialization::ExperimentConfig;
using serialization::Range;
using serialization::ExperimentSummary;
using serialization::VqConfig;

ExperimentConfig VqDefaults(absl::string_view dataset) {
  ExperimentConfig config = BaselineRecipe(dataset);
  serialization::TrainingConfig& training = *config.mutable_training();
  training.set_epochs(1);
  training.set_lr(0.01);
  training.set_momentum(0.9);
  training.set_nesterov(false);
  training.set_weight_decay(1e-4);
  training.set_lr_schedule(serialization::TrainingConfig::STEP);
  training.set_lr_step_epochs(3);
  training.set_lr_gamma(0.1);
  VqConfig& v = *config.mutable_vq();
  v.set_teacher("");
  v.set_block_size_cv(9);
  v.set_block_size_pw(4);
  v.set_block_size_fc(4);
  v.set_n_centroids_cv(256);
  v.set_n_centroids_pw(256);
  v.set_n_centroids_fc(2048);
  v.set_block_size_emb(8);
  v.set_n_centroids_emb(256);
  v.set_n_iter(30);
  v.set_n_activations(512);
  v.set_activation_rows(4096);
  v.set_finetune_steps(10);
  v.set_finetune_lr(0.05);
  v.set_global_finetune_steps(150);
  return config;
}

ExperimentConfig LanguageModelVqDefaults(absl::string_view dataset) {
  ExperimentConfig config = LanguageModelRecipe(dataset);
  ExperimentConfig image = VqDefaults(dataset);
  *config.mutable_vq() = image.vq();
  serialization::TrainingConfig& training = *config.mutable_training();
  training.set_epochs(3);
  training.set_lr(10);
  training.set_momentum(0);
  training.set_lr_schedule(serialization::TrainingConfig::COSINE);
  VqConfig& v = *config.mutable_vq();
  v.set_block_size_emb(5);
  v.set_n_centroids_emb(1024);
  v.set_block_size_fc(8);
  v.set_n_centroids_fc(256);
  v.set_n_activations(2048);
  v.set_finetune_steps(50);
  v.set_finetune_lr(2);
  v.set_global_finetune_steps(0);
  return config;
}

namespace {

vq::CompressorOptions Options(const ExperimentConfig& config) {
  const VqConfig& v = config.vq();
  const serialization::TrainingConfig& training = config.training();
  return vq::CompressorOptions()
      .recipe(vq::VqSizeOptions()
                  .block_size_conv(v.block_size_cv())
                  .block_size_pointwise(v.block_size_pw())
                  .block_size_linear(v.block_size_fc())
                  .centroids_conv(v.n_centroids_cv())
                  .centroids_pointwise(v.n_centroids_pw())
                  .centroids_linear(v.n_centroids_fc())
                  .block_size_embedding(v.block_size_emb())
                  .centroids_embedding(v.n_centroids_emb())
                  .min_centroids(v.min_centroids()))
      .n_iter(v.n_iter())
      .n_activations(v.n_activations())
      .activation_rows(v.activation_rows())
      .finetune_steps(v.finetune_steps())
      .finetune_lr(v.finetune_lr())
      .momentum(training.momentum())
      .weight_decay(training.weight_decay())
      .global_lr(training.lr())
      .grad_clip_norm(training.grad_clip_norm())
      .seed(training.seed())
      .log(&std::cout);
}

class VqTraining : public TrainingMethod {
 public:
  VqTraining(std::shared_ptr<nn_models::Classifier> student,
             std::unique_ptr<vq::VqCompressor> compressor)
      : student_(std::move(student)), compressor_(std::move(compressor)) {}

  std::string name() const override { return "vq"; }

  StepResult TrainStep(const at::Tensor& images, const at::Tensor& labels) override {
    (void)labels;  // distillation from the teacher alone, as the reference
    const vq::DistillationStep step = compressor_->GlobalStep(images, gradient_sync());
    return {step.loss, step.logits};
  }

  at::Tensor EvalLogits(const at::Tensor& images) override {
    student_->eval();
    return student_->forward(images);
  }

  std::vector<torch::optim::Optimizer*> ScheduledOptimizers() override {
    return {&compressor_->global_optimizer()};
  }

  void Save(torch::serialize::OutputArchive& archive) override { compressor_->Save(archive); }
  void Load(torch::serialize::InputArchive& archive) override { compressor_->Load(archive); }

  absl::StatusOr<CompressedResult> Compress() override {
    CompressedResult result;
    MC_ASSIGN_OR_RETURN(result.model, compressor_->ToCompressedModel());
    result.model_size_mb = compressor_->size().total_megabytes();
    std::map<std::string, const vq::LayerReport*> reports;
    for (const vq::LayerReport& layer : compressor_->layers()) reports[layer.name] = &layer;
    for (const auto& item : student_->named_parameters()) {
      serialization::LayerSummary layer;
      layer.set_name(item.key());
      layer.set_numel(item.value().numel());
      const auto report = reports.find(item.key());
      if (report == reports.end()) {
        layer.set_encoding("passthrough_float32");
        layer.set_bits(32);
        layer.set_bytes(4.0 * item.value().numel());
      } else {
        const vq::LayerReport& r = *report->second;
        layer.set_encoding("codebook");
        layer.set_bits(std::log2(static_cast<double>(r.num_centroids)) / r.block_size);
        layer.set_codebook_size(r.num_centroids);
        layer.set_block_size(r.block_size);
        layer.set_bytes(r.bytes);
      }
      result.layers.push_back(layer);
    }
    return result;
  }

  void FillSummary(ExperimentSummary& summary) override {
    double index_bits = 0;
    int64_t weights = 0;
    for (const vq::LayerReport& layer : compressor_->layers()) {
      index_bits += layer.num_subvectors * std::log2(static_cast<double>(layer.num_centroids));
      weights += layer.num_subvectors * layer.block_size;
    }
    if (weights > 0) summary.set_mean_bits(index_bits / weights);
    auto& metrics = *summary.mutable_metrics();
    for (const auto& [stage, seconds] : compressor_->seconds()) {
      metrics[absl::StrCat(stage, "_seconds")] = seconds;
    }
    const vq::VqSize& size = compressor_->size();
    metrics["index_mb"] = size.index_bytes / kBytesPerMb;
    metrics["centroids_mb"] = size.centroid_bytes / kBytesPerMb;
    metrics["other_mb"] = size.other_bytes / kBytesPerMb;
    if (!compressor_->layers().empty()) {
      metrics["probe_loss_after_layers"] = compressor_->layers().back().loss_after_finetune;
    }
  }

  absl::Status Restore(const serialization::CompressedModel& stored,
                       nn_models::Classifier& fresh_model) override {
    return model_io::LoadCompressedModel(stored, fresh_model);
  }

  std::vector<at::Tensor> ReplicatedTensors() override {
    std::vector<at::Tensor> tensors = ParametersAndBuffers(*student_);
    for (size_t i = 0; i < compressor_->layers().size(); ++i) tensors.push_back(compressor_->centroids(i));
    return tensors;
  }

 private:
  std::shared_ptr<nn_models::Classifier> student_;
  std::unique_ptr<vq::VqCompressor> compressor_;
};

}  // namespace

absl::Status ValidateVqConfig(const ExperimentConfig& config) {
  const VqConfig& v = config.vq();
  MC_RETURN_IF_ERROR(CheckRange("vq.global_finetune_steps", v.global_finetune_steps(), Range::AtLeast(0)));
  const vq::CompressorOptions options = Options(config);
  MC_RETURN_IF_ERROR(vq::Validate(options));
  // The recipe's own checks (positive block sizes and centroids), on a model-free layer list.
  return vq::PlanLayers({}, options.recipe()).status();
}

absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeVqTraining(const MethodContext& context) {
  const std::string& teacher_file = context.config.vq().teacher();
  MC_ASSIGN_OR_RETURN(std::shared_ptr<nn_models::Classifier> teacher,
                      model_io::LoadModelFile(teacher_file, context.dataset));
  // The student starts as the teacher, in the architecture of the configuration.
  MC_RETURN_IF_ERROR(model_io::LoadModelFileInto(teacher_file, *context.model));
  MC_ASSIGN_OR_RETURN(std::unique_ptr<vq::VqCompressor> compressor,
                      vq::VqCompressor::Create(context.model, teacher, Options(context.config)));
  MC_RETURN_IF_ERROR(compressor->CompressLayers(vq::BatchesFrom(context.train_loader)));
  return std::make_unique<VqTraining>(context.model, std::move(compressor));
}

void LimitGlobalFinetuneSteps(ExperimentConfig& config) {
  const VqConfig& v = config.vq();
  serialization::TrainingConfig& training = *config.mutable_training();
  if (v.global_finetune_steps() > 0 &&
      (training.max_train_batches() == 0 || training.max_train_batches() > v.global_finetune_steps())) {
    training.set_max_train_batches(v.global_finetune_steps());
  }
}

FloatStartingPoint VqStartingPoint() {
  FloatStartingPoint start;
  start.model_file = [](ExperimentConfig& config) { return config.mutable_vq()->mutable_teacher(); };
  start.subdirectory = "teacher";
  start.role = "the float model to compress";
  start.baseline_epochs = true;
  start.adjust_run = &LimitGlobalFinetuneSteps;
  return start;
}

}  // namespace mc::experiments
