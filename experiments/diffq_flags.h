// File: diffq_flags.h
// The DiffQ experiments (cifar_diffq, lm_diffq) behind their command-line flags: the method
// (--method=diffq|qat|lsq|float, --bits), DiffQ's options (--penalty, --group_size, ...) and
// --sweep_penalty. Linking this library defines the flags.
//
// Example (a binary's main):
//   return ExperimentMain(argc, argv, DiffqExperimentSpec("lm_diffq", "...", "kjv",
//                                                         &LanguageModelDiffqDefaults));
#ifndef MC_EXPERIMENTS_DIFFQ_FLAGS_H_
#define MC_EXPERIMENTS_DIFFQ_FLAGS_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "experiments/experiment_main.h"
#include "serialization/experiment_config.pb.h"

namespace mc::experiments {

/// Writes the flags that are set into config.quantization and checks that section.
/// \error kInvalidArgument naming the flag or field.
absl::Status ApplyDiffqFlags(serialization::ExperimentConfig& config);

/// The penalties of --sweep_penalty (empty without it).
/// \error kInvalidArgument on one that is not a number >= 0.
absl::StatusOr<std::vector<double>> SweepPenalties();

/// The experiment `name` of RunDiffqExperiment (diffq_method.h) with these flags, on
/// `default_dataset` unless told otherwise, from `defaults`.
ExperimentSpec DiffqExperimentSpec(std::string name, std::string description,
                                   std::string default_dataset, ConfigDefaults defaults);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_DIFFQ_FLAGS_H_
