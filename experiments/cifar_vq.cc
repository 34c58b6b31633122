// cifar_vq: "And the bit goes down" (Stock et al. 2020) on the image classification data sets:
// a trained float model compressed layer by layer into product-quantized weights with
// codebooks fine-tuned by distillation from the float model (vq/compressor.h).
//
//   bazel run //experiments:cifar_vq -- --dataset=fashion_mnist --model=resnet18
//       --teacher=<float model.mcm> --block_size_cv=9 --block_size_pw=4 --block_size_fc=4
//       --n_centroids_cv=256 --n_centroids_pw=256 --n_centroids_fc=256
// Without --teacher, the float model is trained first with the baseline recipe (its own number
// of epochs for the data set).
//
// The runner's epochs are the global fine-tuning (--global_finetune_epochs, an alias of
// --epochs, at --lr with the step schedule); the layer-by-layer stage runs when the method is
// built, before the first epoch. --resume repeats that stage, then loads the checkpoint of the
// global fine-tuning over it.

#include <cmath>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "experiments/experiment_main.h"
#include "experiments/float_training.h"
#include "nn_models/classifier.h"
#include "model_io/decoder.h"
#include "model_io/model_loading.h"
#include "vq/compressor.h"

ABSL_FLAG(std::optional<std::string>, teacher, std::nullopt,
          "Float model file to compress (trained first when absent).");
ABSL_FLAG(std::optional<int32_t>, block_size_cv, std::nullopt, "Block size of 3x3 convolutions.");
ABSL_FLAG(std::optional<int32_t>, block_size_pw, std::nullopt, "Block size of 1x1 convolutions.");
ABSL_FLAG(std::optional<int32_t>, block_size_fc, std::nullopt, "Block size of linear layers.");
ABSL_FLAG(std::optional<int32_t>, n_centroids_cv, std::nullopt, "Centroids of 3x3 convolutions.");
ABSL_FLAG(std::optional<int32_t>, n_centroids_pw, std::nullopt, "Centroids of 1x1 convolutions.");
ABSL_FLAG(std::optional<int32_t>, n_centroids_fc, std::nullopt, "Centroids of linear layers.");
ABSL_FLAG(std::optional<int32_t>, n_iter, std::nullopt, "k-means iterations per layer.");
ABSL_FLAG(std::optional<int32_t>, n_activations, std::nullopt,
          "Training images whose layer inputs weight each k-means.");
ABSL_FLAG(std::optional<int32_t>, activation_rows, std::nullopt,
          "Input rows (im2col patches) kept per layer for its k-means.");
ABSL_FLAG(std::optional<int32_t>, finetune_steps, std::nullopt,
          "Distillation steps on each layer's centroids.");
ABSL_FLAG(std::optional<double>, finetune_lr, std::nullopt, "Learning rate of those steps.");
ABSL_FLAG(std::optional<int32_t>, global_finetune_epochs, std::nullopt,
          "Epochs of global fine-tuning of all centroids (same as --epochs).");
ABSL_FLAG(std::optional<int32_t>, global_finetune_steps, std::nullopt,
          "Steps per global fine-tuning epoch (0: whole epochs).");

namespace mc::experiments {
namespace {

using serialization::ExperimentConfig;
using serialization::ExperimentSummary;
using serialization::VqConfig;

// The reference's recipe (small blocks, its SGD settings, the paper's global learning rate of
// 0.01 divided by 10 every 3 epochs), with a budget sized for 2 CPU cores: ResNet-18 on
// Fashion-MNIST in about half an hour (see the top-level README).
ExperimentConfig Defaults(absl::string_view dataset) {
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
  v.set_n_iter(30);
  v.set_n_activations(512);
  v.set_activation_rows(4096);
  v.set_finetune_steps(10);
  v.set_finetune_lr(0.05);
  v.set_global_finetune_steps(150);
  return config;
}

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
                  .centroids_linear(v.n_centroids_fc()))
      .n_iter(v.n_iter())
      .n_activations(v.n_activations())
      .activation_rows(v.activation_rows())
      .finetune_steps(v.finetune_steps())
      .finetune_lr(v.finetune_lr())
      .momentum(training.momentum())
      .weight_decay(training.weight_decay())
      .global_lr(training.lr())
      .seed(training.seed())
      .log(&std::cout);
}

absl::Status Configure(ExperimentConfig& config) {
  VqConfig& v = *config.mutable_vq();
  if (const auto x = absl::GetFlag(FLAGS_teacher)) v.set_teacher(UserPath(*x));
  if (const auto x = absl::GetFlag(FLAGS_block_size_cv)) v.set_block_size_cv(*x);
  if (const auto x = absl::GetFlag(FLAGS_block_size_pw)) v.set_block_size_pw(*x);
  if (const auto x = absl::GetFlag(FLAGS_block_size_fc)) v.set_block_size_fc(*x);
  if (const auto x = absl::GetFlag(FLAGS_n_centroids_cv)) v.set_n_centroids_cv(*x);
  if (const auto x = absl::GetFlag(FLAGS_n_centroids_pw)) v.set_n_centroids_pw(*x);
  if (const auto x = absl::GetFlag(FLAGS_n_centroids_fc)) v.set_n_centroids_fc(*x);
  if (const auto x = absl::GetFlag(FLAGS_n_iter)) v.set_n_iter(*x);
  if (const auto x = absl::GetFlag(FLAGS_n_activations)) v.set_n_activations(*x);
  if (const auto x = absl::GetFlag(FLAGS_activation_rows)) v.set_activation_rows(*x);
  if (const auto x = absl::GetFlag(FLAGS_finetune_steps)) v.set_finetune_steps(*x);
  if (const auto x = absl::GetFlag(FLAGS_finetune_lr)) v.set_finetune_lr(*x);
  if (const auto x = absl::GetFlag(FLAGS_global_finetune_epochs)) config.mutable_training()->set_epochs(*x);
  if (const auto x = absl::GetFlag(FLAGS_global_finetune_steps)) v.set_global_finetune_steps(*x);
  if (v.global_finetune_steps() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("vq.global_finetune_steps = ", v.global_finetune_steps(), " must be >= 0"));
  }
  const vq::CompressorOptions options = Options(config);
  MC_RETURN_IF_ERROR(vq::Validate(options));
  // The recipe's own checks (positive block sizes and centroids), on a model-free layer list.
  return vq::PlanLayers({}, options.recipe()).status();
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
    MC_ASSIGN_OR_RETURN(result.model, compressor_->Compressed());
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
    metrics["index_mb"] = size.index_bytes / (1 << 20);
    metrics["centroids_mb"] = size.centroid_bytes / (1 << 20);
    metrics["other_mb"] = size.other_bytes / (1 << 20);
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

absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeMethod(const MethodContext& context) {
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

int Main(int argc, char** argv) {
  const ExperimentSpec spec{"cifar_vq",
                            "Activation-aware product quantization (And the bit goes down).",
                            "cifar10", &Defaults, &MakeMethod, nullptr, &Configure};
  std::optional<ExperimentConfig> config = ParseExperimentConfig(argc, argv, spec);
  if (!config) return 1;
  const auto fail = [](const absl::Status& status) {
    std::cerr << "cifar_vq: " << status.message() << std::endl;
    return 1;
  };
  VqConfig& v = *config->mutable_vq();
  std::optional<ExperimentSummary> float_run;
  if (v.teacher().empty()) {
    ExperimentConfig baseline =
        BaselineConfigLike(*config, config->model().name(), config->output().dir() + "/teacher");
    baseline.mutable_training()->set_epochs(
        BaselineRecipe(config->data().dataset()).training().epochs());
    std::cout << "training the float model to compress in " << baseline.output().dir() << std::endl;
    absl::StatusOr<ExperimentSummary> summary = RunConfig(baseline, &MakeFloatTraining);
    if (!summary.ok()) return fail(summary.status());
    v.set_teacher(summary->model_file());
    float_run = *std::move(summary);
  }
  // Global fine-tuning epochs of global_finetune_steps steps, within --max_train_batches.
  serialization::TrainingConfig& training = *config->mutable_training();
  if (v.global_finetune_steps() > 0 &&
      (training.max_train_batches() == 0 || training.max_train_batches() > v.global_finetune_steps())) {
    training.set_max_train_batches(v.global_finetune_steps());
  }
  const absl::Status status = RunFromFloatModel(*config, &MakeMethod, float_run, v.teacher());
  return status.ok() ? 0 : fail(status);
}

}  // namespace
}  // namespace mc::experiments

int main(int argc, char** argv) { return mc::experiments::Main(argc, argv); }
