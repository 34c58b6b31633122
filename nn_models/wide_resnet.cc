#include "nn_models/wide_resnet.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <array>
#include <memory>
#include <string>

#include "nn_models/batch_norm_relu.h"
#include "nn_models/layers.h"
#include "nn_models/weight_init.h"

namespace mc::nn_models {

WideBasicBlockImpl::WideBasicBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride,
                                       double dropout)
    : in_channels_(in_channels), out_channels_(out_channels), stride_(stride), dropout_(dropout) {
  reset();
}

void WideBasicBlockImpl::reset() {
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(in_channels_));
  conv1_ = register_module("conv1", SameConv2d(in_channels_, out_channels_, 3, stride_));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(out_channels_));
  conv2_ = register_module("conv2", SameConv2d(out_channels_, out_channels_, 3, 1));
  shortcut_ = nullptr;
  if (stride_ != 1 || in_channels_ != out_channels_) {
    shortcut_ = register_module("shortcut", SameConv2d(in_channels_, out_channels_, 1, stride_));
  }
}

void WideBasicBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::WideBasicBlock(" << in_channels_ << ", " << out_channels_
         << ", stride=" << stride_ << ", dropout=" << dropout_ << ")";
}

at::Tensor WideBasicBlockImpl::forward(const at::Tensor& x) {
  const at::Tensor activated = BatchNormReLU(*bn1_, x);
  at::Tensor y = BatchNormReLU(*bn2_, conv1_->forward(activated));
  y = conv2_->forward(at::dropout(y, dropout_, is_training()));
  // The projection sees the pre-activated input, as in the authors' implementation.
  return y + (shortcut_.is_empty() ? x : shortcut_->forward(activated));
}

WideResNetImpl::WideResNetImpl(int64_t depth, int64_t widen_factor, const ModelOptions& options)
    : depth_(depth), widen_factor_(widen_factor), options_(options) {
  reset();
}

void WideResNetImpl::reset() {
  CheckValid(options_);
  TORCH_CHECK(depth_ >= 10 && (depth_ - 4) % 6 == 0,
              "wide ResNet depth must be 6n + 4 with n >= 1 (10, 16, 22, 28, 40, ...), got ",
              depth_);
  TORCH_CHECK(widen_factor_ >= 1, "wide ResNet widen factor must be >= 1, got ", widen_factor_);
  const int64_t blocks_per_stage = (depth_ - 4) / 6;
  const double dropout = options_.dropout().value_or(0.0);
  const std::array<int64_t, 3> stage_channels = {16 * widen_factor_, 32 * widen_factor_,
                                                 64 * widen_factor_};

  conv1_ = register_module("conv1", SameConv2d(options_.in_channels(), 16, 3, 1));
  layers_.clear();
  int64_t in_channels = 16;
  for (size_t stage = 0; stage < stage_channels.size(); ++stage) {
    torch::nn::Sequential layer;
    for (int64_t block = 0; block < blocks_per_stage; ++block) {
      const int64_t stride = (stage > 0 && block == 0) ? 2 : 1;
      layer->push_back(std::make_shared<WideBasicBlockImpl>(in_channels, stage_channels[stage],
                                                            stride, dropout));
      in_channels = stage_channels[stage];
    }
    layers_.push_back(register_module("layer" + std::to_string(stage + 1), layer));
  }
  bn_ = register_module("bn", torch::nn::BatchNorm2d(in_channels));
  fc_ = register_module("fc", torch::nn::Linear(in_channels, options_.num_classes()));
  internal::InitConvolutionsKaimingNormal(*this);
}

void WideResNetImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::WideResNet(depth=" << depth_ << ", widen_factor=" << widen_factor_
         << ", " << options_ << ")";
}

at::Tensor WideResNetImpl::forward(const at::Tensor& images) {
  at::Tensor x = conv1_->forward(images);
  for (torch::nn::Sequential& layer : layers_) x = layer->forward(x);
  x = at::relu(bn_->forward(x));
  x = at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc_->forward(x);
}

ForwardGraphBuilder::Value WideBasicBlockImpl::DescribeForward(ForwardGraphBuilder& builder,
                                       const std::string& prefix, ForwardGraphBuilder::Value x) const {
  const ForwardGraphBuilder::Value activated = builder.Relu(builder.Layer(prefix + "bn1", x));
  ForwardGraphBuilder::Value y = builder.Relu(builder.Layer(prefix + "bn2", builder.Layer(prefix + "conv1", activated)));
  y = builder.Layer(prefix + "conv2", y);
  return builder.Add(y, shortcut_.is_empty() ? x : builder.Layer(prefix + "shortcut", activated));
}

ForwardGraphBuilder::Value WideResNetImpl::DescribeForward(ForwardGraphBuilder& builder) const {
  ForwardGraphBuilder::Value x = builder.Layer("conv1", builder.Input());
  for (size_t stage = 0; stage < layers_.size(); ++stage) {
    for (size_t block = 0; block < layers_[stage]->size(); ++block) {
      const std::string prefix = "layer" + std::to_string(stage + 1) + "." + std::to_string(block) + ".";
      x = layers_[stage]->ptr(block)->as<WideBasicBlockImpl>()->DescribeForward(builder, prefix, x);
    }
  }
  x = builder.Relu(builder.Layer("bn", x));
  return builder.Layer("fc", builder.GlobalAveragePool(x));
}

}  // namespace mc::nn_models
