// File: quantized_training.h
// Training with a weight quantizer of package quant (DiffQ, uniform QAT, LSQ, bucketed
// uniform) inside the experiment runner: every training step runs in the quantizer's
// TrainingStep scope with loss = task loss (cross-entropy, or e.g. a distillation loss)
// + penalty * model_size(); evaluation uses the true quantized weights
// (computed once per evaluation); the model file is the quantizer's state. Data-parallel runs
// average the gradients of both optimizers' tensors (model weights, and e.g. DiffQ's bit
// logits or LSQ's step sizes) before stepping them.
//
// Example:
//   auto method = std::make_unique<QuantizedTraining>("diffq", context.model,
//       context.config.training(), /*penalty=*/5, [](auto model, auto* optimizer) { ... });
#ifndef MC_EXPERIMENTS_QUANTIZED_TRAINING_H_
#define MC_EXPERIMENTS_QUANTIZED_TRAINING_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "experiments/training_method.h"
#include "nn_models/classifier.h"
#include "quant/base_quantizer.h"
#include "serialization/experiment_config.pb.h"

namespace mc::experiments {

/// A quantizer attached to a model, and the optimizer of its own parameters when it has a
/// separate one (DiffQ's bits); `model_optimizer` is null when the quantizer only restores
/// a state (then it must not need an optimizer).
struct QuantizerSetup {
  std::unique_ptr<quant::BaseQuantizer> quantizer;
  std::unique_ptr<torch::optim::Optimizer> quantizer_optimizer;
};
using QuantizerBuilder = std::function<QuantizerSetup(std::shared_ptr<torch::nn::Module> model,
                                                      torch::optim::Optimizer* model_optimizer)>;

/// The task loss of a training step from the logits of `images` and their labels; the
/// default is cross-entropy (distillation passes a teacher's loss).
using TrainingLoss = std::function<at::Tensor(const at::Tensor& logits, const at::Tensor& images,
                                              const at::Tensor& labels)>;

class QuantizedTraining : public TrainingMethod {
 public:
  /// loss = training_loss (cross-entropy when null) + penalty * model_size().
  QuantizedTraining(std::string name, std::shared_ptr<nn_models::Classifier> model,
                    const serialization::TrainingConfig& training, double penalty,
                    QuantizerBuilder builder, TrainingLoss training_loss = nullptr);
  ~QuantizedTraining() override;

  std::string name() const override { return name_; }
  StepResult TrainStep(const at::Tensor& images, const at::Tensor& labels) override;
  at::Tensor EvalLogits(const at::Tensor& images) override;
  std::vector<torch::optim::Optimizer*> ScheduledOptimizers() override;
  void Save(torch::serialize::OutputArchive& archive) override;
  void Load(torch::serialize::InputArchive& archive) override;
  std::map<std::string, double> EpochExtras() override;
  /// "bits_per_layer": the mean stored bits of each quantized parameter, as its LayerSummary
  /// reports them (for DiffQ, the learned widths); nothing when no parameter is quantized.
  std::map<std::string, std::vector<double>> EpochHistograms() override;
  absl::StatusOr<CompressedResult> Compress() override;
  void FillSummary(serialization::ExperimentSummary& summary) override;
  absl::Status Restore(const serialization::CompressedModel& stored,
                       nn_models::Classifier& fresh_model) override;
  std::vector<at::Tensor> ReplicatedTensors() override;

  const quant::BaseQuantizer& quantizer() const { return *setup_.quantizer; }

 private:
  std::string name_;
  std::shared_ptr<nn_models::Classifier> model_;
  double penalty_;
  QuantizerBuilder builder_;
  TrainingLoss training_loss_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  QuantizerSetup setup_;
  double grad_clip_norm_;
};

/// Stored widths of uniform-encoded weights: their mean and how many weights have each.
struct BitsStatistics {
  int64_t weights = 0;
  double mean_bits = 0;
  std::map<int32_t, int64_t> histogram;  ///< width -> weights
};
/// Of one tensor (empty statistics if it is not uniform-encoded).
BitsStatistics StoredBitsStatistics(const serialization::CompressedTensor& tensor);
/// Of every uniform-encoded tensor of a state.
BitsStatistics StoredBitsStatistics(const serialization::CompressedModel& state);

/// One LayerSummary per parameter of `model` stored in `state` (buffers are not counted):
/// uniform tensors at their mean stored width taking `uniform_bytes(tensor)` bytes,
/// passthrough ones at 16 or 32 bits.
std::vector<serialization::LayerSummary> ParameterLayerSummaries(
    const torch::nn::Module& model, const serialization::CompressedModel& state,
    const std::function<double(const serialization::CompressedTensor&)>& uniform_bytes);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_QUANTIZED_TRAINING_H_
