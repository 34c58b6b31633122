// Decoding whole compressed models of any method back into a module.
#include "quant/model_decoder.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include "common/status_matchers.h"
#include "quant/bucketed_uniform.h"
#include "quant/learned_points.h"

namespace mc::quant {
namespace {

torch::nn::Sequential Net() {
  return torch::nn::Sequential(torch::nn::Linear(6, 4), torch::nn::BatchNorm1d(4));
}

// Tests that a bucketed uniform state, with one tensor re-encoded on learned points, loads
// into a fresh model with exactly the quantized values and the buffers.
TEST(ModelDecoderTest, LoadsMixedEncodings) {
  at::manual_seed(2);
  torch::nn::Sequential source = Net();
  BucketedUniformQuantizer quantizer(source.ptr(), BucketedUniformOptions().bits(3).bucket_size(8));
  serialization::CompressedModel state = quantizer.get_quantized_state();
  quantizer.quantize();
  const at::Tensor points = at::tensor({0.f, 0.5f, 1.f});
  serialization::CompressedTensor& bias = *state.mutable_tensors(1);
  ASSERT_EQ(bias.name(), "0.bias");
  const at::Tensor bias_values = source->named_parameters()["0.bias"].detach();
  const BucketScaling scaling = LinearBucketScaling(bias_values, 0);
  const at::Tensor index = NearestPoint(ScaleDown(bias_values, scaling), points);
  *bias.mutable_learned_points() = EncodeLearnedPoints(index, points, scaling);

  torch::nn::Sequential target = Net();
  ASSERT_THAT(LoadCompressedModel(state, *target.ptr()), IsOk());
  EXPECT_TRUE(target->named_parameters()["0.weight"].equal(source->named_parameters()["0.weight"]));
  EXPECT_TRUE(target->named_parameters()["0.bias"].equal(
      ScaleUp(points.index_select(0, index), scaling)));
  EXPECT_TRUE(target->named_buffers()["1.running_var"].equal(source->named_buffers()["1.running_var"]));
}

// Tests that an empty (corrupt) codebook tensor is refused by name and the module is left
// unchanged.
TEST(ModelDecoderTest, CorruptTensorLeavesModuleUnchanged) {
  torch::nn::Sequential source = Net();
  BucketedUniformQuantizer quantizer(source.ptr());
  serialization::CompressedModel state = quantizer.get_quantized_state();
  state.mutable_tensors(0)->mutable_codebook();
  torch::nn::Sequential target = Net();
  const at::Tensor before = target->named_parameters()["0.weight"].detach().clone();
  EXPECT_THAT(LoadCompressedModel(state, *target.ptr()),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("0.weight")));
  EXPECT_TRUE(target->named_parameters()["0.weight"].equal(before));
}

}  // namespace
}  // namespace mc::quant
