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
#include <string>

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
  /// Called after a successful run, e.g. to write extra outputs.
  std::function<absl::Status(const serialization::ExperimentSummary&)> on_success;
};

int ExperimentMain(int argc, char** argv, const ExperimentSpec& spec);

/// The float training recipe used by every experiment unless it says otherwise: SGD with
/// Nesterov momentum 0.9, lr 0.1, weight decay 5e-4, batch 128, cosine annealing, seed 1.
serialization::ExperimentConfig BaselineRecipe(absl::string_view dataset);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_EXPERIMENT_MAIN_H_
