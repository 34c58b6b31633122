#include "vq/compressor.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "data/batch_source.h"
#include "nn_models/classifier.h"
#include "serialization/module_encoding.h"
#include "serialization/nested_archive.h"
#include "vq/codebook_codec.h"
#include "vq/kmeans.h"
#include "vq/layer_inputs.h"
#include "vq/layout.h"

namespace mc::vq {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

absl::Status CheckAtLeast(int64_t value, int64_t minimum, const char* field) {
  if (value < minimum) {
    return absl::InvalidArgumentError(
        absl::StrCat("CompressorOptions.", field, " must be >= ", minimum, ", got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckRate(double value, double low, double high, bool low_open, const char* field) {
  const bool ok = (low_open ? value > low : value >= low) && value <= high && std::isfinite(value);
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("CompressorOptions.", field, " = ", value,
                                                   " is out of range ", low_open ? "(" : "[",
                                                   low, ", ", high, "]"));
  }
  return absl::OkStatus();
}

// A compressed layer: the student's weight, rebuilt from its trainable centroids.
struct Layer {
  LayerQuantization plan;
  at::Tensor weight;         // the student's parameter
  at::Tensor centroids;      // (k, block_size) float32, requires_grad
  at::Tensor assignments;    // (n) int64
  at::Tensor cluster_sizes;  // (k, 1) float32, all positive
};

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

}  // namespace

TrainBatches BatchesFrom(const data::BatchSource& loader) {
  auto next_epoch = std::make_shared<int64_t>(0);
  return [&loader, next_epoch](const BatchFn& fn) {
    bool more = true;
    while (more) {
      bool any = false;
      loader.ForEachBatch((*next_epoch)++, [&](const at::Tensor& images, const at::Tensor& labels) {
        any = true;
        more = fn(images, labels);
        return more;
      });
      if (!any) return;
    }
  };
}

absl::Status Validate(const CompressorOptions& options) {
  MC_RETURN_IF_ERROR(CheckAtLeast(options.n_iter(), 1, "n_iter"));
  MC_RETURN_IF_ERROR(CheckAtLeast(options.n_activations(), 1, "n_activations"));
  MC_RETURN_IF_ERROR(CheckAtLeast(options.activation_rows(), 1, "activation_rows"));
  MC_RETURN_IF_ERROR(CheckAtLeast(options.finetune_steps(), 0, "finetune_steps"));
  MC_RETURN_IF_ERROR(CheckAtLeast(options.global_finetune_epochs(), 0, "global_finetune_epochs"));
  MC_RETURN_IF_ERROR(CheckAtLeast(options.global_finetune_steps(), 0, "global_finetune_steps"));
  MC_RETURN_IF_ERROR(CheckAtLeast(options.global_lr_step_epochs(), 1, "global_lr_step_epochs"));
  MC_RETURN_IF_ERROR(CheckRate(options.finetune_lr(), 0, 10, true, "finetune_lr"));
  MC_RETURN_IF_ERROR(CheckRate(options.global_lr(), 0, 10, true, "global_lr"));
  MC_RETURN_IF_ERROR(CheckRate(options.global_lr_gamma(), 0, 1, true, "global_lr_gamma"));
  MC_RETURN_IF_ERROR(CheckRate(options.weight_decay(), 0, 1, false, "weight_decay"));
  if (!(options.grad_clip_norm() >= 0 && std::isfinite(options.grad_clip_norm()))) {
    return absl::InvalidArgumentError(absl::StrCat("CompressorOptions.grad_clip_norm must be >= 0, got ",
                                                   options.grad_clip_norm()));
  }
  if (!(options.momentum() >= 0 && options.momentum() < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("CompressorOptions.momentum = ",
                                                   options.momentum(), " is out of range [0, 1)"));
  }
  return absl::OkStatus();
}

at::Tensor KlToTeacher(const at::Tensor& student_logits, const at::Tensor& teacher_logits) {
  const at::Tensor log_student = at::log_softmax(student_logits, 1);
  const at::Tensor log_teacher = at::log_softmax(teacher_logits, 1);
  return (log_teacher.exp() * (log_teacher - log_student)).sum() / student_logits.size(0);
}

struct VqCompressor::State {
  std::shared_ptr<nn_models::Classifier> student;
  std::shared_ptr<nn_models::Classifier> teacher;
  CompressorOptions options;
  std::vector<Layer> layers;
  std::vector<LayerReport> reports;
  VqSize size;
  std::map<std::string, double> seconds;
  std::unique_ptr<torch::optim::SGD> global_optimizer;
  at::Tensor probe_images;
  at::Tensor probe_teacher_logits;

  void Log(const std::string& line) const {
    if (options.log() != nullptr) *options.log() << line << std::endl;
  }

  at::Tensor TeacherLogits(const at::Tensor& images) const {
    torch::NoGradGuard no_grad;
    return teacher->forward(images);
  }

  std::unique_ptr<torch::optim::SGD> MakeOptimizer(const std::vector<Layer*>& trained, double lr) const {
    std::vector<at::Tensor> centroids;
    for (const Layer* layer : trained) centroids.push_back(layer->centroids);
    return std::make_unique<torch::optim::SGD>(
        centroids, torch::optim::SGDOptions(lr).momentum(options.momentum()).weight_decay(
                       options.weight_decay()));
  }

  // The gradient of each centroid: the mean of its members' weight gradients.
  static void PullGradients(const std::vector<Layer*>& trained) {
    for (Layer* layer : trained) {
      at::Tensor gradient = at::zeros_like(layer->centroids);
      const at::Tensor weight_gradient = layer->weight.grad();
      if (weight_gradient.defined()) {
        const at::Tensor rows = *WeightToSubvectors(weight_gradient, layer->plan.block_size);
        gradient.index_add_(0, layer->assignments, rows).div_(layer->cluster_sizes);
      }
      layer->centroids.mutable_grad() = gradient;
      layer->weight.mutable_grad() = at::Tensor();
    }
  }

  static void WriteWeights(const std::vector<Layer*>& trained) {
    torch::NoGradGuard no_grad;
    for (Layer* layer : trained) {
      layer->weight.copy_(*ReconstructWeight(RoundCentroids(layer->centroids), layer->assignments,
                                             layer->weight.sizes()));
    }
  }

  // One distillation step of `trained`'s centroids, in the student's current mode, their
  // gradients averaged by `sync_gradients` before the update.
  DistillationStep Step(const at::Tensor& images, const std::vector<Layer*>& trained,
                        torch::optim::Optimizer& optimizer,
                        const distributed::GradientSync& sync_gradients = {}) {
    const at::Tensor target = TeacherLogits(images);
    optimizer.zero_grad();
    const at::Tensor logits = student->forward(images);
    const at::Tensor loss = KlToTeacher(logits, target);
    loss.backward();
    PullGradients(trained);
    std::vector<at::Tensor> centroids;
    for (const Layer* layer : trained) centroids.push_back(layer->centroids);
    if (sync_gradients) sync_gradients(centroids);
    if (options.grad_clip_norm() > 0) {
      torch::nn::utils::clip_grad_norm_(centroids, options.grad_clip_norm());
    }
    optimizer.step();
    WriteWeights(trained);
    return {loss.detach(), logits.detach()};
  }

  double ProbeLoss() const {
    torch::NoGradGuard no_grad;
    student->eval();
    student->ResetState();
    return KlToTeacher(student->forward(probe_images), probe_teacher_logits).item<double>();
  }

  absl::StatusOr<at::Tensor> CollectInputs(size_t index, const TrainBatches& batches) {
    Layer& layer = layers[index];
    student->eval();
    student->ResetState();
    std::vector<at::Tensor> rows;
    int64_t images_seen = 0;
    int64_t kept_rows = 0;
    absl::Status status;
    batches([&](const at::Tensor& images, const at::Tensor&) {
      torch::NoGradGuard no_grad;
      // Each batch contributes in proportion to its share of the n_activations images.
      const int64_t quota = std::max<int64_t>(
          1, (options.activation_rows() * images.size(0) + options.n_activations() - 1) /
                 options.n_activations());
      absl::StatusOr<at::Tensor> sample = SampleLayerInputs(
          layer.weight, [&] { student->forward(images); }, quota,
          options.seed() * 1000003 + index * 1009 + static_cast<uint64_t>(rows.size()));
      if (!sample.ok()) {
        status = sample.status();
        return false;
      }
      kept_rows += sample->size(0);
      rows.push_back(*std::move(sample));
      images_seen += images.size(0);
      return images_seen < options.n_activations() && kept_rows < options.activation_rows();
    });
    MC_RETURN_IF_ERROR(status);
    if (rows.empty()) return absl::InvalidArgumentError("the training batches are empty");
    return at::cat(rows).slice(0, 0, options.activation_rows());
  }

  absl::Status CompressLayer(size_t index, const TrainBatches& batches) {
    Layer& layer = layers[index];
    const LayerQuantization& plan = layer.plan;
    LayerReport report;
    report.name = plan.name;
    report.shape = plan.shape;
    report.block_size = plan.block_size;
    report.num_centroids = plan.num_centroids;
    report.num_subvectors = plan.num_subvectors;
    report.bytes = plan.num_subvectors * std::log2(static_cast<double>(plan.num_centroids)) / 8 +
                   2.0 * plan.num_centroids * plan.block_size;
    const auto fail = [&](const absl::Status& status) {
      return absl::Status(status.code(), absl::StrCat(plan.name, ": ", status.message()));
    };

    Clock::time_point start = Clock::now();
    absl::StatusOr<at::Tensor> inputs = CollectInputs(index, batches);
    if (!inputs.ok()) return fail(inputs.status());
    report.activations_seconds = SecondsSince(start);

    start = Clock::now();
    absl::StatusOr<at::Tensor> subvectors = WeightToSubvectors(layer.weight.detach(), plan.block_size);
    if (!subvectors.ok()) return fail(subvectors.status());
    absl::StatusOr<at::Tensor> activations = ActivationsToBlockRows(*inputs, plan.block_size);
    if (!activations.ok()) return fail(activations.status());
    absl::StatusOr<KMeansResult> kmeans = ActivationWeightedKMeans(
        *subvectors, *activations,
        KMeansOptions(plan.num_centroids).iterations(options.n_iter()).seed(options.seed() + index));
    if (!kmeans.ok()) return fail(kmeans.status());
    layer.centroids = kmeans->centroids.clone().set_requires_grad(true);
    layer.assignments = kmeans->assignments;
    layer.cluster_sizes =
        at::bincount(layer.assignments, {}, plan.num_centroids).to(at::kFloat).unsqueeze(1);
    WriteWeights({&layer});
    report.kmeans_objective = kmeans->final_objective;
    report.kmeans_seconds = SecondsSince(start);
    report.loss_after_kmeans = ProbeLoss();

    start = Clock::now();
    const at::Tensor kmeans_centroids = layer.centroids.detach().clone();
    if (options.finetune_steps() > 0) {
      layer.weight.set_requires_grad(true);
      const std::unique_ptr<torch::optim::SGD> optimizer = MakeOptimizer({&layer}, options.finetune_lr());
      ResetStates();
      int64_t steps = 0;
      batches([&](const at::Tensor& images, const at::Tensor&) {
        student->eval();  // BatchNorm statistics stay frozen
        Step(images, {&layer}, *optimizer);
        return ++steps < options.finetune_steps();
      });
      layer.weight.set_requires_grad(false);
    }
    report.finetune_seconds = SecondsSince(start);
    report.loss_after_finetune = ProbeLoss();
    if (report.loss_after_finetune > report.loss_after_kmeans) {
      // The fine-tuning diverged (e.g. a learning rate too large for the layer's inputs):
      // the k-means centroids are better on the probe batch, keep them.
      torch::NoGradGuard no_grad;
      layer.centroids.copy_(kmeans_centroids);
      WriteWeights({&layer});
      report.finetune_reverted = true;
    }

    seconds["activations"] += report.activations_seconds;
    seconds["kmeans"] += report.kmeans_seconds;
    seconds["layer_finetune"] += report.finetune_seconds;
    Log(absl::StrFormat(
        "layer %d/%d %s %s: block %d, k %d, %d input rows %.1f s; k-means %.1f s (objective "
        "%.4g); fine-tune %d steps %.1f s (probe loss %.4f -> %.4f%s)",
        index + 1, layers.size(), plan.name, ShapeString(plan.shape), plan.block_size,
        plan.num_centroids, inputs->size(0), report.activations_seconds, report.kmeans_seconds,
        report.kmeans_objective, options.finetune_steps(), report.finetune_seconds,
        report.loss_after_kmeans, report.loss_after_finetune,
        report.finetune_reverted ? ", higher: k-means centroids kept" : ""));
    reports.push_back(report);
    return absl::OkStatus();
  }

  // Teacher and student read the same windows from here on with the same context (recurrent
  // language models carry state between forwards).
  void ResetStates() {
    student->ResetState();
    teacher->ResetState();
  }

  std::vector<Layer*> AllLayers() {
    std::vector<Layer*> all;
    for (Layer& layer : layers) all.push_back(&layer);
    return all;
  }
};

VqCompressor::VqCompressor(std::unique_ptr<State> state) : state_(std::move(state)) {}
VqCompressor::~VqCompressor() = default;

absl::StatusOr<std::unique_ptr<VqCompressor>> VqCompressor::Create(
    std::shared_ptr<nn_models::Classifier> student, std::shared_ptr<nn_models::Classifier> teacher,
    const CompressorOptions& options) {
  MC_RETURN_IF_ERROR(Validate(options));
  if (student == nullptr || teacher == nullptr) {
    return absl::InvalidArgumentError("VqCompressor needs a student and a teacher");
  }
  auto state = std::make_unique<State>();
  state->student = std::move(student);
  state->teacher = std::move(teacher);
  state->options = options;
  state->teacher->eval();
  const std::vector<ParameterShape> shapes = ParameterShapes(*state->student);
  MC_ASSIGN_OR_RETURN(const std::vector<LayerQuantization> plan, PlanLayers(shapes, options.recipe()));
  MC_ASSIGN_OR_RETURN(state->size, ReferenceVqSize(shapes, options.recipe()));
  const torch::OrderedDict<std::string, at::Tensor> parameters = state->student->named_parameters();
  for (const auto& item : parameters) item.value().set_requires_grad(false);
  for (const LayerQuantization& layer : plan) {
    state->layers.push_back(Layer{layer, parameters[layer.name], {}, {}, {}});
  }
  return std::unique_ptr<VqCompressor>(new VqCompressor(std::move(state)));
}

absl::Status VqCompressor::CompressLayers(const TrainBatches& batches) {
  State& s = *state_;
  if (s.global_optimizer != nullptr) {
    return absl::FailedPreconditionError("CompressLayers was already called");
  }
  const Clock::time_point start = Clock::now();
  batches([&](const at::Tensor& images, const at::Tensor&) {
    s.probe_images = images;
    return false;
  });
  if (!s.probe_images.defined()) return absl::InvalidArgumentError("the training batches are empty");
  s.teacher->ResetState();
  s.probe_teacher_logits = s.TeacherLogits(s.probe_images);
  s.Log(absl::StrFormat("compressing %d layers; probe loss of the uncompressed student %.4f",
                        s.layers.size(), s.ProbeLoss()));
  for (size_t i = 0; i < s.layers.size(); ++i) MC_RETURN_IF_ERROR(s.CompressLayer(i, batches));
  s.global_optimizer = s.MakeOptimizer(s.AllLayers(), s.options.global_lr());
  s.seconds["layers"] = SecondsSince(start);
  s.Log(absl::StrFormat("layer-by-layer stage done in %.1f s", s.seconds["layers"]));
  return absl::OkStatus();
}

DistillationStep VqCompressor::GlobalStep(const at::Tensor& images,
                                          const distributed::GradientSync& sync_gradients) {
  State& s = *state_;
  TORCH_CHECK(s.global_optimizer != nullptr, "VqCompressor::GlobalStep before CompressLayers");
  const Clock::time_point start = Clock::now();
  for (Layer& layer : s.layers) layer.weight.set_requires_grad(true);
  if (!s.student->is_training()) s.ResetStates();
  s.student->train();  // BatchNorm statistics are updated
  DistillationStep step = s.Step(images, s.AllLayers(), *s.global_optimizer, sync_gradients);
  s.seconds["global_finetune"] += SecondsSince(start);
  return step;
}

absl::Status VqCompressor::GlobalFinetune(const TrainBatches& batches) {
  State& s = *state_;
  if (s.global_optimizer == nullptr) {
    return absl::FailedPreconditionError("GlobalFinetune before CompressLayers");
  }
  if (s.options.global_finetune_steps() == 0) return absl::OkStatus();
  for (int64_t epoch = 0; epoch < s.options.global_finetune_epochs(); ++epoch) {
    const double lr = s.options.global_lr() *
                      std::pow(s.options.global_lr_gamma(), epoch / s.options.global_lr_step_epochs());
    for (auto& group : s.global_optimizer->param_groups()) group.options().set_lr(lr);
    const Clock::time_point start = Clock::now();
    int64_t steps = 0;
    double loss_sum = 0;
    batches([&](const at::Tensor& images, const at::Tensor&) {
      loss_sum += GlobalStep(images).loss.item<double>();
      return ++steps < s.options.global_finetune_steps();
    });
    s.Log(absl::StrFormat("global fine-tuning epoch %d/%d: lr %g, %d steps, mean loss %.4f, %.1f s",
                          epoch + 1, s.options.global_finetune_epochs(), lr, steps,
                          steps > 0 ? loss_sum / steps : 0.0, SecondsSince(start)));
  }
  return absl::OkStatus();
}

torch::optim::Optimizer& VqCompressor::global_optimizer() {
  TORCH_CHECK(state_->global_optimizer != nullptr, "VqCompressor: no optimizer before CompressLayers");
  return *state_->global_optimizer;
}

absl::StatusOr<serialization::CompressedModel> VqCompressor::ToCompressedModel() const {
  const State& s = *state_;
  if (s.global_optimizer == nullptr) {
    return absl::FailedPreconditionError("the model is not compressed yet (call CompressLayers)");
  }
  serialization::CompressedModel model;
  model.set_method("vq");
  const VqSizeOptions& recipe = s.options.recipe();
  auto& method_options = *model.mutable_method_options();
  method_options["block_size_conv"] = absl::StrCat(recipe.block_size_conv());
  method_options["block_size_pointwise"] = absl::StrCat(recipe.block_size_pointwise());
  method_options["block_size_linear"] = absl::StrCat(recipe.block_size_linear());
  method_options["centroids_conv"] = absl::StrCat(recipe.centroids_conv());
  method_options["centroids_pointwise"] = absl::StrCat(recipe.centroids_pointwise());
  method_options["centroids_linear"] = absl::StrCat(recipe.centroids_linear());
  method_options["block_size_embedding"] = absl::StrCat(recipe.block_size_embedding());
  method_options["centroids_embedding"] = absl::StrCat(recipe.centroids_embedding());
  std::map<std::string, serialization::CompressedTensor> encoded;
  for (const Layer& layer : s.layers) {
    MC_ASSIGN_OR_RETURN(encoded[layer.plan.name],
                        EncodeCodebook(layer.plan.name, layer.weight.sizes(), layer.centroids,
                                       layer.assignments));
  }
  serialization::AppendModuleTensors(*s.student, std::move(encoded), model);
  return model;
}

const std::vector<LayerReport>& VqCompressor::layers() const { return state_->reports; }
const VqSize& VqCompressor::size() const { return state_->size; }
const std::map<std::string, double>& VqCompressor::seconds() const { return state_->seconds; }
const at::Tensor& VqCompressor::centroids(size_t i) const { return state_->layers.at(i).centroids; }
const at::Tensor& VqCompressor::assignments(size_t i) const { return state_->layers.at(i).assignments; }

void VqCompressor::Save(torch::serialize::OutputArchive& archive) const {
  const State& s = *state_;
  TORCH_CHECK(s.global_optimizer != nullptr, "VqCompressor::Save before CompressLayers");
  serialization::WriteNested(archive, "student", *s.student);
  for (size_t i = 0; i < s.layers.size(); ++i) {
    archive.write(absl::StrCat("centroids_", i), s.layers[i].centroids.detach());
    archive.write(absl::StrCat("assignments_", i), s.layers[i].assignments);
  }
  serialization::WriteNested(archive, "global_optimizer", *s.global_optimizer);
}

void VqCompressor::Load(torch::serialize::InputArchive& archive) {
  State& s = *state_;
  TORCH_CHECK(s.global_optimizer != nullptr, "VqCompressor::Load before CompressLayers");
  serialization::ReadNested(archive, "student", *s.student);
  for (size_t i = 0; i < s.layers.size(); ++i) {
    Layer& layer = s.layers[i];
    at::Tensor centroids, assignments;
    archive.read(absl::StrCat("centroids_", i), centroids);
    archive.read(absl::StrCat("assignments_", i), assignments);
    TORCH_CHECK(centroids.sizes() == layer.centroids.sizes() &&
                    assignments.sizes() == layer.assignments.sizes(),
                "VqCompressor::Load: layer ", layer.plan.name, " does not match the checkpoint");
    torch::NoGradGuard no_grad;
    layer.centroids.copy_(centroids);
    layer.assignments.copy_(assignments);
    layer.cluster_sizes =
        at::bincount(layer.assignments, {}, layer.plan.num_centroids).to(at::kFloat).unsqueeze(1);
  }
  State::WriteWeights(s.AllLayers());
  serialization::ReadNested(archive, "global_optimizer", *s.global_optimizer);
}

absl::StatusOr<CompressionResult> CompressModel(std::shared_ptr<nn_models::Classifier> student,
                                                std::shared_ptr<nn_models::Classifier> teacher,
                                                const TrainBatches& batches,
                                                const CompressorOptions& options) {
  MC_ASSIGN_OR_RETURN(std::unique_ptr<VqCompressor> compressor,
                      VqCompressor::Create(std::move(student), std::move(teacher), options));
  MC_RETURN_IF_ERROR(compressor->CompressLayers(batches));
  MC_RETURN_IF_ERROR(compressor->GlobalFinetune(batches));
  CompressionResult result;
  MC_ASSIGN_OR_RETURN(result.model, compressor->ToCompressedModel());
  result.layers = compressor->layers();
  result.size = compressor->size();
  result.seconds = compressor->seconds();
  return result;
}

}  // namespace mc::vq
