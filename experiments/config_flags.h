// File: config_flags.h
// The command-line flags every experiment binary shares, and how they combine with a
// textproto configuration: experiment defaults (per data set) < --config file < flags given
// on the command line. The result is validated before anything runs.
//
// Common flags: --config --dataset --data_dir --model --epochs --batch_size --lr
// --max_train_batches --threads --workers --seed --output_dir --resume, and for data-parallel
// runs --world_size --rank --master_addr --master_port (the distributed section; defaults 1,
// 0, 127.0.0.1, 29500 and a 1800 s timeout, which only a --config file sets).
//
// Example:
//   absl::StatusOr<ExperimentConfig> config =
//       ResolveExperimentConfig("cifar_baseline", "cifar10", &BaselineDefaults);
#ifndef MC_EXPERIMENTS_CONFIG_FLAGS_H_
#define MC_EXPERIMENTS_CONFIG_FLAGS_H_

#include <functional>
#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/user_path.h"  // UserPath, for the experiments' own path flags
#include "serialization/experiment_config.pb.h"

namespace mc::experiments {

/// Default configuration of an experiment for a data set name.
using ConfigDefaults = std::function<serialization::ExperimentConfig(absl::string_view dataset)>;

/// Builds the run's configuration from the defaults, the --config file and the flags set on
/// the command line (only those: a flag left at its default does not override the file).
/// Relative paths are taken from the directory `bazel run` was started in. Without
/// --output_dir, results go to runs/<experiment>/<dataset>_<model>_<time>.
/// \error kInvalidArgument naming the bad field or flag; kNotFound for a missing --config.
absl::StatusOr<serialization::ExperimentConfig> ResolveExperimentConfig(
    absl::string_view experiment, absl::string_view default_dataset,
    const ConfigDefaults& defaults);

/// An experiment's own flag and the configuration field it sets when it is given on the
/// command line, e.g. {"bits", "metaquant.bits"}. The flag is an std::optional (empty when
/// not given); its value is converted to the field's type, a repeated string field takes a
/// comma-separated list, and `path` values are taken from the directory `bazel run` was
/// started in.
struct FlagField {
  absl::string_view flag;
  absl::string_view field;
  bool path = false;
};

/// Copies every flag of `table` that was given into its field, in the table's order.
/// \error kInvalidArgument when a value does not fit its field's type; kInternal when the
/// table names a flag or a field that does not exist.
absl::Status ApplyFlags(std::initializer_list<FlagField> table,
                        serialization::ExperimentConfig& config);

/// Value of --resume: continue from output_dir's checkpoint when one exists.
bool ResumeRequested();

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_CONFIG_FLAGS_H_
