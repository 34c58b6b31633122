#include "nn_models/resnet.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <memory>
#include <string>

#include "nn_models/batch_norm_relu.h"
#include "nn_models/layers.h"
#include "nn_models/weight_init.h"

namespace mc::nn_models {
namespace {

// The projection shortcut (1x1 convolution + BatchNorm), or an empty holder when the shortcut
// is the identity.
torch::nn::Sequential MakeDownsample(int64_t in_channels, int64_t out_channels, int64_t stride) {
  if (stride == 1 && in_channels == out_channels) return torch::nn::Sequential(nullptr);
  return torch::nn::Sequential(SameConv2d(in_channels, out_channels, 1, stride),
                               torch::nn::BatchNorm2d(out_channels));
}

at::Tensor Shortcut(torch::nn::Sequential& downsample, const at::Tensor& x) {
  return downsample.is_empty() ? x : downsample->forward(x);
}

ForwardGraphBuilder::Value DescribeShortcut(const torch::nn::Sequential& downsample, ForwardGraphBuilder& builder,
                     const std::string& prefix, ForwardGraphBuilder::Value x) {
  if (downsample.is_empty()) return x;
  return builder.Layer(prefix + "downsample.1", builder.Layer(prefix + "downsample.0", x));
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

// Block type, stage widths and blocks per stage of torchvision's ResNets (He et al. 2016,
// Table 1); the stem is left to the options.
internal::ResNetTrunkLayout LayoutOfDepth(int64_t depth) {
  internal::ResNetTrunkLayout layout;
  layout.stage_channels = {64, 128, 256, 512};
  switch (depth) {
    case 18:
      layout.blocks_per_stage = {2, 2, 2, 2};
      break;
    case 34:
      layout.blocks_per_stage = {3, 4, 6, 3};
      break;
    case 50:
      layout.bottleneck = true;
      layout.blocks_per_stage = {3, 4, 6, 3};
      break;
    case 101:
      layout.bottleneck = true;
      layout.blocks_per_stage = {3, 4, 23, 3};
      break;
    default:
      TORCH_CHECK(depth == 152, "ResNet depth must be 18, 34, 50, 101 or 152, got ", depth);
      layout.bottleneck = true;
      layout.blocks_per_stage = {3, 8, 36, 3};
  }
  return layout;
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in_channels, int64_t channels, int64_t stride)
    : in_channels_(in_channels), channels_(channels), stride_(stride) {
  reset();
}

void BasicBlockImpl::reset() {
  conv1_ = register_module("conv1", SameConv2d(in_channels_, channels_, 3, stride_));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(channels_));
  conv2_ = register_module("conv2", SameConv2d(channels_, channels_, 3, 1));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(channels_));
  downsample_ = MakeDownsample(in_channels_, channels_ * kExpansion, stride_);
  if (!downsample_.is_empty()) register_module("downsample", downsample_);
}

void BasicBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::BasicBlock(" << in_channels_ << ", " << channels_
         << ", stride=" << stride_ << ")";
}

at::Tensor BasicBlockImpl::forward(const at::Tensor& x) {
  const at::Tensor out = BatchNormReLU(*bn1_, conv1_->forward(x));
  return BatchNormReLU(*bn2_, conv2_->forward(out), Shortcut(downsample_, x));
}

ForwardGraphBuilder::Value BasicBlockImpl::DescribeForward(ForwardGraphBuilder& builder, const std::string& prefix,
                                   ForwardGraphBuilder::Value x) const {
  ForwardGraphBuilder::Value out = builder.Relu(builder.Layer(prefix + "bn1", builder.Layer(prefix + "conv1", x)));
  out = builder.Layer(prefix + "bn2", builder.Layer(prefix + "conv2", out));
  return builder.Relu(builder.Add(out, DescribeShortcut(downsample_, builder, prefix, x)));
}

BottleneckImpl::BottleneckImpl(int64_t in_channels, int64_t channels, int64_t stride)
    : in_channels_(in_channels), channels_(channels), stride_(stride) {
  reset();
}

void BottleneckImpl::reset() {
  conv1_ = register_module("conv1", SameConv2d(in_channels_, channels_, 1, 1));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(channels_));
  conv2_ = register_module("conv2", SameConv2d(channels_, channels_, 3, stride_));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(channels_));
  conv3_ = register_module("conv3", SameConv2d(channels_, channels_ * kExpansion, 1, 1));
  bn3_ = register_module("bn3", torch::nn::BatchNorm2d(channels_ * kExpansion));
  downsample_ = MakeDownsample(in_channels_, channels_ * kExpansion, stride_);
  if (!downsample_.is_empty()) register_module("downsample", downsample_);
}

void BottleneckImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::Bottleneck(" << in_channels_ << ", " << channels_
         << ", stride=" << stride_ << ")";
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) {
  at::Tensor out = BatchNormReLU(*bn1_, conv1_->forward(x));
  out = BatchNormReLU(*bn2_, conv2_->forward(out));
  return BatchNormReLU(*bn3_, conv3_->forward(out), Shortcut(downsample_, x));
}

ForwardGraphBuilder::Value BottleneckImpl::DescribeForward(ForwardGraphBuilder& builder, const std::string& prefix,
                                   ForwardGraphBuilder::Value x) const {
  ForwardGraphBuilder::Value out = builder.Relu(builder.Layer(prefix + "bn1", builder.Layer(prefix + "conv1", x)));
  out = builder.Relu(builder.Layer(prefix + "bn2", builder.Layer(prefix + "conv2", out)));
  out = builder.Layer(prefix + "bn3", builder.Layer(prefix + "conv3", out));
  return builder.Relu(builder.Add(out, DescribeShortcut(downsample_, builder, prefix, x)));
}

torch::nn::Sequential MakeBasicBlockStage(int64_t in_channels, int64_t channels, int64_t num_blocks,
                                          int64_t stride) {
  return MakeStage<BasicBlockImpl>(in_channels, channels, num_blocks, stride);
}

torch::nn::Sequential MakeBottleneckStage(int64_t in_channels, int64_t channels, int64_t num_blocks,
                                          int64_t stride) {
  return MakeStage<BottleneckImpl>(in_channels, channels, num_blocks, stride);
}

namespace internal {

ResNetTrunk RegisterResNetTrunk(torch::nn::Module& model, const ResNetTrunkLayout& layout,
                                int64_t in_channels, int64_t num_classes) {
  TORCH_CHECK(!layout.stage_channels.empty() &&
                  layout.stage_channels.size() == layout.blocks_per_stage.size(),
              "a ResNet needs as many block counts as stages");
  const int64_t expansion =
      layout.bottleneck ? BottleneckImpl::kExpansion : BasicBlockImpl::kExpansion;
  const auto make_stage = layout.bottleneck ? MakeBottleneckStage : MakeBasicBlockStage;

  ResNetTrunk trunk;
  const int64_t stem_channels = layout.stage_channels.front();
  trunk.conv1 = model.register_module(
      "conv1", SameConv2d(in_channels, stem_channels, layout.stem_kernel_size, layout.stem_stride));
  trunk.bn1 = model.register_module("bn1", torch::nn::BatchNorm2d(stem_channels));
  int64_t channels = stem_channels;
  for (size_t stage = 0; stage < layout.stage_channels.size(); ++stage) {
    trunk.layers.push_back(model.register_module(
        "layer" + std::to_string(stage + 1),
        make_stage(channels, layout.stage_channels[stage], layout.blocks_per_stage[stage],
                   /*stride=*/stage == 0 ? 1 : 2)));
    channels = layout.stage_channels[stage] * expansion;
  }
  trunk.fc = model.register_module("fc", torch::nn::Linear(channels, num_classes));
  InitConvolutionsKaimingNormal(model);
  return trunk;
}

at::Tensor ResNetTrunkForward(ResNetTrunk& trunk, const at::Tensor& images, bool max_pool) {
  at::Tensor x = BatchNormReLU(*trunk.bn1, trunk.conv1->forward(images));
  if (max_pool) x = at::max_pool2d(x, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);
  for (torch::nn::Sequential& layer : trunk.layers) x = layer->forward(x);
  x = at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return trunk.fc->forward(x);
}

ForwardGraphBuilder::Value DescribeResNetTrunk(const ResNetTrunk& trunk, ForwardGraphBuilder& builder, bool max_pool) {
  ForwardGraphBuilder::Value x = builder.Relu(builder.Layer("bn1", builder.Layer("conv1", builder.Input())));
  if (max_pool) x = builder.MaxPool2d(x, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);
  for (size_t stage = 0; stage < trunk.layers.size(); ++stage) {
    const torch::nn::Sequential& layer = trunk.layers[stage];
    for (size_t block = 0; block < layer->size(); ++block) {
      const std::string prefix = "layer" + std::to_string(stage + 1) + "." + std::to_string(block) + ".";
      if (const auto* basic = layer->ptr(block)->as<BasicBlockImpl>()) {
        x = basic->DescribeForward(builder, prefix, x);
      } else {
        x = layer->ptr(block)->as<BottleneckImpl>()->DescribeForward(builder, prefix, x);
      }
    }
  }
  return builder.Layer("fc", builder.GlobalAveragePool(x));
}

}  // namespace internal

ResNetImpl::ResNetImpl(int64_t depth, const ModelOptions& options)
    : depth_(depth), options_(options) {
  reset();
}

void ResNetImpl::reset() {
  CheckValid(options_);
  internal::ResNetTrunkLayout layout = LayoutOfDepth(depth_);
  layout.stem_kernel_size = options_.cifar_stem() ? 3 : 7;
  layout.stem_stride = options_.cifar_stem() ? 1 : 2;
  trunk_ =
      internal::RegisterResNetTrunk(*this, layout, options_.in_channels(), options_.num_classes());
}

void ResNetImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::ResNet(depth=" << depth_ << ", " << options_ << ")";
}

at::Tensor ResNetImpl::forward(const at::Tensor& images) {
  return internal::ResNetTrunkForward(trunk_, images, /*max_pool=*/!options_.cifar_stem());
}

ForwardGraphBuilder::Value ResNetImpl::DescribeForward(ForwardGraphBuilder& builder) const {
  return internal::DescribeResNetTrunk(trunk_, builder, /*max_pool=*/!options_.cifar_stem());
}

}  // namespace mc::nn_models
