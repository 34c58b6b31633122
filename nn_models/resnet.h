// File: resnet.h
// ResNet-18/34/50/101/152 (He et al. 2016, "Deep Residual Learning for Image Recognition")
// with torchvision's module layout, so that parameter and buffer names (conv1.weight,
// layer1.0.bn1.running_mean, layer2.0.downsample.0.weight, fc.bias, ...) match torchvision's
// and its state dicts load by name. Also exposes the residual blocks and the trunk (stem,
// stages, classifier), which the CIFAR ResNets of cifar_resnet.h reuse.
//
// Example:
//   ResNet model(18, ModelOptions().num_classes(1000).cifar_stem(false));   // torchvision's
//   at::Tensor logits = model->forward(images);   // (B, 3, 224, 224) -> (B, 1000)
#ifndef MC_NN_MODELS_RESNET_H_
#define MC_NN_MODELS_RESNET_H_

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

/// Two 3x3 convolutions with BatchNorm and a residual connection (torchvision's BasicBlock):
/// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). The shortcut is the identity, or a
/// projection "downsample" = 1x1 convolution (stride `stride`) + BatchNorm when the stride or
/// the channel count changes (option B of He et al. 2016, §3.3).
/// Children: conv1, bn1, conv2, bn2 and, for projections, downsample.0 (conv), downsample.1 (bn).
class BasicBlockImpl : public torch::nn::Cloneable<BasicBlockImpl> {
 public:
  /// Output channels per `channels`.
  static constexpr int64_t kExpansion = 1;

  /// The first convolution (and the projection) has stride `stride`.
  BasicBlockImpl(int64_t in_channels, int64_t channels, int64_t stride);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (B, in_channels, H, W) -> (B, channels, ceil(H / stride), ceil(W / stride)).
  at::Tensor forward(const at::Tensor& x);

  /// forward() spelled out on `builder` (nn_models/forward_graph.h); `prefix` is the block's
  /// path in the model followed by a dot.
  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder, const std::string& prefix,
                                             ForwardGraphBuilder::Value x) const;

 private:
  int64_t in_channels_;
  int64_t channels_;
  int64_t stride_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Sequential downsample_{nullptr};  // empty holder for identity shortcuts
};
TORCH_MODULE(BasicBlock);

/// Bottleneck block (torchvision's Bottleneck, "ResNet v1.5": the stride is on the 3x3
/// convolution): 1x1 conv to `channels`, 3x3 conv (stride `stride`), 1x1 conv to
/// 4 * `channels`, each followed by BatchNorm, ReLU after the sum with the shortcut. The
/// shortcut is the identity or a projection as in BasicBlockImpl.
/// Children: conv1, bn1, conv2, bn2, conv3, bn3 and, for projections, downsample.0/.1.
class BottleneckImpl : public torch::nn::Cloneable<BottleneckImpl> {
 public:
  /// Output channels per `channels`.
  static constexpr int64_t kExpansion = 4;

  BottleneckImpl(int64_t in_channels, int64_t channels, int64_t stride);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (B, in_channels, H, W) -> (B, 4 * channels, ceil(H / stride), ceil(W / stride)).
  at::Tensor forward(const at::Tensor& x);

  /// forward() spelled out on `builder` (nn_models/forward_graph.h); `prefix` is the block's
  /// path in the model followed by a dot.
  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder, const std::string& prefix,
                                             ForwardGraphBuilder::Value x) const;

 private:
  int64_t in_channels_;
  int64_t channels_;
  int64_t stride_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Conv2d conv3_{nullptr};
  torch::nn::BatchNorm2d bn3_{nullptr};
  torch::nn::Sequential downsample_{nullptr};  // empty holder for identity shortcuts
};
TORCH_MODULE(Bottleneck);

/// A stage of `num_blocks` BasicBlocks named "0", "1", ...: the first maps `in_channels` to
/// `channels` with stride `stride`, the others keep `channels` at stride 1.
torch::nn::Sequential MakeBasicBlockStage(int64_t in_channels, int64_t channels, int64_t num_blocks,
                                          int64_t stride);

/// As MakeBasicBlockStage with Bottleneck blocks; the stage outputs 4 * `channels` channels.
torch::nn::Sequential MakeBottleneckStage(int64_t in_channels, int64_t channels, int64_t num_blocks,
                                          int64_t stride);

namespace internal {

/// The layers ResNetImpl and CifarResNetImpl are made of, registered in this order: conv1 (the
/// stem), bn1, layer1..layerN (the residual stages), fc.
struct ResNetTrunk {
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  std::vector<torch::nn::Sequential> layers;
  torch::nn::Linear fc{nullptr};
};

/// The shape of a ResNetTrunk.
struct ResNetTrunkLayout {
  /// conv1's kernel size and stride; it maps the input to stage_channels[0] channels.
  int64_t stem_kernel_size = 3;
  int64_t stem_stride = 1;
  /// Bottleneck blocks (4 * channels out) rather than BasicBlocks.
  bool bottleneck = false;
  /// Per stage: the blocks' `channels` and their number. Stage 1 has stride 1, the others 2.
  std::vector<int64_t> stage_channels;
  std::vector<int64_t> blocks_per_stage;
};

/// Builds the trunk for `in_channels` input channels and `num_classes` logits, registers it on
/// `model` under ResNetTrunk's names, then initialises every convolution of `model` as
/// InitConvolutionsKaimingNormal.
ResNetTrunk RegisterResNetTrunk(torch::nn::Module& model, const ResNetTrunkLayout& layout,
                                int64_t in_channels, int64_t num_classes);

/// relu(bn1(conv1(images))), a 3x3 max-pool of stride 2 when `max_pool`, the stages, global
/// average pooling and fc: (B, C, H, W) images -> (B, num_classes) logits.
at::Tensor ResNetTrunkForward(ResNetTrunk& trunk, const at::Tensor& images, bool max_pool);

/// ResNetTrunkForward spelled out on `builder`.
ForwardGraphBuilder::Value DescribeResNetTrunk(const ResNetTrunk& trunk, ForwardGraphBuilder& builder,
                                               bool max_pool);

}  // namespace internal

/// ImageNet ResNet of depth 18, 34 (BasicBlocks: 2-2-2-2, 3-4-6-3) or 50, 101, 152
/// (Bottlenecks: 3-4-6-3, 3-4-23-3, 3-8-36-3), laid out as torchvision's: conv1 (7x7, stride
/// 2), bn1, ReLU, 3x3 max-pool (stride 2), layer1..layer4 (64, 128, 256, 512 channels times the
/// block expansion; stride 2 at the start of layer2..4), global average pooling, fc.
/// With options.cifar_stem(), conv1 is 3x3 with stride 1 and there is no max-pool.
/// Initialisation as torchvision: Kaiming normal (fan-out) convolutions, BatchNorm weight 1 and
/// bias 0, LibTorch's default Linear.
/// Parameters for 3 channels and 1000 classes without the CIFAR stem: ResNet-18 11,689,512,
/// ResNet-34 21,797,672, ResNet-50 25,557,032, ResNet-101 44,549,160, ResNet-152 60,192,808
/// (torchvision's published counts).
class ResNetImpl : public torch::nn::Cloneable<ResNetImpl>, public Classifier {
 public:
  /// Throws c10::Error if `depth` is not one of 18, 34, 50, 101, 152 or `options` are invalid.
  ResNetImpl(int64_t depth, const ModelOptions& options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// images: (B, in_channels, H, W), float32, any H and W. Returns logits (B, num_classes).
  at::Tensor forward(const at::Tensor& images) override;

  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder) const override;

 private:
  int64_t depth_;
  ModelOptions options_;
  internal::ResNetTrunk trunk_;  // layer1..layer4
};
TORCH_MODULE(ResNet);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_RESNET_H_
