// File: diffq_method.h
// DiffQ (Défossez et al. 2021, quant/diffq.h) and its baselines, uniform QAT and LSQ, as
// methods of the experiment runner (quantization.method: diffq, qat, lsq or float), and the
// experiments made of several of them: float and DiffQ side by side, and a sweep of DiffQ's
// size penalty with its accuracy/size front. cifar_diffq is this method behind flags.
//
// Example:
//   ExperimentConfig config = DiffqDefaults("fashion_mnist");
//   config.mutable_quantization()->set_penalty(10);
//   MC_RETURN_IF_ERROR(ValidateQuantizationConfig(config));
//   MC_RETURN_IF_ERROR(RunDiffqExperiment(config, /*sweep_penalties=*/{}));
#ifndef MC_EXPERIMENTS_DIFFQ_METHOD_H_
#define MC_EXPERIMENTS_DIFFQ_METHOD_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiments/runner.h"
#include "experiments/training_method.h"
#include "serialization/experiment_config.pb.h"

namespace mc::experiments {

/// The reference's CIFAR recipe (200 epochs, bits learned at 1e-3). The (Fashion-)MNIST
/// defaults are a short run, 3 epochs, so the bits learn at 2e-3 to settle within it.
serialization::ExperimentConfig DiffqDefaults(absl::string_view dataset);

/// LanguageModelRecipe (experiment_main.h) with the quantization settings of the reference's
/// language-model runs (groups of 8 weights, widths 2 to 15 from 8), a penalty of 0.5 per MB
/// and the bits learned at 5e-3, so that they settle within the recipe's few epochs (at 1e-3
/// a 2 x 200 LSTM is still at 4.3 bits after 5 epochs; README, "Language models").
serialization::ExperimentConfig LanguageModelDiffqDefaults(absl::string_view dataset);

/// Checks the quantization section. \error kInvalidArgument naming the field and its range.
absl::Status ValidateQuantizationConfig(const serialization::ExperimentConfig& config);

/// The method of quantization.method (DiffQ when unset) training context.model.
absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeQuantizationTraining(const MethodContext& context);

/// The experiment: with `sweep_penalties`, the float model, QAT at 4 and 8 bits and DiffQ at
/// every penalty, then pareto.csv and pareto.svg of their front; otherwise, without a method,
/// the float model and DiffQ side by side (in float/ and diffq/, the DiffQ summary with the
/// float accuracy also at the top of the output directory); otherwise the one method. Prints
/// the results.
absl::Status RunDiffqExperiment(const serialization::ExperimentConfig& config,
                                const std::vector<double>& sweep_penalties);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_DIFFQ_METHOD_H_
