// File: experiment_main.h
// The main() every experiment binary shares: parses the flags (unknown flags and stray
// arguments are errors), resolves the configuration, runs the experiment and prints a short
// result table. Errors end the program with one clear line and exit code 1, never a trace.
//
// Example:
//   int main(int argc, char** argv) {
//     return mc::experiments::ExperimentMain(argc, argv, {"cifar_baseline", "cifar10",
//                                            &Defaults, &MakeMethod});
//   }
#ifndef MC_EXPERIMENTS_EXPERIMENT_MAIN_H_
#define MC_EXPERIMENTS_EXPERIMENT_MAIN_H_

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "experiments/config_flags.h"
#include "experiments/runner.h"

namespace mc::experiments {

/// Where a method starts from a trained float model (cifar_metaquant, cifar_vq): the
/// configuration's field that names the model file; when it is empty, the float model is
/// trained first with the baseline recipe, in a subdirectory of the output directory, and the
/// two runs are printed side by side.
struct FloatStartingPoint {
  /// The field, e.g. `[](ExperimentConfig& c) { return c.mutable_vq()->mutable_teacher(); }`.
  std::function<std::string*(serialization::ExperimentConfig&)> model_file;
  /// Subdirectory of the output directory the float model is trained in, e.g. "float".
  std::string subdirectory;
  /// What the float model is to the method, for the log, e.g. "the float model to compress".
  std::string role;
  /// Train it for the epochs of the data set's float recipe (FloatRecipe) rather than the
  /// run's own.
  bool baseline_epochs = false;
  /// Changes the method's configuration once the float model exists (optional): settings
  /// that must not apply to the float model's training.
  std::function<void(serialization::ExperimentConfig&)> adjust_run;
};

struct ExperimentSpec {
  /// Binary and experiment name, e.g. "cifar_baseline".
  std::string name;
  /// One line saying what the experiment does, for --help.
  std::string description;
  /// Data set when neither --config nor --dataset names one.
  std::string default_dataset;
  ConfigDefaults defaults;
  MethodFactory factory;
  /// Called after a successful run, e.g. to write extra outputs (by rank 0 alone).
  std::function<absl::Status(const serialization::ExperimentSummary&)> on_success;
  /// Applies the experiment's own flags and checks its config section (optional).
  std::function<absl::Status(serialization::ExperimentConfig&)> configure;
  /// The trained float model the method starts from (optional).
  std::optional<FloatStartingPoint> float_start;
  /// Runs the experiment in place of one run of `factory` (optional), for experiments made of
  /// several runs (cifar_diffq's comparison and sweep, cifar_distill's registry); prints its
  /// own results.
  std::function<absl::Status(const serialization::ExperimentConfig&)> run;
};

/// Parses the command line and builds the validated configuration. Prints the problem and
/// returns nullopt on unknown flags, stray arguments or an invalid configuration.
std::optional<serialization::ExperimentConfig> ParseExperimentConfig(int argc, char** argv,
                                                                     const ExperimentSpec& spec);

/// Runs one configuration; LibTorch exceptions become errors. A data-parallel configuration
/// connects this process to the other ranks on its first run (kept for the process's later
/// runs, which must use the same distributed section).
absl::StatusOr<serialization::ExperimentSummary> RunConfig(
    const serialization::ExperimentConfig& config, const MethodFactory& factory);

/// Prints one line per summary: method, accuracy, size, ratio, mean bits, model file.
void PrintResults(const std::vector<serialization::ExperimentSummary>& summaries,
                  std::ostream& out);

/// Parses, runs (spec.run, or the float starting point then the method, or the method
/// alone), calls on_success and prints the result; returns the exit code.
int ExperimentMain(int argc, char** argv, const ExperimentSpec& spec);

/// The float training recipe used by every experiment unless it says otherwise: SGD with
/// Nesterov momentum 0.9, lr 0.1, weight decay 5e-4, batch 128, cosine annealing, seed 1.
serialization::ExperimentConfig BaselineRecipe(absl::string_view dataset);

/// The float recipe of the language models, after PyTorch's word_language_model: lstm_lm_small,
/// 20 streams in windows of 35 steps, plain SGD at lr 20 with gradients clipped to norm 0.25,
/// cosine annealing, 6 epochs, evaluation over 10 streams, seed 1.
serialization::ExperimentConfig LanguageModelRecipe(absl::string_view dataset);

/// The float recipe of `dataset`: LanguageModelRecipe for a text corpus, BaselineRecipe
/// otherwise (and for a name that is no data set, which the run reports).
serialization::ExperimentConfig FloatRecipe(absl::string_view dataset);

/// The configuration that trains `model` (a registry name, or a model written in Python)
/// with the float recipe of the data of `like`, with its epochs, seed, threads, batch limits
/// and experiment name, into `output_dir`: the teacher or float starting point a method
/// trains first when none is given.
serialization::ExperimentConfig BaselineConfigLike(const serialization::ExperimentConfig& like,
                                                   const serialization::ModelConfig& model,
                                                   const std::string& output_dir);

/// The test accuracy recorded for `model_file` by the run that wrote it: that of the
/// summary.json beside it, when the summary names this file; nullopt otherwise.
std::optional<double> RecordedTestAccuracy(const std::string& model_file);

/// Float training (experiments/float_training.h), the factory of baseline runs.
absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeFloatTraining(const MethodContext& context);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_EXPERIMENT_MAIN_H_
