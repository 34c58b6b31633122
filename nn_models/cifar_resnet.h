// File: cifar_resnet.h
// The CIFAR-10 ResNets of He et al. 2016 ("Deep Residual Learning for Image Recognition",
// §4.2): ResNet-20, -32, -44, -56, -110, the 6n+2-layer nets most quantization papers report.
// They use projection shortcuts (option B: 1x1 convolution + BatchNorm where the shape
// changes), not the paper's zero-padding identity (option A), so they have slightly more
// parameters than the paper's figures.
//
// Example:
//   CifarResNet model(20, ModelOptions().in_channels(3).num_classes(10));
//   at::Tensor logits = model->forward(images);   // (B, 3, 32, 32) -> (B, 10)
#ifndef MC_NN_MODELS_CIFAR_RESNET_H_
#define MC_NN_MODELS_CIFAR_RESNET_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <ostream>

#include "nn_models/classifier.h"
#include "nn_models/model_options.h"
#include "nn_models/resnet.h"

namespace mc::nn_models {

/// ResNet of depth 6n + 2 for small images (He et al. 2016, §4.2): 3x3 convolution to 16
/// channels + BatchNorm + ReLU, three stages (layer1..layer3) of n BasicBlocks with 16, 32 and
/// 64 channels (stride 2 at the start of layer2 and layer3), global average pooling, fc.
/// Shortcuts where the shape changes are 1x1 convolution + BatchNorm projections (option B);
/// names follow torchvision's ResNet (conv1, bn1, layer2.0.downsample.0, fc, ...).
/// Initialisation: Kaiming normal (fan-out) convolutions, BatchNorm weight 1 and bias 0,
/// LibTorch's default Linear.
/// Parameters for 3 channels and 10 classes: ResNet-20 272,474, ResNet-32 466,906,
/// ResNet-44 661,338, ResNet-56 855,770, ResNet-110 1,730,714. The paper's option-A figures
/// (0.27M, 0.46M, 0.66M, 0.85M, 1.7M) lack the two projections' 2,752 parameters.
class CifarResNetImpl : public torch::nn::Cloneable<CifarResNetImpl>, public Classifier {
 public:
  /// Throws c10::Error if `depth` is not 6n + 2 with n >= 1 or `options` are invalid.
  CifarResNetImpl(int64_t depth, const ModelOptions& options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// images: (B, in_channels, H, W), float32, any H and W. Returns logits (B, num_classes).
  at::Tensor forward(const at::Tensor& images) override;

  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder) const override;

 private:
  int64_t depth_;
  ModelOptions options_;
  internal::ResNetTrunk trunk_;  // layer1..layer3
};
TORCH_MODULE(CifarResNet);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_CIFAR_RESNET_H_
