// File: model_options.h
// The options every model of the zoo is built from: input channels, number of classes, and
// the few switches that adapt a published architecture to small images. Kept free of heavy
// LibTorch headers so that configuration code can include it cheaply.
//
// Example:
//   ModelOptions options = ModelOptions().in_channels(1).num_classes(10).image_size(28);
//   MC_RETURN_IF_ERROR(Validate(options));
#ifndef MC_NN_MODELS_MODEL_OPTIONS_H_
#define MC_NN_MODELS_MODEL_OPTIONS_H_

#include <torch/arg.h>

#include <cstdint>
#include <iosfwd>
#include <optional>

#include "absl/status/status.h"

namespace mc::nn_models {

/// Options shared by every model in the zoo. Architecture-defining values (depth, width) are
/// part of the model's name in the registry, not options.
struct ModelOptions {
  /// Channels of the input images: 1 for (Fashion-)MNIST, 3 for CIFAR and ImageNet. Default: 3.
  TORCH_ARG(int64_t, in_channels) = 3;
  /// Number of output logits. Default: 10.
  TORCH_ARG(int64_t, num_classes) = 10;
  /// Height and width of the (square) input images. Only nets whose classifier flattens the
  /// last feature map (lenet and the quantized-distillation nets) depend on it; nets with
  /// global average pooling accept any size. Default: 32 (CIFAR).
  TORCH_ARG(int64_t, image_size) = 32;
  /// Adapts ImageNet architectures (resnet18/34/50/101/152, mobilenetv2) to 32x32 images: the
  /// first convolution gets stride 1 (the ResNets' also a 3x3 kernel instead of 7x7, and their
  /// max-pool is dropped). Parameter names are unchanged. Nets designed for small images
  /// ignore it. Set it to false to load ImageNet weights. Default: true.
  TORCH_ARG(bool, cifar_stem) = true;
  /// Dropout probability of the architectures with a single dropout rate: wide ResNets (between
  /// the two convolutions of each block; unset means none) and mobilenetv2 (before the
  /// classifier; unset means torchvision's 0.2) and the language models (every dropout of the
  /// model; unset means its configuration's). CreateModel rejects it for any other model.
  /// Default: unset.
  TORCH_ARG(std::optional<double>, dropout) = std::nullopt;
};

/// Checks that every field is in range: in_channels, num_classes and image_size >= 1, dropout
/// in [0, 1).
/// \returns OK, or kInvalidArgument naming the offending field and value.
absl::Status Validate(const ModelOptions& options);

/// Prints every field, e.g. "in_channels=3, num_classes=10, image_size=32, cifar_stem=true,
/// dropout=unset", for the models' pretty_print.
std::ostream& operator<<(std::ostream& stream, const ModelOptions& options);

/// Module constructors' form of Validate. Throws c10::Error with Validate's message if
/// `options` are invalid.
void CheckValid(const ModelOptions& options);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_MODEL_OPTIONS_H_
