// File: compressor.h
// "And the bit goes down" (Stock et al. 2020) end to end: a trained classifier compressed
// layer by layer into product-quantized weights (one codebook of k centroids per layer,
// vq/layout.h), each codebook fine-tuned by distillation from the uncompressed teacher, then
// all codebooks fine-tuned together.
//
// Order (the reference's quantize.py): every convolution and linear weight in registration
// order except the first one (vq/size.h's PlanLayers), bottom-up. For each layer:
//   1. inputs: its input rows in the partly compressed student (eval mode, earlier layers
//      already compressed and fine-tuned), on n_activations training images; convolutions give
//      activation_rows sampled im2col patches (vq/layer_inputs.h), linear layers their inputs;
//   2. k-means of the weight's subvectors weighted by those inputs (vq/kmeans.h), with the
//      block size and number of centroids of the layer's kind (3x3 convolution / 1x1
//      convolution / linear), capped at n_subvectors / 4 as the reference does;
//   3. the weight is rebuilt from (centroids, assignments);
//   4. finetune_steps steps of distillation on that layer's centroids alone: loss
//      KL(teacher || student) of the softmaxes at temperature 1, averaged over the batch
//      (batchmean), no labels; student in eval mode (BatchNorm statistics frozen); SGD with
//      momentum 0.9 and weight decay 1e-4 at finetune_lr 0.05. If that raises the loss on a
//      fixed probe batch (a diverging step size), the k-means centroids are kept.
// Then global fine-tuning: the same loss on all centroids at once, student in train mode
// (BatchNorm statistics updated; BatchNorm affine parameters, biases and the first layer are
// not trained), global_lr 0.01 divided by 10 every global_lr_step_epochs (paper, section 4.1;
// the reference's code silently uses its layer-wise optimizer's rates instead).
//
// Centroids are the trained parameters: the weight is always rebuilt from them and the fixed
// assignments, so members of a cluster stay identical. Their gradient is the mean of the
// members' weight gradients (the chain rule through W = C[a], divided by the cluster size as
// the reference's CentroidSGD does), then SGD steps the centroids. The weight is rebuilt from
// the centroids rounded to float16, the precision of the file (vq/codebook_codec.h), so the
// model in memory computes exactly what the written model computes.
//
// Example:
//   auto student = nn_models::Clone(*teacher);
//   MC_ASSIGN_OR_RETURN(CompressionResult result,
//       CompressModel(student, teacher, BatchesFrom(train_loader),
//                     CompressorOptions().n_iter(30).finetune_steps(100).log(&std::cout)));
//   // result.model: codebook tensors and float32 passthrough for the rest; result.layers:
//   // block size, k and bytes per layer; result.size: the reference's size formula.
#ifndef MC_VQ_COMPRESSOR_H_
#define MC_VQ_COMPRESSOR_H_

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "distributed/gradient_sync.h"
#include "serialization/compressed_model.pb.h"
#include "vq/size.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim
namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize
namespace mc::data {
class BatchSource;
}  // namespace mc::data
namespace mc::nn_models {
class Classifier;
}  // namespace mc::nn_models

namespace mc::vq {

/// Called with each training batch: images (B, C, H, W) float32 and labels (B) int64 (unused:
/// the compressor learns from the teacher alone). Returning false ends the stream.
using BatchFn = std::function<bool(const at::Tensor& images, const at::Tensor& labels)>;

/// A stream of training batches: each call feeds `fn` batches until it returns false, going
/// on to further epochs if needed; successive calls continue with new batches.
using TrainBatches = std::function<void(const BatchFn& fn)>;

/// The batches of `loader`, epoch after epoch (epochs 0, 1, ... across calls). `loader` must
/// outlive the returned stream.
TrainBatches BatchesFrom(const data::BatchSource& loader);

/// Where progress goes (an alias, because TORCH_ARG spells `const T&` textually).
using LogStream = std::ostream*;

struct CompressorOptions {
  /// Block sizes and centroids per kind of layer, and the cap's threshold. Default: the
  /// reference's ResNet-18 "small blocks" recipe (9 / 4 / 4, k = 256 / 256 / 2048).
  TORCH_ARG(VqSizeOptions, recipe) = VqSizeOptions();
  /// k-means iterations per layer (--n-iter). Default: 100, the reference's.
  TORCH_ARG(int64_t, n_iter) = 100;
  /// Training examples (the batches' first dimension: images, or the time steps of token
  /// windows) whose inputs to each layer weight its k-means (--n-activations), rounded up to
  /// whole batches. Default: 1024, the reference's.
  TORCH_ARG(int64_t, n_activations) = 1024;
  /// Input rows kept per layer: im2col patches of a convolution (drawn from each batch in
  /// proportion) or input rows of a linear layer. The k-means metric is the Gram matrix of
  /// these rows cut into blocks (vq/kmeans.h). Default: 4096.
  TORCH_ARG(int64_t, activation_rows) = 4096;
  /// Distillation steps per layer on its centroids (--finetune-centroids). Default: 2500.
  TORCH_ARG(int64_t, finetune_steps) = 2500;
  /// SGD of the layer-wise fine-tuning (--lr-centroids, --momentum-centroids,
  /// --weight-decay-centroids). Defaults: 0.05, 0.9, 1e-4.
  TORCH_ARG(double, finetune_lr) = 0.05;
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(double, weight_decay) = 1e-4;
  /// Global fine-tuning: epochs of global_finetune_steps steps (--finetune-whole-epochs,
  /// --finetune-whole). Defaults: 9 and 10000.
  TORCH_ARG(int64_t, global_finetune_epochs) = 9;
  TORCH_ARG(int64_t, global_finetune_steps) = 10000;
  /// Initial learning rate of the global fine-tuning (paper: 0.01), multiplied by
  /// global_lr_gamma every global_lr_step_epochs epochs (paper: 0.1 every 3). Momentum and
  /// weight decay as above.
  TORCH_ARG(double, global_lr) = 0.01;
  TORCH_ARG(int64_t, global_lr_step_epochs) = 3;
  TORCH_ARG(double, global_lr_gamma) = 0.1;
  /// Centroid gradients are clipped to this total norm before each step (after averaging
  /// across ranks), as recurrent language models are trained; 0: no clipping. Default: 0.
  TORCH_ARG(double, grad_clip_norm) = 0;
  /// Seed of the k-means and of the activation draws. Default: 0.
  TORCH_ARG(uint64_t, seed) = 0;
  /// Progress, one line per layer with the wall time of each stage; nullptr: silent.
  TORCH_ARG(LogStream, log) = nullptr;
};

/// Checks every option: positive counts (finetune_steps and the global ones may be 0),
/// positive learning rates, momentum in [0, 1), weight_decay >= 0, gamma in (0, 1],
/// grad_clip_norm >= 0.
/// \returns OK, or kInvalidArgument naming the field and value.
absl::Status Validate(const CompressorOptions& options);

/// One compressed layer, as reported.
struct LayerReport {
  std::string name;            ///< the weight's parameter name, e.g. "layer1.0.conv1.weight"
  std::vector<int64_t> shape;  ///< the weight's shape
  int64_t block_size = 0;
  int64_t num_centroids = 0;   ///< after the cap
  int64_t num_subvectors = 0;
  /// The reference's bytes for the layer: indices at log2(k) bits plus float16 centroids.
  double bytes = 0;
  double kmeans_objective = 0;   ///< final activation-weighted objective
  /// Distillation loss on a fixed probe batch (the stream's first), student in eval mode,
  /// right after k-means and after the layer's fine-tuning.
  double loss_after_kmeans = 0;
  double loss_after_finetune = 0;
  /// The fine-tuning raised the probe loss, so the layer kept its k-means centroids.
  bool finetune_reverted = false;
  double activations_seconds = 0;  ///< wall time of each stage
  double kmeans_seconds = 0;
  double finetune_seconds = 0;
};

/// Loss and logits of one distillation step.
struct DistillationStep {
  at::Tensor loss;    ///< 0-d, KL(teacher || student), batchmean
  at::Tensor logits;  ///< the student's (B, num_classes), detached
};

/// KL(softmax(teacher) || softmax(student)) summed over classes and averaged over the batch.
/// student_logits, teacher_logits: (B, num_classes). Differentiable in student_logits.
at::Tensor KlToTeacher(const at::Tensor& student_logits, const at::Tensor& teacher_logits);

/// The compressor's state over its two stages: CompressLayers, then GlobalFinetune (or
/// GlobalStep, for a caller that runs its own loop, e.g. the experiment runner).
class VqCompressor {
 public:
  /// `student` is compressed in place: it should start as a copy of `teacher` (same
  /// architecture). Only the compressed weights keep requires_grad.
  /// \error kInvalidArgument for invalid options or a layer the recipe cannot cut (vq/size.h's
  ///   PlanLayers: the message names it).
  static absl::StatusOr<std::unique_ptr<VqCompressor>> Create(
      std::shared_ptr<nn_models::Classifier> student,
      std::shared_ptr<nn_models::Classifier> teacher, const CompressorOptions& options);
  ~VqCompressor();

  /// Stage 1: compresses and fine-tunes every planned layer, in order. Call once.
  /// \error from the layer inputs or the k-means (naming the layer), kFailedPrecondition if
  ///   called twice, kInvalidArgument if `batches` yields no batch.
  absl::Status CompressLayers(const TrainBatches& batches);

  /// Stage 2, whole: global_finetune_epochs epochs of global_finetune_steps GlobalStep calls,
  /// with the step learning-rate schedule. \error kFailedPrecondition before CompressLayers.
  absl::Status GlobalFinetune(const TrainBatches& batches);

  /// One global fine-tuning step on `images` (student in train mode). A data-parallel caller
  /// passes `sync_gradients`, which averages the centroids' gradients before the update.
  /// Throws c10::Error before CompressLayers.
  DistillationStep GlobalStep(const at::Tensor& images,
                              const distributed::GradientSync& sync_gradients = {});

  /// The optimizer of the global fine-tuning (all centroids), e.g. for a learning-rate
  /// schedule. Throws c10::Error before CompressLayers.
  torch::optim::Optimizer& global_optimizer();

  /// The compressed model: a CodebookEncoding per compressed layer and every other parameter
  /// and buffer (first layer, biases, BatchNorm parameters and statistics) as float32
  /// passthrough, in the student's named_parameters() then named_buffers() order. The
  /// caller fills in the architecture (`model`) and data set.
  /// \error kFailedPrecondition before CompressLayers.
  absl::StatusOr<serialization::CompressedModel> ToCompressedModel() const;

  /// Per-layer results, in compression order.
  const std::vector<LayerReport>& layers() const;

  /// The reference's size of the compressed student (vq/size.h).
  const VqSize& size() const;

  /// Wall time of each stage, in seconds: "activations", "kmeans", "layer_finetune" (sums over
  /// layers), "layers" (the whole stage 1) and "global_finetune".
  const std::map<std::string, double>& seconds() const;

  /// The centroids (float32, not rounded) and assignments of layer i of layers().
  const at::Tensor& centroids(size_t i) const;
  const at::Tensor& assignments(size_t i) const;

  /// Everything stage 2 changes (student parameters and buffers, centroids, the global
  /// optimizer) and the assignments, for checkpoints. Load expects a compressor of the same
  /// model and recipe after CompressLayers.
  void Save(torch::serialize::OutputArchive& archive) const;
  void Load(torch::serialize::InputArchive& archive);

 private:
  struct State;
  explicit VqCompressor(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

/// The result of CompressModel.
struct CompressionResult {
  serialization::CompressedModel model;
  std::vector<LayerReport> layers;
  VqSize size;
  std::map<std::string, double> seconds;
};

/// Both stages on `student` (compressed in place), as VqCompressor.
absl::StatusOr<CompressionResult> CompressModel(std::shared_ptr<nn_models::Classifier> student,
                                                std::shared_ptr<nn_models::Classifier> teacher,
                                                const TrainBatches& batches,
                                                const CompressorOptions& options);

}  // namespace mc::vq

#endif  // MC_VQ_COMPRESSOR_H_
