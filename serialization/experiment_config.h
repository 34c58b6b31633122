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

#include <limits>
#include <string>
#include <vector>

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

/// The values a numeric field allows: an interval whose ends may be open, or unbounded above.
struct Range {
  static Range Closed(double low, double high) { return {low, high, false, false}; }     ///< [low, high]
  static Range LeftOpen(double low, double high) { return {low, high, true, false}; }    ///< (low, high]
  static Range RightOpen(double low, double high) { return {low, high, false, true}; }   ///< [low, high)
  static Range AtLeast(double low) { return {low, kUnbounded, false, false}; }           ///< >= low
  static Range Above(double low) { return {low, kUnbounded, true, false}; }              ///< > low

  bool Contains(double value) const;  ///< false for NaN
  std::string ToString() const;       ///< "[1, 15]", "(0, 1]", ">= 0", ...

  static constexpr double kUnbounded = std::numeric_limits<double>::infinity();
  double low;
  double high;
  bool low_open;
  bool high_open;
};

/// The one range check of configuration values, in every section.
/// \error kInvalidArgument "<field> = <value> is out of range: allowed <range>".
absl::Status CheckRange(absl::string_view field, double value, const Range& range);

/// The one check of a choice among names.
/// \error kInvalidArgument "<field> = \"<value>\" is not one of <choices>".
absl::Status CheckChoice(absl::string_view field, absl::string_view value,
                         const std::vector<std::string>& choices);

/// The configuration as textproto, e.g. to record it next to results.
std::string ExperimentConfigToText(const ExperimentConfig& config);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_EXPERIMENT_CONFIG_H_
