// cifar_vq: "And the bit goes down" (Stock et al. 2020) on the image classification data sets:
// a trained float model compressed layer by layer into product-quantized weights with
// codebooks fine-tuned by distillation from the float model (vq/compressor.h).
//
//   bazel run //experiments:cifar_vq -- --dataset=fashion_mnist --model=resnet18
//       --teacher=<float model.mcm> --block_size_cv=9 --block_size_pw=4 --block_size_fc=4
//       --n_centroids_cv=256 --n_centroids_pw=256 --n_centroids_fc=256
// Without --teacher, the float model is trained first with the baseline recipe (its own number
// of epochs for the data set).
//
// The runner's epochs are the global fine-tuning (--global_finetune_epochs, an alias of
// --epochs, at --lr with the step schedule); the layer-by-layer stage runs when the method is
// built, before the first epoch. --resume repeats that stage, then loads the checkpoint of the
// global fine-tuning over it.

#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "common/status_macros.h"
#include "experiments/config_flags.h"
#include "experiments/experiment_main.h"
#include "experiments/vq_method.h"

ABSL_FLAG(std::optional<std::string>, teacher, std::nullopt,
          "Float model file to compress (trained first when absent).");
ABSL_FLAG(std::optional<int32_t>, block_size_cv, std::nullopt, "Block size of 3x3 convolutions.");
ABSL_FLAG(std::optional<int32_t>, block_size_pw, std::nullopt, "Block size of 1x1 convolutions.");
ABSL_FLAG(std::optional<int32_t>, block_size_fc, std::nullopt, "Block size of linear layers.");
ABSL_FLAG(std::optional<int32_t>, n_centroids_cv, std::nullopt, "Centroids of 3x3 convolutions.");
ABSL_FLAG(std::optional<int32_t>, n_centroids_pw, std::nullopt, "Centroids of 1x1 convolutions.");
ABSL_FLAG(std::optional<int32_t>, n_centroids_fc, std::nullopt, "Centroids of linear layers.");
ABSL_FLAG(std::optional<int32_t>, n_iter, std::nullopt, "k-means iterations per layer.");
ABSL_FLAG(std::optional<int32_t>, n_activations, std::nullopt,
          "Training images whose layer inputs weight each k-means.");
ABSL_FLAG(std::optional<int32_t>, activation_rows, std::nullopt,
          "Input rows (im2col patches) kept per layer for its k-means.");
ABSL_FLAG(std::optional<int32_t>, finetune_steps, std::nullopt,
          "Distillation steps on each layer's centroids.");
ABSL_FLAG(std::optional<double>, finetune_lr, std::nullopt, "Learning rate of those steps.");
ABSL_FLAG(std::optional<int32_t>, global_finetune_epochs, std::nullopt,
          "Epochs of global fine-tuning of all centroids (same as --epochs).");
ABSL_FLAG(std::optional<int32_t>, global_finetune_steps, std::nullopt,
          "Steps per global fine-tuning epoch (0: whole epochs).");

namespace mc::experiments {
namespace {

using serialization::ExperimentConfig;
using serialization::VqConfig;

absl::Status Configure(ExperimentConfig& config) {
  MC_RETURN_IF_ERROR(ApplyFlags({{"teacher", "vq.teacher", /*path=*/true},
                                  {"block_size_cv", "vq.block_size_cv"},
                                  {"block_size_pw", "vq.block_size_pw"},
                                  {"block_size_fc", "vq.block_size_fc"},
                                  {"n_centroids_cv", "vq.n_centroids_cv"},
                                  {"n_centroids_pw", "vq.n_centroids_pw"},
                                  {"n_centroids_fc", "vq.n_centroids_fc"},
                                  {"n_iter", "vq.n_iter"},
                                  {"n_activations", "vq.n_activations"},
                                  {"activation_rows", "vq.activation_rows"},
                                  {"finetune_steps", "vq.finetune_steps"},
                                  {"finetune_lr", "vq.finetune_lr"},
                                  {"global_finetune_epochs", "training.epochs"},
                                  {"global_finetune_steps", "vq.global_finetune_steps"}},
                                 config));
  return ValidateVqConfig(config);
}

int Main(int argc, char** argv) {
  ExperimentSpec spec;
  spec.name = "cifar_vq";
  spec.description = "Activation-aware product quantization (And the bit goes down).";
  spec.default_dataset = "cifar10";
  spec.defaults = &VqDefaults;
  spec.factory = &MakeVqTraining;
  spec.configure = &Configure;
  spec.float_start = VqStartingPoint();
  return ExperimentMain(argc, argv, spec);
}

}  // namespace
}  // namespace mc::experiments

int main(int argc, char** argv) { return mc::experiments::Main(argc, argv); }
