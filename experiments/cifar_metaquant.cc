// cifar_metaquant: MetaQuant (Chen et al. 2019) and its straight-through baseline on the
// image classification data sets: every convolution and linear weight quantized (1 bit by
// default), starting from a trained float model.
//
//   bazel run //experiments:cifar_metaquant -- --dataset=fashion_mnist --start_from=<model.mcm>
//       --forward=dorefa --meta=multifc --optimizer=sgd
// Without --start_from, the float model is trained first with the baseline recipe.
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "experiments/config_flags.h"
#include "experiments/experiment_main.h"
#include "experiments/metaquant_method.h"
#include "serialization/experiment_config.h"

ABSL_FLAG(std::optional<std::string>, forward, std::nullopt, "Weight quantizer: dorefa | bwn.");
ABSL_FLAG(std::optional<int32_t>, bits, std::nullopt, "Bits per weight (dorefa; bwn is 1).");
ABSL_FLAG(std::optional<std::string>, meta, std::nullopt, "ste | fcgrad | multifc | lstmfc.");
ABSL_FLAG(std::optional<std::string>, optimizer, std::nullopt, "Base optimizer: sgd | sgdm | adam.");
ABSL_FLAG(std::optional<int32_t>, lr_decay_every, std::nullopt,
          "Divide the learning rates by 10 every this many epochs.");
ABSL_FLAG(std::optional<double>, meta_lr, std::nullopt, "Adam learning rate of the meta network.");
ABSL_FLAG(std::optional<bool>, decay_meta_lr, std::nullopt,
          "Decay the meta network's learning rate too (the paper); false: the released code.");
ABSL_FLAG(std::optional<bool>, meta_bias, std::nullopt,
          "MultiFC's linear layers have biases (default true; false: the released code's, "
          "with which BWN's weights cannot change sign).");
ABSL_FLAG(std::optional<std::string>, look_ahead, std::nullopt, "paper (default: the paper's equation 6) | released (the released code's loop).");
ABSL_FLAG(std::optional<std::string>, start_from, std::nullopt,
          "Float model file to start from (trained first when absent).");

namespace mc::experiments {
namespace {

using serialization::ExperimentConfig;
using serialization::MetaQuantConfig;

absl::Status Configure(ExperimentConfig& config) {
  MC_RETURN_IF_ERROR(ApplyFlags({{"forward", "metaquant.forward"},
                                  {"bits", "metaquant.bits"},
                                  {"meta", "metaquant.meta"},
                                  {"optimizer", "metaquant.optimizer"},
                                  {"meta_lr", "metaquant.meta_lr"},
                                  {"decay_meta_lr", "metaquant.decay_meta_lr"},
                                  {"meta_bias", "metaquant.meta_bias"},
                                  {"look_ahead", "metaquant.look_ahead"},
                                  {"start_from", "metaquant.start_from", /*path=*/true}},
                                 config));
  if (const auto v = absl::GetFlag(FLAGS_lr_decay_every)) {
    MC_RETURN_IF_ERROR(serialization::CheckRange("--lr_decay_every", *v, serialization::Range::AtLeast(1)));
    config.mutable_training()->set_lr_schedule(serialization::TrainingConfig::STEP);
    config.mutable_training()->set_lr_step_epochs(*v);
    config.mutable_training()->set_lr_gamma(0.1);
  }
  return ValidateMetaQuantConfig(config);
}

int Main(int argc, char** argv) {
  ExperimentSpec spec;
  spec.name = "cifar_metaquant";
  spec.description = "MetaQuant and its straight-through baseline.";
  spec.default_dataset = "cifar10";
  spec.defaults = &MetaQuantDefaults;
  spec.factory = &MakeMetaQuantTraining;
  spec.configure = &Configure;
  spec.float_start = MetaQuantStartingPoint();
  return ExperimentMain(argc, argv, spec);
}

}  // namespace
}  // namespace mc::experiments

int main(int argc, char** argv) { return mc::experiments::Main(argc, argv); }
