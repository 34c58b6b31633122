#include "experiments/diffq_flags.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "experiments/config_flags.h"
#include "experiments/diffq_method.h"

ABSL_FLAG(std::optional<std::string>, method, std::nullopt,
          "diffq | qat | lsq | float; without it, float and diffq are trained and compared.");
ABSL_FLAG(std::optional<int32_t>, bits, std::nullopt, "Bits per weight for qat and lsq.");
ABSL_FLAG(std::optional<double>, penalty, std::nullopt, "DiffQ: weight of the model size (MB) in the loss.");
ABSL_FLAG(std::optional<int32_t>, group_size, std::nullopt, "DiffQ: weights sharing one bit width.");
ABSL_FLAG(std::optional<double>, min_size, std::nullopt, "Parameters up to this many MB stay float.");
ABSL_FLAG(std::optional<int32_t>, min_bits, std::nullopt, "DiffQ: smallest width.");
ABSL_FLAG(std::optional<int32_t>, max_bits, std::nullopt, "DiffQ: largest width (<= 15).");
ABSL_FLAG(std::optional<double>, init_bits, std::nullopt, "DiffQ: initial width.");
ABSL_FLAG(std::optional<std::string>, noise, std::nullopt, "DiffQ: gaussian | uniform.");
ABSL_FLAG(std::optional<double>, bits_lr, std::nullopt, "DiffQ: Adam learning rate of the bits.");
ABSL_FLAG(std::optional<std::string>, exclude, std::nullopt,
          "Comma-separated globs of parameters to keep in float, e.g. 'bias,*.bn*'.");
ABSL_FLAG(std::string, sweep_penalty, "", "Comma-separated DiffQ penalties to sweep.");

namespace mc::experiments {

absl::StatusOr<std::vector<double>> SweepPenalties() {
  std::vector<double> penalties;
  for (absl::string_view value :
       absl::StrSplit(absl::GetFlag(FLAGS_sweep_penalty), ',', absl::SkipEmpty())) {
    double penalty = 0;
    if (!absl::SimpleAtod(value, &penalty) || !(penalty >= 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--sweep_penalty: \"", value, "\" is not a penalty >= 0"));
    }
    penalties.push_back(penalty);
  }
  return penalties;
}

absl::Status ApplyDiffqFlags(serialization::ExperimentConfig& config) {
  MC_RETURN_IF_ERROR(ApplyFlags({{"method", "quantization.method"},
                                 {"bits", "quantization.bits"},
                                 {"penalty", "quantization.penalty"},
                                 {"group_size", "quantization.group_size"},
                                 {"min_size", "quantization.min_size"},
                                 {"min_bits", "quantization.min_bits"},
                                 {"max_bits", "quantization.max_bits"},
                                 {"init_bits", "quantization.init_bits"},
                                 {"noise", "quantization.noise"},
                                 {"bits_lr", "quantization.bits_lr"},
                                 {"exclude", "quantization.exclude"}},
                                config));
  MC_RETURN_IF_ERROR(SweepPenalties().status());
  return ValidateQuantizationConfig(config);
}

ExperimentSpec DiffqExperimentSpec(std::string name, std::string description,
                                   std::string default_dataset, ConfigDefaults defaults) {
  ExperimentSpec spec;
  spec.name = std::move(name);
  spec.description = std::move(description);
  spec.default_dataset = std::move(default_dataset);
  spec.defaults = std::move(defaults);
  spec.factory = &MakeQuantizationTraining;
  spec.configure = &ApplyDiffqFlags;
  spec.run = [](const serialization::ExperimentConfig& config) -> absl::Status {
    MC_ASSIGN_OR_RETURN(const std::vector<double> penalties, SweepPenalties());
    return RunDiffqExperiment(config, penalties);
  };
  return spec;
}

}  // namespace mc::experiments
