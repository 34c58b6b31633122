// File: vq_method.h
// "And the bit goes down" (Stock et al. 2020, vq/compressor.h) as a method of the experiment
// runner: a trained float model (vq.teacher) compressed layer by layer into product-quantized
// weights when the method is built, then the runner's epochs fine-tune every codebook by
// distillation from the float model (the global fine-tuning, at training.lr). A resumed run
// repeats the layer-by-layer stage, then loads the checkpoint of the global fine-tuning over
// it. cifar_vq is this method behind flags.
//
// Example:
//   ExperimentConfig config = VqDefaults("fashion_mnist");
//   config.mutable_vq()->set_teacher("runs/float/model.mcm");
//   MC_RETURN_IF_ERROR(ValidateVqConfig(config));
//   MC_ASSIGN_OR_RETURN(ExperimentSummary summary, RunConfig(config, &MakeVqTraining));
#ifndef MC_EXPERIMENTS_VQ_METHOD_H_
#define MC_EXPERIMENTS_VQ_METHOD_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiments/experiment_main.h"
#include "experiments/runner.h"
#include "experiments/training_method.h"
#include "serialization/experiment_config.pb.h"

namespace mc::experiments {

/// The reference's recipe (small blocks, its SGD settings, the paper's global learning rate
/// of 0.01 divided by 10 every 3 epochs), with a budget sized for 2 CPU cores: ResNet-18 on
/// Fashion-MNIST in about half an hour (see the top-level README).
serialization::ExperimentConfig VqDefaults(absl::string_view dataset);

/// LanguageModelRecipe (experiment_main.h) with blocks of 5 values and 1024 centroids for the
/// embedding table (2 bits a weight: it holds most of a small LM's weights, and the tied
/// decoder reads it too; blocks of 4 with 256 centroids, the same 2 bits, lost more: +15.0%
/// perplexity against +12.9% on the small LSTM) and fairseq iPQ's 8 and 256 for every LSTM or
/// linear weight matrix; the k-means weighted by the inputs of 2048 time steps, 50 steps of
/// fine-tuning per layer at 2, and three epochs of global fine-tuning by SGD at 10,
/// cosine-annealed (README, "Language models": 16.1x on the small LSTM).
serialization::ExperimentConfig LanguageModelVqDefaults(absl::string_view dataset);

/// Checks the vq section (and the recipe's block sizes and centroids).
/// \error kInvalidArgument naming the field.
absl::Status ValidateVqConfig(const serialization::ExperimentConfig& config);

/// Product quantization of context.model, which starts as the float model file vq.teacher
/// (also the distillation teacher); runs the layer-by-layer stage on context.train_loader.
/// \error when the teacher cannot be loaded or a layer cannot be compressed.
absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeVqTraining(const MethodContext& context);

/// Caps training.max_train_batches at vq.global_finetune_steps (when > 0): the steps of
/// one global fine-tuning epoch.
void LimitGlobalFinetuneSteps(serialization::ExperimentConfig& config);

/// vq.teacher, trained with the baseline recipe (the data set's baseline epochs) in teacher/
/// when empty; the global fine-tuning steps limit only the method's run.
FloatStartingPoint VqStartingPoint();

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_VQ_METHOD_H_
