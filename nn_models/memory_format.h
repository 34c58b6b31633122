// File: memory_format.h
// Channels-last (NHWC in memory) models and batches. oneDNN's convolutions run on
// channels-last tensors as they are, where NCHW ones are reordered into its blocked layout
// and back on every call, forward and backward; LibTorch's BatchNorm, ReLU and additions keep
// the layout of their inputs, so a network whose weights and input batch are channels-last
// stays channels-last throughout. Shapes, names and values are unchanged: only the strides
// differ, and results differ from NCHW ones only by the summation order of the kernels.
//
// Example:
//   ToChannelsLast(*model);                       // before its optimizer is built
//   at::Tensor logits = model->forward(ChannelsLast(images));
#ifndef MC_NN_MODELS_MEMORY_FORMAT_H_
#define MC_NN_MODELS_MEMORY_FORMAT_H_

#include <ATen/core/Tensor.h>

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace mc::nn_models {

/// Stores every 4-D parameter and buffer of `module` and its descendants channels-last, in
/// place (the tensors keep their identity, so optimizers built earlier still hold them, but
/// their state, e.g. momentum, keeps its old layout).
void ToChannelsLast(torch::nn::Module& module);

/// A channels-last copy of a 4-D `batch`, whatever its strides; other tensors as they are.
/// A 1-channel batch gets channel stride 1, which LibTorch reads as channels-last (its
/// contiguous strides are ambiguous between the two layouts).
at::Tensor ChannelsLast(const at::Tensor& batch);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_MEMORY_FORMAT_H_
