// File: layers.h
// Layer helpers the model families and the compression methods share: the bias-free "same"
// convolution the zoo's networks are built from, and which modules count as weight layers
// (the convolutions and linear layers that methods quantize or keep in full precision).
//
// Example:
//   conv1_ = register_module("conv1", SameConv2d(in_channels, 64, /*kernel_size=*/7, /*stride=*/2));
//   if (IsConvolutionOrLinear(*module)) names.push_back(name + ".weight");
#ifndef MC_NN_MODELS_LAYERS_H_
#define MC_NN_MODELS_LAYERS_H_

#include <torch/nn/modules/conv.h>

#include <cstdint>

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace mc::nn_models {

/// A bias-free Conv2d with "same" padding (kernel_size / 2 on each side, so that an odd kernel
/// at stride s maps H x W to ceil(H / s) x ceil(W / s)), as every ResNet, wide ResNet and
/// MobileNetV2 convolution.
torch::nn::Conv2d SameConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                             int64_t stride = 1, int64_t groups = 1);

/// Whether `module` is a Conv1d, Conv2d, Conv3d or Linear layer.
bool IsConvolutionOrLinear(const torch::nn::Module& module);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_LAYERS_H_
