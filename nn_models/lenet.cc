#include "nn_models/lenet.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdint>

namespace mc::nn_models {
namespace {

constexpr int64_t kKernelSize = 5;
constexpr int64_t kMinImageSize = 16;

// Side of conv2's pooled output: each unpadded 5x5 convolution removes 4, each pool halves.
int64_t FeatureMapSize(int64_t image_size) {
  return ((image_size - (kKernelSize - 1)) / 2 - (kKernelSize - 1)) / 2;
}

}  // namespace

LeNetImpl::LeNetImpl(const ModelOptions& options) : options_(options) { reset(); }

void LeNetImpl::reset() {
  CheckValid(options_);
  TORCH_CHECK(options_.image_size() >= kMinImageSize, "LeNet needs image_size >= ", kMinImageSize,
              ", got ", options_.image_size());
  const int64_t feature_map_size = FeatureMapSize(options_.image_size());
  conv1_ = register_module("conv1", torch::nn::Conv2d(options_.in_channels(), 6, kKernelSize));
  conv2_ = register_module("conv2", torch::nn::Conv2d(6, 16, kKernelSize));
  fc1_ = register_module("fc1", torch::nn::Linear(16 * feature_map_size * feature_map_size, 120));
  fc2_ = register_module("fc2", torch::nn::Linear(120, 84));
  fc3_ = register_module("fc3", torch::nn::Linear(84, options_.num_classes()));
}

void LeNetImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::LeNet(" << options_ << ")";
}

at::Tensor LeNetImpl::forward(const at::Tensor& images) {
  const int64_t size = options_.image_size();
  TORCH_CHECK(images.dim() == 4 && images.size(2) == size && images.size(3) == size,
              "LeNet expects (B, C, ", size, ", ", size, ") images, got ", images.sizes());
  at::Tensor x = at::max_pool2d(at::relu(conv1_->forward(images)), /*kernel_size=*/2);
  x = at::max_pool2d(at::relu(conv2_->forward(x)), /*kernel_size=*/2);
  x = at::relu(fc1_->forward(x.flatten(1)));
  x = at::relu(fc2_->forward(x));
  return fc3_->forward(x);
}

ForwardGraphBuilder::Value LeNetImpl::DescribeForward(ForwardGraphBuilder& builder) const {
  ForwardGraphBuilder::Value x = builder.MaxPool2d(builder.Relu(builder.Layer("conv1", builder.Input())), 2, 2, 0);
  x = builder.MaxPool2d(builder.Relu(builder.Layer("conv2", x)), 2, 2, 0);
  x = builder.Relu(builder.Layer("fc1", builder.Flatten(x)));
  x = builder.Relu(builder.Layer("fc2", x));
  return builder.Layer("fc3", x);
}

}  // namespace mc::nn_models
