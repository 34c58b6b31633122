#include "nn_models/layers.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

namespace mc::nn_models {
namespace {

// Tests that SameConv2d has no bias, keeps the size at stride 1, divides it rounding up at
// stride 2, and passes the groups on.
TEST(SameConv2dTest, BiasFreeSamePadding) {
  torch::nn::Conv2d conv = SameConv2d(4, 8, 3);
  EXPECT_FALSE(conv->bias.defined());
  EXPECT_EQ(conv->forward(at::randn({1, 4, 7, 5})).sizes(), (at::IntArrayRef{1, 8, 7, 5}));
  torch::nn::Conv2d strided = SameConv2d(4, 8, 7, /*stride=*/2);
  EXPECT_EQ(strided->forward(at::randn({1, 4, 7, 5})).sizes(), (at::IntArrayRef{1, 8, 4, 3}));
  torch::nn::Conv2d depthwise = SameConv2d(4, 4, 3, 1, /*groups=*/4);
  EXPECT_EQ(depthwise->weight.sizes(), (at::IntArrayRef{4, 1, 3, 3}));
}

// Tests that convolutions of every rank and linear layers are weight layers, and that
// normalisation layers and containers are not.
TEST(IsConvolutionOrLinearTest, NamesTheWeightLayers) {
  EXPECT_TRUE(IsConvolutionOrLinear(*torch::nn::Conv1d(2, 2, 3)));
  EXPECT_TRUE(IsConvolutionOrLinear(*SameConv2d(2, 2, 3)));
  EXPECT_TRUE(IsConvolutionOrLinear(*torch::nn::Conv3d(2, 2, 3)));
  EXPECT_TRUE(IsConvolutionOrLinear(*torch::nn::Linear(2, 2)));
  EXPECT_FALSE(IsConvolutionOrLinear(*torch::nn::BatchNorm2d(2)));
  EXPECT_FALSE(IsConvolutionOrLinear(*torch::nn::Sequential(torch::nn::Linear(2, 2))));
}

}  // namespace
}  // namespace mc::nn_models
