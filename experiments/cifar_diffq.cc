// cifar_diffq: DiffQ (differentiable quantization with pseudo quantization noise) and its
// baselines, uniform QAT and LSQ, on the image classification data sets.
//
//   bazel run //experiments:cifar_diffq -- --dataset=fashion_mnist
//       trains the float model and the DiffQ model (in float/ and diffq/ under the output
//       directory) and prints them side by side; the DiffQ summary, with the float accuracy,
//       is also the output directory's summary.json;
//   --method=diffq|qat|lsq|float runs one method (--bits for qat and lsq);
//   --sweep_penalty=0.5,1,2,5,10 trains DiffQ once per penalty, plus the float model and QAT
//   at 4 and 8 bits, and writes pareto.csv and pareto.svg.
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "experiments/diffq_method.h"
#include "common/status_macros.h"
#include "experiments/config_flags.h"
#include "experiments/experiment_main.h"

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
namespace {

using serialization::ExperimentConfig;
using serialization::QuantizationConfig;

// The penalties of --sweep_penalty. \error kInvalidArgument on one that is not a number >= 0.
absl::StatusOr<std::vector<double>> SweepPenalties() {
  std::vector<double> penalties;
  for (absl::string_view value : absl::StrSplit(absl::GetFlag(FLAGS_sweep_penalty), ',', absl::SkipEmpty())) {
    double penalty = 0;
    if (!absl::SimpleAtod(value, &penalty) || !(penalty >= 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--sweep_penalty: \"", value, "\" is not a penalty >= 0"));
    }
    penalties.push_back(penalty);
  }
  return penalties;
}

absl::Status Configure(ExperimentConfig& config) {
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

int Main(int argc, char** argv) {
  ExperimentSpec spec;
  spec.name = "cifar_diffq";
  spec.description = "DiffQ and its QAT and LSQ baselines on image classification.";
  spec.default_dataset = "cifar10";
  spec.defaults = &DiffqDefaults;
  spec.factory = &MakeQuantizationTraining;
  spec.configure = &Configure;
  spec.run = [](const ExperimentConfig& config) -> absl::Status {
    MC_ASSIGN_OR_RETURN(const std::vector<double> penalties, SweepPenalties());
    return RunDiffqExperiment(config, penalties);
  };
  return ExperimentMain(argc, argv, spec);
}

}  // namespace
}  // namespace mc::experiments

int main(int argc, char** argv) { return mc::experiments::Main(argc, argv); }
