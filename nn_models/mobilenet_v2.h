// File: mobilenet_v2.h
// MobileNetV2 (Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks")
// in its ImageNet form, width multiplier 1.0, with torchvision's module layout: parameter and
// buffer names (features.0.0.weight, features.2.conv.1.0.weight, classifier.1.bias, ...)
// match torchvision's, so its state dicts load by name. For 32x32 images the CIFAR stem makes
// the first convolution stride 1.
//
// Example:
//   MobileNetV2 model(ModelOptions().num_classes(10));           // CIFAR stem by default
//   at::Tensor logits = model->forward(images);   // (B, 3, 32, 32) -> (B, 10)
#ifndef MC_NN_MODELS_MOBILENET_V2_H_
#define MC_NN_MODELS_MOBILENET_V2_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <ostream>
#include <string>

#include "nn_models/classifier.h"
#include "nn_models/model_options.h"

namespace mc::nn_models {

/// Bias-free convolution with "same" padding, BatchNorm and ReLU6 (torchvision's
/// Conv2dNormActivation). Children: 0 (Conv2d), 1 (BatchNorm2d), as torchvision names them.
class ConvNormReLU6Impl : public torch::nn::Cloneable<ConvNormReLU6Impl> {
 public:
  ConvNormReLU6Impl(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                    int64_t stride = 1, int64_t groups = 1);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (B, in_channels, H, W) -> (B, out_channels, ceil(H / stride), ceil(W / stride)).
  at::Tensor forward(const at::Tensor& x);

  /// forward() spelled out on `builder` (nn_models/forward_graph.h); `prefix` is the block's
  /// path in the model followed by a dot.
  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder, const std::string& prefix,
                                             ForwardGraphBuilder::Value x) const;

 private:
  int64_t in_channels_;
  int64_t out_channels_;
  int64_t kernel_size_;
  int64_t stride_;
  int64_t groups_;
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d norm_{nullptr};
};
TORCH_MODULE(ConvNormReLU6);

/// Inverted residual block with a linear bottleneck (Sandler et al. 2018, Table 1): 1x1
/// expansion to `expand_ratio` * `in_channels` + BatchNorm + ReLU6 (omitted when expand_ratio
/// is 1), 3x3 depthwise convolution (stride `stride`) + BatchNorm + ReLU6, 1x1 projection to
/// `out_channels` + BatchNorm, no activation. Adds the input when stride is 1 and the channel
/// count is kept. Children: conv (Sequential, laid out as torchvision's InvertedResidual).
class InvertedResidualImpl : public torch::nn::Cloneable<InvertedResidualImpl> {
 public:
  InvertedResidualImpl(int64_t in_channels, int64_t out_channels, int64_t stride,
                       int64_t expand_ratio);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (B, in_channels, H, W) -> (B, out_channels, ceil(H / stride), ceil(W / stride)).
  at::Tensor forward(const at::Tensor& x);

  /// forward() spelled out on `builder` (nn_models/forward_graph.h); `prefix` is the block's
  /// path in the model followed by a dot.
  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder, const std::string& prefix,
                                             ForwardGraphBuilder::Value x) const;

 private:
  int64_t in_channels_;
  int64_t out_channels_;
  int64_t stride_;
  int64_t expand_ratio_;
  torch::nn::Sequential conv_{nullptr};
};
TORCH_MODULE(InvertedResidual);

/// MobileNetV2 (width multiplier 1.0): features.0 = 3x3 convolution to 32 channels, stride 2
/// (stride 1 with options.cifar_stem()) + BatchNorm + ReLU6; features.1..17 = inverted residual
/// blocks (t, c, n, s) = (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
/// (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1); features.18 = 1x1 convolution to 1280
/// channels + BatchNorm + ReLU6; global average pooling; classifier = dropout
/// (options.dropout(), unset: 0.2) then Linear (classifier.1).
/// Initialisation as torchvision: Kaiming normal (fan-out) convolutions, BatchNorm weight 1 and
/// bias 0, Linear weights N(0, 0.01) and zero bias.
/// Parameters: 3,504,872 for 3 channels and 1000 classes (torchvision's published count; the
/// stem's stride does not change it), 2,236,682 for 10 classes.
class MobileNetV2Impl : public torch::nn::Cloneable<MobileNetV2Impl>, public Classifier {
 public:
  /// Throws c10::Error if `options` are invalid.
  explicit MobileNetV2Impl(const ModelOptions& options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// images: (B, in_channels, H, W), float32, any H and W. Returns logits (B, num_classes).
  at::Tensor forward(const at::Tensor& images) override;

  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder) const override;

 private:
  ModelOptions options_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(MobileNetV2);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_MOBILENET_V2_H_
