// File: training_method.h
// What a compression method plugs into the experiment runner: how one training step is
// done, how the model is evaluated, what is checkpointed, and how the trained model is
// written in the shared compressed-model format and read back. The runner owns everything
// else (data, epochs, learning-rate schedule, checkpoints, metrics, summary).
//
// In a data-parallel run, TrainStep hands the tensors it is about to update to
// gradient_sync() between its backward pass and its optimizer steps (or passes it to a
// library that runs the step), so that every rank applies the global batch's update.
//
// Example (the float baseline):
//   class FloatTraining : public TrainingMethod { ... };
//   RunExperiment(config, [](const MethodContext& context) {
//     return std::make_unique<FloatTraining>(context);
//   });
#ifndef MC_EXPERIMENTS_TRAINING_METHOD_H_
#define MC_EXPERIMENTS_TRAINING_METHOD_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "distributed/gradient_sync.h"
#include "nn_models/classifier.h"
#include "serialization/compressed_model.pb.h"
#include "serialization/experiment_config.pb.h"
#include "serialization/summary.pb.h"

namespace torch::optim {
class Optimizer;
}
namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

namespace mc::experiments {

/// Loss and logits of one training batch, for the running metrics.
struct StepResult {
  at::Tensor loss;    ///< 0-d float, already backpropagated and applied by the method
  at::Tensor logits;  ///< (B, num_classes)
};

/// A trained model in the shared format, and its size by the method's own formula.
struct CompressedResult {
  serialization::CompressedModel model;  ///< tensors, method and method_options
  double model_size_mb = 0;              ///< MB = 2^20 bytes
  std::vector<serialization::LayerSummary> layers;
};

class TrainingMethod {
 public:
  virtual ~TrainingMethod() = default;

  /// Name recorded in the model file and the summary, e.g. "float", "diffq".
  virtual std::string name() const = 0;

  /// Trains on one batch: forward, loss, backward and optimizer step(s).
  /// images: (B, C, H, W) float32; labels: (B) int64.
  virtual StepResult TrainStep(const at::Tensor& images, const at::Tensor& labels) = 0;

  /// Logits of the model as this method evaluates it (e.g. quantized), in eval mode.
  virtual at::Tensor EvalLogits(const at::Tensor& images) = 0;

  /// Optimizers whose parameter groups follow the configured learning-rate schedule
  /// (scaled relative to each group's initial rate).
  virtual std::vector<torch::optim::Optimizer*> ScheduledOptimizers() = 0;

  /// All state a resumed run needs (model, optimizers, method state).
  virtual void Save(torch::serialize::OutputArchive& archive) = 0;
  virtual void Load(torch::serialize::InputArchive& archive) = 0;

  /// Called by the runner before every training step with the fraction of the run's steps
  /// done, in [0, 1), for losses that follow it (e.g. an annealed distillation weight).
  virtual void SetTrainingProgress(double progress) { (void)progress; }

  /// Extra per-epoch values for metrics.jsonl and the TensorBoard events, e.g.
  /// {"model_size_mb": 0.12} (see runner.h for their tags).
  virtual std::map<std::string, double> EpochExtras() { return {}; }

  /// Per-epoch distributions for TensorBoard histograms, tagged "<name()>/<key>", e.g.
  /// {"bits_per_layer": {2.4, 3.1, ...}}; every series has at least one value, all finite.
  virtual std::map<std::string, std::vector<double>> EpochHistograms() { return {}; }

  /// The trained model in the shared format.
  /// \error when the method cannot encode or size its model.
  virtual absl::StatusOr<CompressedResult> Compress() = 0;

  /// Adds what only the method knows to the summary (e.g. float_test_accuracy).
  virtual void FillSummary(serialization::ExperimentSummary& summary) { (void)summary; }

  /// Loads what Compress() wrote (as read back from disk) into a freshly built model of the
  /// same architecture, for the final evaluation of the file.
  /// \error on names, shapes or encodings that do not fit the model; the model is then
  /// left unchanged.
  virtual absl::Status Restore(const serialization::CompressedModel& stored,
                               nn_models::Classifier& fresh_model) = 0;

  /// Every tensor data-parallel ranks must hold alike: the trained model's parameters and
  /// buffers and whatever else the optimizers train (bit logits, step sizes, points,
  /// centroids, a meta network). The runner copies rank 0's to the other ranks before the
  /// first step and at the end of every epoch (so BatchNorm statistics are rank 0's).
  virtual std::vector<at::Tensor> ReplicatedTensors() = 0;

  /// Set by the runner of a data-parallel run before the first step; empty otherwise.
  void set_gradient_sync(distributed::GradientSync sync) { gradient_sync_ = std::move(sync); }

 protected:
  /// Averages gradients over the ranks (distributed/gradient_sync.h); TrainStep calls it
  /// through distributed::SyncGradients or hands it to a library step.
  const distributed::GradientSync& gradient_sync() const { return gradient_sync_; }

 private:
  distributed::GradientSync gradient_sync_;
};

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_TRAINING_METHOD_H_
