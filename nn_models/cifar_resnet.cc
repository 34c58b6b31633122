#include "nn_models/cifar_resnet.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <array>
#include <string>

#include "nn_models/resnet.h"
#include "nn_models/weight_init.h"

namespace mc::nn_models {

CifarResNetImpl::CifarResNetImpl(int64_t depth, const ModelOptions& options)
    : depth_(depth), options_(options) {
  reset();
}

void CifarResNetImpl::reset() {
  CheckValid(options_);
  TORCH_CHECK(depth_ >= 8 && (depth_ - 2) % 6 == 0,
              "CIFAR ResNet depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110, ...), got ",
              depth_);
  const int64_t blocks_per_stage = (depth_ - 2) / 6;
  const std::array<int64_t, 3> stage_channels = {16, 32, 64};

  conv1_ = register_module(
      "conv1", torch::nn::Conv2d(
                   torch::nn::Conv2dOptions(options_.in_channels(), 16, 3).padding(1).bias(false)));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(16));
  layers_.clear();
  int64_t in_channels = 16;
  for (size_t stage = 0; stage < stage_channels.size(); ++stage) {
    layers_.push_back(
        register_module("layer" + std::to_string(stage + 1),
                        MakeBasicBlockStage(in_channels, stage_channels[stage], blocks_per_stage,
                                            /*stride=*/stage == 0 ? 1 : 2)));
    in_channels = stage_channels[stage];
  }
  fc_ = register_module("fc", torch::nn::Linear(in_channels, options_.num_classes()));
  internal::InitConvolutionsKaimingNormal(*this);
}

void CifarResNetImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::CifarResNet(depth=" << depth_ << ", " << options_ << ")";
}

at::Tensor CifarResNetImpl::forward(const at::Tensor& images) {
  at::Tensor x = bn1_->forward(conv1_->forward(images)).relu_();  // as in resnet.cc
  for (torch::nn::Sequential& layer : layers_) x = layer->forward(x);
  x = at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc_->forward(x);
}

}  // namespace mc::nn_models
