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

/// Parses, runs, calls on_success and prints the result; returns the exit code.
int ExperimentMain(int argc, char** argv, const ExperimentSpec& spec);

/// The float training recipe used by every experiment unless it says otherwise: SGD with
/// Nesterov momentum 0.9, lr 0.1, weight decay 5e-4, batch 128, cosine annealing, seed 1.
serialization::ExperimentConfig BaselineRecipe(absl::string_view dataset);

/// The configuration that trains `model` with the baseline recipe on the data of `like`, with
/// its epochs, seed, threads, batch limits and experiment name, into `output_dir`: the
/// teacher or float starting point a method trains first when none is given.
serialization::ExperimentConfig BaselineConfigLike(const serialization::ExperimentConfig& like,
                                                   absl::string_view model,
                                                   const std::string& output_dir);

/// The test accuracy recorded for `model_file` by the run that wrote it: that of the
/// summary.json beside it, when the summary names this file; nullopt otherwise.
std::optional<double> RecordedTestAccuracy(const std::string& model_file);

/// Runs `config` with `factory` from a float model: records that model's test accuracy in the
/// run's summary (from `float_run` when it was trained in this invocation, otherwise as
/// recorded beside `float_model_file`) and prints the float run, when there is one, and this
/// run side by side.
absl::Status RunFromFloatModel(const serialization::ExperimentConfig& config, const MethodFactory& factory,
                               const std::optional<serialization::ExperimentSummary>& float_run,
                               const std::string& float_model_file);

/// Float training (experiments/float_training.h), the factory of baseline runs.
absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeFloatTraining(const MethodContext& context);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_EXPERIMENT_MAIN_H_
