// File: float_training.h
// Supervised float training with cross-entropy (the baseline recipe every compression result
// is compared with, and the teacher that distillation and product quantization start from),
// plus the float32 passthrough encoding of a whole model in the shared format.
//
// Example:
//   auto method = std::make_unique<FloatTraining>(context.model, context.config.training());
#ifndef MC_EXPERIMENTS_FLOAT_TRAINING_H_
#define MC_EXPERIMENTS_FLOAT_TRAINING_H_

#include <memory>
#include <string>
#include <vector>

#include "experiments/training_method.h"
#include "nn_models/classifier.h"
#include "serialization/experiment_config.pb.h"

namespace torch::nn {
class Module;
}

namespace mc::experiments {

/// The optimizer of training.optimizer over `parameters`: SGD (momentum, nesterov, weight
/// decay) or Adam (weight decay), at training.lr.
std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(
    const serialization::TrainingConfig& training, const std::vector<at::Tensor>& parameters);

/// Every parameter of every group of `optimizers`, in order: the tensors a TrainStep averages
/// over the ranks before stepping them.
std::vector<at::Tensor> OptimizedParameters(const std::vector<torch::optim::Optimizer*>& optimizers);

/// Rescales the gradients of `parameters` so that their global L2 norm is at most `max_norm`
/// (Pascanu et al. 2013); nothing when max_norm is 0 (training.grad_clip_norm's default).
void ClipGradients(const std::vector<at::Tensor>& parameters, double max_norm);

/// The parameters, then the buffers, of `module`.
std::vector<at::Tensor> ParametersAndBuffers(const torch::nn::Module& module);

/// Every parameter and buffer of `module` stored as it is: float32 (int64 for integer
/// buffers such as BatchNorm's num_batches_tracked). Size: 4 bytes per parameter value.
CompressedResult EncodeFloatModel(const torch::nn::Module& module);

/// Loads a passthrough-encoded model into `module` by name.
/// \error kInvalidArgument listing missing, unexpected or mis-shaped tensors; kDataLoss for
/// corrupt tensors. `module` is unchanged on error.
absl::Status RestoreFloatModel(const serialization::CompressedModel& stored,
                               torch::nn::Module& module);

class FloatTraining : public TrainingMethod {
 public:
  FloatTraining(std::shared_ptr<nn_models::Classifier> model,
                const serialization::TrainingConfig& training);
  ~FloatTraining() override;

  std::string name() const override { return "float"; }
  StepResult TrainStep(const at::Tensor& images, const at::Tensor& labels) override;
  at::Tensor EvalLogits(const at::Tensor& images) override;
  std::vector<torch::optim::Optimizer*> ScheduledOptimizers() override;
  void Save(torch::serialize::OutputArchive& archive) override;
  void Load(torch::serialize::InputArchive& archive) override;
  absl::StatusOr<CompressedResult> Compress() override;
  void FillSummary(serialization::ExperimentSummary& summary) override;
  absl::Status Restore(const serialization::CompressedModel& stored,
                       nn_models::Classifier& fresh_model) override;
  std::vector<at::Tensor> ReplicatedTensors() override;

 private:
  std::shared_ptr<nn_models::Classifier> model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  double grad_clip_norm_;
};

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_FLOAT_TRAINING_H_
