// File: experiment_config.h
// Reading and validating experiment configurations (experiment_config.proto) from textproto.
// Unknown fields and out-of-range values are rejected with a message naming the field and,
// for values, the allowed range; a configuration that passes can be run as it is.
//
// Example:
//   MC_ASSIGN_OR_RETURN(ExperimentConfig config,
//                       LoadExperimentConfig("experiments/configs/cifar10_resnet20.textproto"));
#ifndef MC_SERIALIZATION_EXPERIMENT_CONFIG_H_
#define MC_SERIALIZATION_EXPERIMENT_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "serialization/experiment_config.pb.h"

namespace mc::serialization {

/// Parses textproto into `config`, merging over the fields it already holds.
/// \error kInvalidArgument naming `source`, the line and column, and the unknown field or
/// syntax error.
absl::Status MergeExperimentConfigText(absl::string_view text, absl::string_view source,
                                       ExperimentConfig& config);

/// Reads a textproto file and merges it over `config`.
/// \error kNotFound if the file does not exist; as MergeExperimentConfigText otherwise.
absl::Status MergeExperimentConfigFile(const std::string& path, ExperimentConfig& config);

/// Checks every field of the generic sections against its documented range.
/// \error kInvalidArgument naming the first bad field (e.g. "training.lr"), its value and
/// the allowed range.
absl::Status ValidateExperimentConfig(const ExperimentConfig& config);

/// The configuration as textproto, e.g. to record it next to results.
std::string ExperimentConfigToText(const ExperimentConfig& config);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_EXPERIMENT_CONFIG_H_
