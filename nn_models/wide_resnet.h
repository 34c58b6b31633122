// File: wide_resnet.h
// Wide residual networks WRN-d-k (Zagoruyko & Komodakis 2016, "Wide Residual Networks") for
// small images: pre-activation ResNets of depth d = 6n + 4 whose stages are k times wider than
// a CIFAR ResNet's. WRN-28-10 is the CIFAR-100 teacher and WRN-16-10 a student of the
// quantized-distillation paper (Polino et al. 2018).
//
// Example:
//   WideResNet model(28, 10, ModelOptions().num_classes(100).dropout(0.3));
//   at::Tensor logits = model->forward(images);   // (B, 3, 32, 32) -> (B, 100)
#ifndef MC_NN_MODELS_WIDE_RESNET_H_
#define MC_NN_MODELS_WIDE_RESNET_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "nn_models/classifier.h"
#include "nn_models/model_options.h"

namespace mc::nn_models {

/// Pre-activation wide basic block (Zagoruyko & Komodakis 2016, Fig. 1d):
///   a = relu(bn1(x)); y = conv2(dropout(relu(bn2(conv1(a))))); out = y + shortcut,
/// where conv1 (3x3, stride `stride`) and conv2 (3x3) have no bias and the shortcut is x, or
/// shortcut(a), a 1x1 convolution with stride `stride`, when the shape changes (as the
/// authors' code). Dropout (probability `dropout`) is active in training mode only.
/// Children: bn1, conv1, bn2, conv2 and, for projections, shortcut.
class WideBasicBlockImpl : public torch::nn::Cloneable<WideBasicBlockImpl> {
 public:
  WideBasicBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride, double dropout);

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
  double dropout_;
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::Conv2d shortcut_{nullptr};  // empty holder for identity shortcuts
};
TORCH_MODULE(WideBasicBlock);

/// WRN-`depth`-`widen_factor`: 3x3 convolution to 16 channels (conv1), three stages
/// (layer1..layer3) of n = (depth - 4) / 6 wide blocks with 16k, 32k and 64k channels (stride 2
/// at the start of layer2 and layer3), BatchNorm (bn) + ReLU, global average pooling, fc.
/// Dropout between a block's convolutions is options.dropout() (unset: 0; the paper uses 0.3
/// in its dropout experiments). Initialisation: Kaiming normal (fan-out) convolutions,
/// BatchNorm weight 1 and bias 0, LibTorch's default Linear.
/// Parameters for 3 channels and 10 classes: WRN-28-10 36,479,194 (paper: 36.5M), WRN-40-4
/// 8,949,210 (8.9M), WRN-16-8 10,961,370 (11.0M); WRN-16-10 with 100 classes 17,174,324
/// (Polino et al.: 17.2M).
class WideResNetImpl : public torch::nn::Cloneable<WideResNetImpl>, public Classifier {
 public:
  /// Throws c10::Error unless depth = 6n + 4 with n >= 1 and widen_factor >= 1, or if
  /// `options` are invalid.
  WideResNetImpl(int64_t depth, int64_t widen_factor, const ModelOptions& options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// images: (B, in_channels, H, W), float32, any H and W. Returns logits (B, num_classes).
  at::Tensor forward(const at::Tensor& images) override;

  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder) const override;

 private:
  int64_t depth_;
  int64_t widen_factor_;
  ModelOptions options_;
  torch::nn::Conv2d conv1_{nullptr};
  std::vector<torch::nn::Sequential> layers_;  // layer1..layer3
  torch::nn::BatchNorm2d bn_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(WideResNet);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_WIDE_RESNET_H_
