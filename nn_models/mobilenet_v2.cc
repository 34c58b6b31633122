#include "nn_models/mobilenet_v2.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include <memory>

#include "nn_models/layers.h"
#include "nn_models/weight_init.h"

namespace mc::nn_models {
namespace {

// One row (t, c, n, s) of Sandler et al. 2018, Table 2: n blocks with expansion t and c output
// channels, the first of stride s.
struct BottleneckStage {
  int64_t expand_ratio;
  int64_t out_channels;
  int64_t num_blocks;
  int64_t stride;
};

constexpr BottleneckStage kStages[] = {
    {1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2},  {6, 64, 4, 2},
    {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
};
constexpr int64_t kStemChannels = 32;
constexpr int64_t kLastChannels = 1280;
constexpr double kDefaultDropout = 0.2;  // torchvision's

}  // namespace

ConvNormReLU6Impl::ConvNormReLU6Impl(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                                     int64_t stride, int64_t groups)
    : in_channels_(in_channels),
      out_channels_(out_channels),
      kernel_size_(kernel_size),
      stride_(stride),
      groups_(groups) {
  reset();
}

void ConvNormReLU6Impl::reset() {
  conv_ =
      register_module("0", SameConv2d(in_channels_, out_channels_, kernel_size_, stride_, groups_));
  norm_ = register_module("1", torch::nn::BatchNorm2d(out_channels_));
}

void ConvNormReLU6Impl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::ConvNormReLU6(" << in_channels_ << ", " << out_channels_
         << ", kernel_size=" << kernel_size_ << ", stride=" << stride_ << ", groups=" << groups_
         << ")";
}

at::Tensor ConvNormReLU6Impl::forward(const at::Tensor& x) {
  return at::hardtanh(norm_->forward(conv_->forward(x)), /*min_val=*/0.0, /*max_val=*/6.0);
}

InvertedResidualImpl::InvertedResidualImpl(int64_t in_channels, int64_t out_channels,
                                           int64_t stride, int64_t expand_ratio)
    : in_channels_(in_channels),
      out_channels_(out_channels),
      stride_(stride),
      expand_ratio_(expand_ratio) {
  reset();
}

void InvertedResidualImpl::reset() {
  const int64_t hidden_channels = in_channels_ * expand_ratio_;
  torch::nn::Sequential conv;
  if (expand_ratio_ != 1) conv->push_back(ConvNormReLU6(in_channels_, hidden_channels, 1));
  conv->push_back(
      ConvNormReLU6(hidden_channels, hidden_channels, 3, stride_, /*groups=*/hidden_channels));
  conv->push_back(SameConv2d(hidden_channels, out_channels_, 1));
  conv->push_back(torch::nn::BatchNorm2d(out_channels_));
  conv_ = register_module("conv", conv);
}

void InvertedResidualImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::InvertedResidual(" << in_channels_ << ", " << out_channels_
         << ", stride=" << stride_ << ", expand_ratio=" << expand_ratio_ << ")";
}

at::Tensor InvertedResidualImpl::forward(const at::Tensor& x) {
  at::Tensor out = conv_->forward(x);
  if (stride_ == 1 && in_channels_ == out_channels_) out = out + x;
  return out;
}

MobileNetV2Impl::MobileNetV2Impl(const ModelOptions& options) : options_(options) { reset(); }

void MobileNetV2Impl::reset() {
  CheckValid(options_);
  torch::nn::Sequential features;
  features->push_back(ConvNormReLU6(options_.in_channels(), kStemChannels, 3,
                                    /*stride=*/options_.cifar_stem() ? 1 : 2));
  int64_t in_channels = kStemChannels;
  for (const BottleneckStage& stage : kStages) {
    for (int64_t block = 0; block < stage.num_blocks; ++block) {
      features->push_back(std::make_shared<InvertedResidualImpl>(
          in_channels, stage.out_channels, block == 0 ? stage.stride : 1, stage.expand_ratio));
      in_channels = stage.out_channels;
    }
  }
  features->push_back(ConvNormReLU6(in_channels, kLastChannels, 1));
  features_ = register_module("features", features);

  torch::nn::Linear linear(kLastChannels, options_.num_classes());
  classifier_ = register_module(
      "classifier", torch::nn::Sequential(
                        torch::nn::Dropout(options_.dropout().value_or(kDefaultDropout)), linear));

  internal::InitConvolutionsKaimingNormal(*this);
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(linear->weight, /*mean=*/0.0, /*std=*/0.01);
  torch::nn::init::zeros_(linear->bias);
}

void MobileNetV2Impl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::MobileNetV2(" << options_ << ")";
}

at::Tensor MobileNetV2Impl::forward(const at::Tensor& images) {
  at::Tensor x = features_->forward(images);
  x = at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return classifier_->forward(x);
}

ForwardGraphBuilder::Value ConvNormReLU6Impl::DescribeForward(ForwardGraphBuilder& builder,
                                      const std::string& prefix, ForwardGraphBuilder::Value x) const {
  return builder.Relu6(builder.Layer(prefix + "1", builder.Layer(prefix + "0", x)));
}

ForwardGraphBuilder::Value InvertedResidualImpl::DescribeForward(ForwardGraphBuilder& builder,
                                         const std::string& prefix, ForwardGraphBuilder::Value x) const {
  ForwardGraphBuilder::Value out = x;
  for (size_t i = 0; i < conv_->size(); ++i) {
    const std::string path = prefix + "conv." + std::to_string(i);
    if (const auto* block = conv_->ptr(i)->as<ConvNormReLU6Impl>()) {
      out = block->DescribeForward(builder, path + ".", out);
    } else {
      out = builder.Layer(path, out);
    }
  }
  return stride_ == 1 && in_channels_ == out_channels_ ? builder.Add(out, x) : out;
}

ForwardGraphBuilder::Value MobileNetV2Impl::DescribeForward(ForwardGraphBuilder& builder) const {
  ForwardGraphBuilder::Value x = builder.Input();
  for (size_t i = 0; i < features_->size(); ++i) {
    const std::string prefix = "features." + std::to_string(i) + ".";
    if (const auto* block = features_->ptr(i)->as<ConvNormReLU6Impl>()) {
      x = block->DescribeForward(builder, prefix, x);
    } else {
      x = features_->ptr(i)->as<InvertedResidualImpl>()->DescribeForward(builder, prefix, x);
    }
  }
  return builder.Layer("classifier.1", builder.GlobalAveragePool(x));
}

}  // namespace mc::nn_models
