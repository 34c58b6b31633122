#include "experiments/distillation_method.h"

#include <torch/nn/module.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "common/units.h"
#include "common/user_path.h"
#include "distill/coded_size.h"
#include "distill/differentiable_quantization.h"
#include "distill/model_registry.h"
#include "distill/quantized_distillation.h"
#include "experiments/experiment_main.h"
#include "experiments/float_training.h"
#include "experiments/quantized_training.h"
#include "model_io/decoder.h"
#include "model_io/model_loading.h"
#include "serialization/atomic_file.h"
#include "serialization/experiment_config.h"
#include "serialization/nested_archive.h"
#include "serialization/tensor_codec.h"

namespace mc::experiments {

using serialization::CheckChoice;
using serialization::CheckRange;
using serialization::CompressedModel;
using serialization::DistillationConfig;
using serialization::ExperimentConfig;
using serialization::ExperimentSummary;
using serialization::Range;

ExperimentConfig DistillationDefaults(absl::string_view dataset) {
  ExperimentConfig config = BaselineRecipe(dataset);
  if (dataset == "fashion_mnist" || dataset == "mnist") config.mutable_training()->set_epochs(3);
  config.mutable_model()->set_name("resnet20");
  DistillationConfig& d = *config.mutable_distillation();
  d.set_method("quantized_distillation");
  d.set_teacher("");
  d.set_teacher_model("resnet56");
  d.set_init_from("");
  d.set_bits(4);
  d.set_bucket_size(256);
  d.set_temperature(2);
  d.set_distill_weight(0.7);
  d.set_kl_reduction("mean");
  d.set_anneal_distill_weight(true);
  d.set_stochastic_rounding(false);
  d.set_quantize_first_last_layer(true);
  d.set_quantize_vectors(true);
  d.set_per_channel(false);
  d.set_points_lr(1e-4);
  d.set_points_init("quantiles");
  d.set_redistribute_points(true);
  d.set_registry("");
  d.set_name("");
  return config;
}

namespace {

absl::Status ValidateDistillationConfig(const DistillationConfig& d) {
  MC_RETURN_IF_ERROR(CheckChoice("distillation.method", d.method(),
                                 {"quantized_distillation", "differentiable_quantization", "quantized"}));
  MC_RETURN_IF_ERROR(CheckRange("distillation.bits", d.bits(), Range::Closed(1, 15)));
  MC_RETURN_IF_ERROR(CheckRange("distillation.bucket_size", d.bucket_size(), Range::AtLeast(0)));
  MC_RETURN_IF_ERROR(CheckRange("distillation.temperature", d.temperature(), Range::Above(0)));
  MC_RETURN_IF_ERROR(CheckRange("distillation.distill_weight", d.distill_weight(), Range::Closed(0, 1)));
  MC_RETURN_IF_ERROR(CheckChoice("distillation.kl_reduction", d.kl_reduction(), {"mean", "batchmean"}));
  MC_RETURN_IF_ERROR(CheckRange("distillation.points_lr", d.points_lr(), Range::LeftOpen(0, 1)));
  return CheckChoice("distillation.points_init", d.points_init(), {"quantiles", "uniform"});
}

}  // namespace

absl::Status FinishDistillationConfig(ExperimentConfig& config) {
  DistillationConfig& d = *config.mutable_distillation();
  MC_RETURN_IF_ERROR(ValidateDistillationConfig(d));
  if (d.registry().empty()) {
    const std::string& dir = config.output().dir();
    const size_t slash = dir.find_last_of('/');
    d.set_registry(absl::StrCat(slash == std::string::npos ? "." : dir.substr(0, slash),
                                "/model_registry.mcr"));
  }
  if (d.name().empty()) {
    d.set_name(absl::StrCat(config.model().name(), "_", d.method(), "_", d.bits(), "bit_",
                            config.data().dataset()));
  }
  return absl::OkStatus();
}

namespace {

// Calibration batches for the redistribution of points, as the reference: the first five.
constexpr int kCalibrationBatches = 5;

// Replaces the fixed-width size of a quantized model by its Huffman-coded size.
absl::Status ApplyCodedSize(const nn_models::Classifier& model, CompressedResult& result,
                            distill::CodedSize& coded) {
  std::set<std::string> parameters;
  for (const auto& item : model.named_parameters()) parameters.insert(item.key());
  MC_ASSIGN_OR_RETURN(coded, distill::HuffmanCodedSize(result.model, parameters));
  result.model_size_mb = static_cast<double>(coded.bytes) / kBytesPerMb;
  result.layers.clear();
  for (const serialization::CompressedTensor& tensor : result.model.tensors()) {
    if (parameters.count(tensor.name()) == 0) continue;
    serialization::LayerSummary layer;
    layer.set_name(tensor.name());
    layer.set_numel(serialization::NumElements(tensor).value_or(0));
    layer.set_encoding(tensor.has_uniform()          ? "uniform"
                       : tensor.has_learned_points() ? "learned_points"
                                                     : "passthrough_float32");
    layer.set_bits(tensor.has_passthrough() ? 32 : coded.mean_bits);
    if (tensor.has_learned_points()) {
      layer.set_codebook_size(tensor.learned_points().points().size() / 4);
    }
    layer.set_bytes(coded.tensor_bytes[tensor.name()]);
    result.layers.push_back(layer);
  }
  return absl::OkStatus();
}

void FillCodedSummary(const distill::CodedSize& coded, const nn_models::Classifier* teacher,
                      ExperimentSummary& summary) {
  auto& metrics = *summary.mutable_metrics();
  metrics["huffman_mean_bits"] = coded.mean_bits;
  metrics["reference_size_mb"] = coded.reference_bytes / kBytesPerMb;
  if (teacher != nullptr && summary.model_size_mb() > 0) {
    metrics["teacher_model_size_mb"] = model_io::FloatModelSizeMb(*teacher);
    metrics["compression_ratio_vs_teacher"] = model_io::FloatModelSizeMb(*teacher) / summary.model_size_mb();
  }
}

// Quantized distillation, or quantized training alone: the bucketed uniform quantizer in
// the shared quantized-training loop, sized by its Huffman-coded indices.
class QuantizedStudentTraining : public QuantizedTraining {
 public:
  QuantizedStudentTraining(const MethodContext& context, std::shared_ptr<nn_models::Classifier> teacher,
                           const distill::QuantizedDistillationOptions& options)
      : QuantizedStudentTraining(context, teacher, options,
                                 std::make_shared<distill::StudentLoss>(teacher, options.kd())) {}

  void SetTrainingProgress(double progress) override { loss_->set_progress(progress); }

  absl::StatusOr<CompressedResult> Compress() override {
    MC_ASSIGN_OR_RETURN(CompressedResult result, QuantizedTraining::Compress());
    MC_RETURN_IF_ERROR(ApplyCodedSize(*model_, result, coded_));
    return result;
  }

  void FillSummary(ExperimentSummary& summary) override {
    QuantizedTraining::FillSummary(summary);
    FillCodedSummary(coded_, teacher_.get(), summary);
  }

 private:
  QuantizedStudentTraining(const MethodContext& context, std::shared_ptr<nn_models::Classifier> teacher,
                           const distill::QuantizedDistillationOptions& options,
                           std::shared_ptr<distill::StudentLoss> loss)
      : QuantizedTraining(
            context.config.distillation().method(), context.model, context.config.training(),
            /*penalty=*/0,
            [options](std::shared_ptr<torch::nn::Module> model, torch::optim::Optimizer*) {
              QuantizerSetup setup;
              setup.quantizer = distill::AttachStudentQuantizer(std::move(model), options);
              return setup;
            },
            [loss](const at::Tensor& logits, const at::Tensor& images, const at::Tensor& labels) {
              return (*loss)(logits, images, labels);
            }),
        model_(context.model),
        teacher_(std::move(teacher)),
        loss_(std::move(loss)) {}

  std::shared_ptr<nn_models::Classifier> model_;
  std::shared_ptr<nn_models::Classifier> teacher_;
  std::shared_ptr<distill::StudentLoss> loss_;
  distill::CodedSize coded_;
};

// Differentiable quantization: learns the points of the trained float student.
class LearnedPointsTraining : public TrainingMethod {
 public:
  LearnedPointsTraining(const MethodContext& context, std::shared_ptr<nn_models::Classifier> teacher,
                        const distill::DifferentiableQuantizationOptions& options, double points_lr)
      : teacher_(teacher),
        dq_(*context.model, teacher ? teacher : context.model, options, CalibrationBatches(context, options)),
        optimizer_(std::make_unique<torch::optim::SGD>(
            dq_.points(), torch::optim::SGDOptions(points_lr).momentum(0.9).nesterov(true))) {}

  std::string name() const override { return "differentiable_quantization"; }

  StepResult TrainStep(const at::Tensor& images, const at::Tensor& labels) override {
    const distill::DifferentiableQuantization::StepOutput output =
        dq_.Step(images, labels, *optimizer_, gradient_sync());
    return {output.loss, output.logits};
  }

  at::Tensor EvalLogits(const at::Tensor& images) override {
    dq_.model()->eval();
    return dq_.model()->forward(images);
  }

  std::vector<torch::optim::Optimizer*> ScheduledOptimizers() override { return {optimizer_.get()}; }

  void SetTrainingProgress(double progress) override { dq_.loss().set_progress(progress); }

  void Save(torch::serialize::OutputArchive& archive) override {
    serialization::WriteNested(archive, "model", *dq_.model());
    serialization::WriteNested(archive, "optimizer", *optimizer_);
    for (size_t i = 0; i < dq_.points().size(); ++i) {
      archive.write(absl::StrCat("points_", i), dq_.points()[i].detach());
    }
  }

  void Load(torch::serialize::InputArchive& archive) override {
    serialization::ReadNested(archive, "model", *dq_.model());
    serialization::ReadNested(archive, "optimizer", *optimizer_);
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < dq_.points().size(); ++i) {
      at::Tensor value;
      archive.read(absl::StrCat("points_", i), value);
      dq_.points()[i].detach().copy_(value);  // in place: the optimizer holds these tensors
    }
    dq_.WriteQuantizedWeights();
  }

  absl::StatusOr<CompressedResult> Compress() override {
    CompressedResult result;
    result.model = dq_.GetQuantizedState();
    MC_RETURN_IF_ERROR(ApplyCodedSize(*dq_.model(), result, coded_));
    return result;
  }

  void FillSummary(ExperimentSummary& summary) override {
    // Mean stored index bits (ceil(log2 points) per tensor), before Huffman coding.
    double bits = 0;
    int64_t weights = 0;
    const serialization::CompressedModel state = dq_.GetQuantizedState();
    for (const serialization::CompressedTensor& tensor : state.tensors()) {
      if (!tensor.has_learned_points()) continue;
      const int64_t numel = serialization::NumElements(tensor).value_or(0);
      bits += static_cast<double>(tensor.learned_points().index_bits()) * numel;
      weights += numel;
    }
    summary.set_mean_bits(weights > 0 ? bits / weights : 0);
    FillCodedSummary(coded_, teacher_.get(), summary);
  }

  absl::Status Restore(const CompressedModel& stored, nn_models::Classifier& fresh_model) override {
    return model_io::LoadCompressedModel(stored, fresh_model);
  }

  std::vector<at::Tensor> ReplicatedTensors() override {
    std::vector<at::Tensor> tensors = ParametersAndBuffers(*dq_.model());
    tensors.insert(tensors.end(), dq_.points().begin(), dq_.points().end());
    return tensors;
  }

 private:
  static std::vector<distill::Batch> CalibrationBatches(
      const MethodContext& context, const distill::DifferentiableQuantizationOptions& options) {
    std::vector<distill::Batch> batches;
    if (!options.redistribute_points()) return batches;
    context.train_loader.ForEachBatch(0, [&](const at::Tensor& images, const at::Tensor& labels) {
      batches.emplace_back(images, labels);
      return batches.size() < kCalibrationBatches;
    });
    return batches;
  }

  std::shared_ptr<nn_models::Classifier> teacher_;
  distill::DifferentiableQuantization dq_;
  std::unique_ptr<torch::optim::SGD> optimizer_;
  distill::CodedSize coded_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeDistillationTraining(const MethodContext& context) {
  const DistillationConfig& d = context.config.distillation();
  if (!d.init_from().empty()) MC_RETURN_IF_ERROR(model_io::LoadModelFileInto(d.init_from(), *context.model));
  std::shared_ptr<nn_models::Classifier> teacher;
  if (!d.teacher().empty() && d.method() != "quantized") {
    MC_ASSIGN_OR_RETURN(teacher, model_io::LoadModelFile(d.teacher(), context.dataset));
  }
  const distill::KDLossOptions kd =
      distill::KDLossOptions()
          .temperature(d.temperature())
          .soft_weight(d.distill_weight())
          .reduction(d.kl_reduction() == "batchmean" ? distill::KLReduction::kBatchMean
                                                     : distill::KLReduction::kElementwiseMean)
          .anneal_soft_weight(d.anneal_distill_weight());
  if (d.method() == "differentiable_quantization") {
    return std::make_unique<LearnedPointsTraining>(
        context, teacher,
        distill::DifferentiableQuantizationOptions()
            .bits(d.bits())
            .bucket_size(d.bucket_size())
            .init(d.points_init() == "uniform" ? distill::PointsInit::kUniform
                                               : distill::PointsInit::kQuantiles)
            .redistribute_points(d.redistribute_points())
            .quantize_first_last_layer(d.quantize_first_last_layer())
            .kd(kd),
        d.points_lr());
  }
  return std::make_unique<QuantizedStudentTraining>(
      context, teacher,
      distill::QuantizedDistillationOptions()
          .bits(d.bits())
          .bucket_size(d.bucket_size())
          .stochastic_rounding(d.stochastic_rounding())
          .quantize_first_last_layer(d.quantize_first_last_layer())
          .quantize_vectors(d.quantize_vectors())
          .per_channel(d.per_channel())
          .distillation(d.method() == "quantized_distillation")
          .kd(kd));
}

absl::StatusOr<ExperimentSummary> RunAndRegister(const ExperimentConfig& config,
                                                 const MethodFactory& factory,
                                                 const std::string& name, const std::string& method) {
  if (!IsRankZero(config)) return RunConfig(config, factory);
  // The default registry is beside the run's directory, whose parents may not exist yet.
  MC_RETURN_IF_ERROR(serialization::CreateDirectories(config.output().dir()));
  distill::ModelRegistry registry(config.distillation().registry());
  serialization::RegistryEntry entry;
  entry.set_name(name);
  entry.set_method(method);
  entry.set_model_file(absl::StrCat(config.output().dir(), "/model.mcm"));
  *entry.mutable_config() = config;
  entry.set_status(serialization::RegistryEntry::RUNNING);
  MC_ASSIGN_OR_RETURN(entry, registry.Add(entry));
  absl::StatusOr<ExperimentSummary> summary = RunConfig(config, factory);
  if (!summary.ok()) {
    entry.set_status(serialization::RegistryEntry::FAILED);
    (void)registry.Update(entry);  // the run's own error is the one to report
    return summary;
  }
  entry.set_status(serialization::RegistryEntry::COMPLETED);
  auto& metrics = *entry.mutable_metrics();
  metrics["test_accuracy"] = summary->test_accuracy();
  metrics["model_size_mb"] = summary->model_size_mb();
  metrics["compression_ratio"] = summary->compression_ratio();
  for (const auto& [key, value] : summary->metrics()) metrics[key] = value;
  MC_RETURN_IF_ERROR(registry.Update(entry));
  return summary;
}

namespace {

// The teacher's model file: --teacher as a file, else the registry's latest completed run
// of that name, else a teacher trained now with the baseline recipe.
absl::StatusOr<std::string> ResolveTeacher(const ExperimentConfig& config) {
  const DistillationConfig& d = config.distillation();
  if (!d.teacher().empty()) {
    const std::string path = UserPath(d.teacher());
    if (serialization::ReadFileToString(path).ok()) return path;
    distill::ModelRegistry registry(d.registry());
    absl::StatusOr<serialization::RegistryEntry> entry = registry.LatestCompleted(d.teacher());
    if (!entry.ok()) {
      return absl::NotFoundError(absl::StrCat("--teacher=", d.teacher(),
                                              " is neither a model file nor a completed run in ",
                                              d.registry(), ": ", entry.status().message()));
    }
    return entry->model_file();
  }
  serialization::ModelConfig teacher_model;
  teacher_model.set_name(d.teacher_model());
  ExperimentConfig teacher =
      BaselineConfigLike(config, teacher_model, absl::StrCat(config.output().dir(), "/teacher"));
  teacher.mutable_distillation()->set_registry(d.registry());
  std::cout << "training the teacher " << d.teacher_model() << " with the baseline recipe in "
            << teacher.output().dir() << std::endl;
  MC_ASSIGN_OR_RETURN(const ExperimentSummary summary,
                      RunAndRegister(teacher, &MakeFloatTraining,
                                     absl::StrCat(d.teacher_model(), "_teacher_", config.data().dataset()),
                                     "float"));
  return summary.model_file();
}

// Prints the run, then its accuracy and Huffman-coded size against the float student's and
// the teacher's.
void PrintDistillationResult(const ExperimentSummary& summary) {
  PrintResults({summary}, std::cout);
  const auto metric = [&summary](const std::string& key) {
    const auto found = summary.metrics().find(key);
    return found == summary.metrics().end() ? std::optional<double>() : found->second;
  };
  std::cout << absl::StrFormat(
      "%s: %.2f%% accuracy, %.4f MB Huffman-coded (%.2f bits per weight), %.1fx smaller than the "
      "float student",
      summary.method(), 100 * summary.test_accuracy(), summary.model_size_mb(),
      metric("huffman_mean_bits").value_or(0.0), summary.compression_ratio());
  if (const std::optional<double> ratio = metric("compression_ratio_vs_teacher")) {
    std::cout << absl::StrFormat(", %.1fx smaller than the teacher", *ratio);
  }
  std::cout << std::endl;
}

}  // namespace

absl::Status RunDistillationExperiment(ExperimentConfig config) {
  DistillationConfig& d = *config.mutable_distillation();
  const bool needs_teacher = d.method() == "quantized_distillation" ||
                             (d.method() == "differentiable_quantization" && !d.teacher().empty());
  if (needs_teacher) {
    MC_ASSIGN_OR_RETURN(const std::string teacher, ResolveTeacher(config));
    d.set_teacher(teacher);
  }
  MC_ASSIGN_OR_RETURN(const ExperimentSummary summary,
                      RunAndRegister(config, &MakeDistillationTraining, d.name(), d.method()));
  PrintDistillationResult(summary);
  return absl::OkStatus();
}

}  // namespace mc::experiments
