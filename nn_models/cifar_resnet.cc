#include "nn_models/cifar_resnet.h"

#include <c10/util/Exception.h>

#include "nn_models/resnet.h"

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
  internal::ResNetTrunkLayout layout;  // 3x3 stem of stride 1, BasicBlocks
  layout.stage_channels = {16, 32, 64};
  layout.blocks_per_stage = {blocks_per_stage, blocks_per_stage, blocks_per_stage};
  trunk_ =
      internal::RegisterResNetTrunk(*this, layout, options_.in_channels(), options_.num_classes());
}

void CifarResNetImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::CifarResNet(depth=" << depth_ << ", " << options_ << ")";
}

at::Tensor CifarResNetImpl::forward(const at::Tensor& images) {
  return internal::ResNetTrunkForward(trunk_, images, /*max_pool=*/false);
}

ForwardGraphBuilder::Value CifarResNetImpl::DescribeForward(ForwardGraphBuilder& builder) const {
  return internal::DescribeResNetTrunk(trunk_, builder, /*max_pool=*/false);
}

}  // namespace mc::nn_models
