// Decoding whole compressed models of any method back into a module.
#include "model_io/decoder.h"

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
#include "vq/codebook_codec.h"

namespace mc::model_io {
namespace {

using quant::BucketedUniformOptions;
using quant::BucketedUniformQuantizer;
using quant::BucketScaling;
using quant::EncodeLearnedPoints;
using quant::LinearBucketScaling;
using quant::NearestPoint;
using quant::ScaleDown;
using quant::ScaleUp;

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

// Tests that a codebook tensor (product quantization) decodes to its rebuilt weight.
TEST(ModelDecoderTest, DecodesCodebooks) {
  at::manual_seed(3);
  const std::vector<int64_t> shape = {16, 8, 3, 3};
  const int64_t block_size = 9;
  const int64_t k = 32;
  const at::Tensor centroids = at::randn({k, block_size});
  const at::Tensor assignments = at::randint(k, {16 * 8 * 3 * 3 / block_size}, at::kLong);
  serialization::CompressedModel model;
  MC_ASSERT_OK_AND_ASSIGN(*model.add_tensors(),
                          vq::EncodeCodebook("conv.weight", shape, centroids, assignments));
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor expected, vq::DecodeCodebook(model.tensors(0)));
  MC_ASSERT_OK_AND_ASSIGN(const serialization::StateDict state, DecodeCompressedModel(model));
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0].first, "conv.weight");
  EXPECT_EQ(state[0].second.sizes(), at::IntArrayRef(shape));
  EXPECT_TRUE(state[0].second.equal(expected));
}

}  // namespace
}  // namespace mc::model_io
