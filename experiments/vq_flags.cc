#include "experiments/vq_flags.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "common/status_macros.h"
#include "experiments/config_flags.h"
#include "experiments/vq_method.h"

ABSL_FLAG(std::optional<std::string>, teacher, std::nullopt,
          "Float model file to compress (trained first when absent).");
ABSL_FLAG(std::optional<int32_t>, block_size_cv, std::nullopt, "Block size of 3x3 convolutions.");
ABSL_FLAG(std::optional<int32_t>, block_size_pw, std::nullopt, "Block size of 1x1 convolutions.");
ABSL_FLAG(std::optional<int32_t>, block_size_fc, std::nullopt,
          "Block size of linear layers (and of LSTM weight matrices).");
ABSL_FLAG(std::optional<int32_t>, block_size_emb, std::nullopt,
          "Block size of embedding tables (along their width; a width it does not divide takes "
          "its largest divisor below it).");
ABSL_FLAG(std::optional<int32_t>, n_centroids_cv, std::nullopt, "Centroids of 3x3 convolutions.");
ABSL_FLAG(std::optional<int32_t>, n_centroids_pw, std::nullopt, "Centroids of 1x1 convolutions.");
ABSL_FLAG(std::optional<int32_t>, n_centroids_fc, std::nullopt,
          "Centroids of linear layers (and of LSTM weight matrices).");
ABSL_FLAG(std::optional<int32_t>, n_centroids_emb, std::nullopt, "Centroids of embedding tables.");
ABSL_FLAG(std::optional<int32_t>, min_centroids, std::nullopt,
          "Layers capped to fewer centroids stay float32 (default 1: every layer quantized).");
ABSL_FLAG(std::optional<int32_t>, n_iter, std::nullopt, "k-means iterations per layer.");
ABSL_FLAG(std::optional<int32_t>, n_activations, std::nullopt,
          "Training examples (images, or time steps of token windows) whose layer inputs weight "
          "each k-means.");
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

absl::Status ApplyVqFlags(serialization::ExperimentConfig& config) {
  MC_RETURN_IF_ERROR(ApplyFlags({{"teacher", "vq.teacher", /*path=*/true},
                                  {"block_size_cv", "vq.block_size_cv"},
                                  {"block_size_pw", "vq.block_size_pw"},
                                  {"block_size_fc", "vq.block_size_fc"},
                                  {"block_size_emb", "vq.block_size_emb"},
                                  {"n_centroids_cv", "vq.n_centroids_cv"},
                                  {"n_centroids_pw", "vq.n_centroids_pw"},
                                  {"n_centroids_fc", "vq.n_centroids_fc"},
                                  {"n_centroids_emb", "vq.n_centroids_emb"},
                                  {"min_centroids", "vq.min_centroids"},
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

ExperimentSpec VqExperimentSpec(std::string name, std::string description,
                                std::string default_dataset, ConfigDefaults defaults) {
  ExperimentSpec spec;
  spec.name = std::move(name);
  spec.description = std::move(description);
  spec.default_dataset = std::move(default_dataset);
  spec.defaults = std::move(defaults);
  spec.factory = &MakeVqTraining;
  spec.configure = &ApplyVqFlags;
  spec.float_start = VqStartingPoint();
  return spec;
}

}  // namespace mc::experiments
