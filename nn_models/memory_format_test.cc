#include "nn_models/memory_format.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/utils.h>

namespace mc::nn_models {
namespace {

bool IsChannelsLast(const at::Tensor& tensor) {
  return tensor.is_contiguous(at::MemoryFormat::ChannelsLast);
}

TEST(MemoryFormatTest, ChannelsLastKeepsShapeAndValues) {
  const at::Tensor batch = at::randn({4, 3, 5, 6});
  const at::Tensor converted = ChannelsLast(batch);
  EXPECT_EQ(converted.sizes(), batch.sizes());
  EXPECT_TRUE(IsChannelsLast(converted));
  EXPECT_FALSE(converted.is_contiguous());
  EXPECT_TRUE(at::equal(converted, batch));
}

TEST(MemoryFormatTest, OneChannelBatchGetsChannelStrideOne) {
  const at::Tensor converted = ChannelsLast(at::randn({4, 1, 5, 6}));
  EXPECT_EQ(converted.strides(), (std::vector<int64_t>{30, 1, 6, 1}));
  // What makes LibTorch's convolutions run channels-last on a 1-channel batch.
  EXPECT_EQ(converted.suggest_memory_format(), at::MemoryFormat::ChannelsLast);
}

TEST(MemoryFormatTest, OtherTensorsPassThrough) {
  const at::Tensor labels = at::arange(4);
  EXPECT_TRUE(ChannelsLast(labels).is_same(labels));
}

TEST(MemoryFormatTest, ConvertsFourDimensionalParametersInPlace) {
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).padding(1)),
                            torch::nn::BatchNorm2d(8), torch::nn::Linear(4, 2));
  const at::Tensor conv_weight = net->parameters()[0];
  const at::Tensor before = conv_weight.clone();
  const at::Tensor input = at::randn({2, 3, 4, 4});
  at::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = net[0]->as<torch::nn::Conv2d>()->forward(input);
  }

  ToChannelsLast(*net);

  EXPECT_TRUE(IsChannelsLast(conv_weight));  // the same tensor, now channels-last
  EXPECT_TRUE(at::equal(conv_weight, before));
  EXPECT_TRUE(conv_weight.requires_grad());
  for (const at::Tensor& parameter : net->parameters()) {
    if (parameter.dim() != 4) {
      EXPECT_TRUE(parameter.is_contiguous());
    }
  }
  at::Tensor output;
  {
    torch::NoGradGuard no_grad;
    output = net[0]->as<torch::nn::Conv2d>()->forward(ChannelsLast(input));
  }
  EXPECT_TRUE(IsChannelsLast(output));
  EXPECT_TRUE(at::allclose(output, expected, 1e-5, 1e-5));
}

}  // namespace
}  // namespace mc::nn_models
