#include "nn_models/resnet.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <array>
#include <memory>
#include <string>

#include "nn_models/weight_init.h"

namespace mc::nn_models {
namespace {

// A bias-free convolution with "same" padding, as every ResNet convolution.
torch::nn::Conv2d Convolution(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                              int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, kernel_size)
                               .stride(stride)
                               .padding(kernel_size / 2)
                               .bias(false));
}

// The projection shortcut (1x1 convolution + BatchNorm), or an empty holder when the shortcut
// is the identity.
torch::nn::Sequential MakeDownsample(int64_t in_channels, int64_t out_channels, int64_t stride) {
  if (stride == 1 && in_channels == out_channels) return torch::nn::Sequential(nullptr);
  return torch::nn::Sequential(Convolution(in_channels, out_channels, 1, stride),
                               torch::nn::BatchNorm2d(out_channels));
}

at::Tensor Shortcut(torch::nn::Sequential& downsample, const at::Tensor& x) {
  return downsample.is_empty() ? x : downsample->forward(x);
}

// relu(out + shortcut), written over `out`, a BatchNorm's output. Neither BatchNorm nor the
// addition keeps its output for the backward pass (ReLU keeps its own), so working in place,
// as torchvision's ReLU(inplace=True) does, saves an allocation and a pass over memory per
// operation; the values are the same.
at::Tensor ResidualOutput(at::Tensor& out, const at::Tensor& shortcut) {
  return out.add_(shortcut).relu_();
}

template <typename BlockImpl>
torch::nn::Sequential MakeStage(int64_t in_channels, int64_t channels, int64_t num_blocks,
                                int64_t stride) {
  TORCH_CHECK(num_blocks >= 1, "a residual stage needs at least one block, got ", num_blocks);
  torch::nn::Sequential stage;
  stage->push_back(std::make_shared<BlockImpl>(in_channels, channels, stride));
  for (int64_t block = 1; block < num_blocks; ++block) {
    stage->push_back(
        std::make_shared<BlockImpl>(channels * BlockImpl::kExpansion, channels, /*stride=*/1));
  }
  return stage;
}

// Block type and blocks per stage of torchvision's ResNets (He et al. 2016, Table 1).
struct ResNetLayout {
  bool bottleneck;
  std::array<int64_t, 4> blocks_per_stage;
};

ResNetLayout LayoutOfDepth(int64_t depth) {
  switch (depth) {
    case 18:
      return {false, {2, 2, 2, 2}};
    case 34:
      return {false, {3, 4, 6, 3}};
    case 50:
      return {true, {3, 4, 6, 3}};
    case 101:
      return {true, {3, 4, 23, 3}};
    default:
      TORCH_CHECK(depth == 152, "ResNet depth must be 18, 34, 50, 101 or 152, got ", depth);
      return {true, {3, 8, 36, 3}};
  }
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in_channels, int64_t channels, int64_t stride)
    : in_channels_(in_channels), channels_(channels), stride_(stride) {
  reset();
}

void BasicBlockImpl::reset() {
  conv1_ = register_module("conv1", Convolution(in_channels_, channels_, 3, stride_));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(channels_));
  conv2_ = register_module("conv2", Convolution(channels_, channels_, 3, 1));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(channels_));
  downsample_ = MakeDownsample(in_channels_, channels_ * kExpansion, stride_);
  if (!downsample_.is_empty()) register_module("downsample", downsample_);
}

void BasicBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::BasicBlock(" << in_channels_ << ", " << channels_
         << ", stride=" << stride_ << ")";
}

// The ReLUs write over the BatchNorm outputs, as in ResidualOutput.
at::Tensor BasicBlockImpl::forward(const at::Tensor& x) {
  at::Tensor out = bn1_->forward(conv1_->forward(x)).relu_();
  out = bn2_->forward(conv2_->forward(out));
  return ResidualOutput(out, Shortcut(downsample_, x));
}

BottleneckImpl::BottleneckImpl(int64_t in_channels, int64_t channels, int64_t stride)
    : in_channels_(in_channels), channels_(channels), stride_(stride) {
  reset();
}

void BottleneckImpl::reset() {
  conv1_ = register_module("conv1", Convolution(in_channels_, channels_, 1, 1));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(channels_));
  conv2_ = register_module("conv2", Convolution(channels_, channels_, 3, stride_));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(channels_));
  conv3_ = register_module("conv3", Convolution(channels_, channels_ * kExpansion, 1, 1));
  bn3_ = register_module("bn3", torch::nn::BatchNorm2d(channels_ * kExpansion));
  downsample_ = MakeDownsample(in_channels_, channels_ * kExpansion, stride_);
  if (!downsample_.is_empty()) register_module("downsample", downsample_);
}

void BottleneckImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::Bottleneck(" << in_channels_ << ", " << channels_
         << ", stride=" << stride_ << ")";
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) {
  at::Tensor out = bn1_->forward(conv1_->forward(x)).relu_();
  out = bn2_->forward(conv2_->forward(out)).relu_();
  out = bn3_->forward(conv3_->forward(out));
  return ResidualOutput(out, Shortcut(downsample_, x));
}

torch::nn::Sequential MakeBasicBlockStage(int64_t in_channels, int64_t channels, int64_t num_blocks,
                                          int64_t stride) {
  return MakeStage<BasicBlockImpl>(in_channels, channels, num_blocks, stride);
}

torch::nn::Sequential MakeBottleneckStage(int64_t in_channels, int64_t channels, int64_t num_blocks,
                                          int64_t stride) {
  return MakeStage<BottleneckImpl>(in_channels, channels, num_blocks, stride);
}

ResNetImpl::ResNetImpl(int64_t depth, const ModelOptions& options)
    : depth_(depth), options_(options) {
  reset();
}

void ResNetImpl::reset() {
  CheckValid(options_);
  const ResNetLayout layout = LayoutOfDepth(depth_);
  const int64_t expansion =
      layout.bottleneck ? BottleneckImpl::kExpansion : BasicBlockImpl::kExpansion;
  const auto make_stage = layout.bottleneck ? MakeBottleneckStage : MakeBasicBlockStage;

  conv1_ = register_module("conv1", options_.cifar_stem()
                                        ? Convolution(options_.in_channels(), 64, 3, 1)
                                        : Convolution(options_.in_channels(), 64, 7, 2));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(64));
  const std::array<int64_t, 4> stage_channels = {64, 128, 256, 512};
  layers_.clear();
  int64_t in_channels = 64;
  for (size_t stage = 0; stage < stage_channels.size(); ++stage) {
    layers_.push_back(register_module(
        "layer" + std::to_string(stage + 1),
        make_stage(in_channels, stage_channels[stage], layout.blocks_per_stage[stage],
                   /*stride=*/stage == 0 ? 1 : 2)));
    in_channels = stage_channels[stage] * expansion;
  }
  fc_ = register_module("fc", torch::nn::Linear(in_channels, options_.num_classes()));
  internal::InitConvolutionsKaimingNormal(*this);
}

void ResNetImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::ResNet(depth=" << depth_ << ", " << options_ << ")";
}

at::Tensor ResNetImpl::forward(const at::Tensor& images) {
  at::Tensor x = bn1_->forward(conv1_->forward(images)).relu_();
  if (!options_.cifar_stem()) x = at::max_pool2d(x, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);
  for (torch::nn::Sequential& layer : layers_) x = layer->forward(x);
  x = at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc_->forward(x);
}

}  // namespace mc::nn_models
