// Bucketed uniform quantization (quantized distillation's quantizer): values on hand-worked
// tensors, short and constant buckets, rounding, and the weight quantizer's contract.
#include "quant/bucketed_uniform.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include "common/status_matchers.h"
#include "quant/testutil.h"

namespace mc::quant {
namespace {

at::Tensor Floats(std::vector<float> values) { return at::tensor(values, at::kFloat); }

std::vector<float> ToVector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kFloat).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

std::vector<int> Levels(const UniformQuantized& q) {
  const at::Tensor c = q.levels.reshape({-1}).to(at::kInt).contiguous();
  return {c.data_ptr<int>(), c.data_ptr<int>() + c.numel()};
}

// Tests 2-bit levels and values of two buckets of 4 worked by hand: bucket [0, 3] scales by
// 3 (levels = x), bucket [-1, 1] has points -1, -1/3, 1/3, 1.
TEST(BucketedUniformTest, HandWorkedBuckets) {
  const at::Tensor x = Floats({0, 1, 2, 3, -1, 0.2f, 0.5f, 1});
  const UniformQuantized q = BucketedUniformQuantize(x, 2, 4, Rounding::kHalfAwayFromZero);
  // (0.2 + 1) / 2 * 3 = 1.8 -> 2; (0.5 + 1) / 2 * 3 = 2.25 -> 2.
  EXPECT_THAT(Levels(q), ::testing::ElementsAre(0, 1, 2, 3, 0, 2, 2, 3));
  EXPECT_THAT(ToVector(q.min), ::testing::ElementsAre(0, -1));
  EXPECT_THAT(ToVector(q.max), ::testing::ElementsAre(3, 1));
  EXPECT_THAT(ToVector(BucketedUniformUnquantize(q, 2, 4)),
              ::testing::Pointwise(::testing::FloatNear(1e-6),
                                   {0.f, 1.f, 2.f, 3.f, -1.f, 1.f / 3, 1.f / 3, 1.f}));
}

// Tests that a short last bucket takes its own min and max (the reference pads it with its
// last element, which cannot change them), and that a tensor smaller than a bucket is one.
TEST(BucketedUniformTest, ShortLastBucket) {
  const at::Tensor x = Floats({0, 4, 8, 12, 10, 11, 14});
  const UniformQuantized q = BucketedUniformQuantize(x, 1, 4, Rounding::kHalfAwayFromZero);
  EXPECT_THAT(ToVector(q.min), ::testing::ElementsAre(0, 10));
  EXPECT_THAT(ToVector(q.max), ::testing::ElementsAre(12, 14));
  // Bucket 2 scaled: 0, 0.25, 1 -> levels 0, 0, 1.
  EXPECT_THAT(Levels(q), ::testing::ElementsAre(0, 0, 1, 1, 0, 0, 1));
  const UniformQuantized whole = BucketedUniformQuantize(x, 1, 256, Rounding::kHalfAwayFromZero);
  EXPECT_EQ(whole.min.numel(), 1);
  EXPECT_FLOAT_EQ(whole.max.item<float>(), 14);
}

// Tests that a constant bucket keeps its value exactly (the reference sets its scale to 1).
TEST(BucketedUniformTest, ConstantBucketKeepsItsValue) {
  const at::Tensor x = Floats({0.7f, 0.7f, 0.7f, -2, 5, 1});
  const UniformQuantized q = BucketedUniformQuantize(x, 3, 3, Rounding::kHalfAwayFromZero);
  EXPECT_THAT(ToVector(BucketedUniformUnquantize(q, 3, 3)).front(), 0.7f);
  EXPECT_THAT(Levels(q), ::testing::ElementsAre(0, 0, 0, 0, 7, 3));
}

// Tests that ties round away from zero (PyTorch 0.3's round), not to even: 1.5 -> 2, 0.5 -> 1.
TEST(BucketedUniformTest, TiesRoundAwayFromZero) {
  // One bucket [0, 3] at 2 bits: x = 0.5 and 1.5 are ties.
  const at::Tensor x = Floats({0, 0.5f, 1.5f, 2.5f, 3});
  EXPECT_THAT(Levels(BucketedUniformQuantize(x, 2, 0, Rounding::kHalfAwayFromZero)),
              ::testing::ElementsAre(0, 1, 2, 3, 3));
  EXPECT_THAT(Levels(BucketedUniformQuantize(x, 2, 0, Rounding::kHalfToEven)),
              ::testing::ElementsAre(0, 0, 2, 2, 3));
}

// Tests that stochastic rounding is unbiased: 0.25 of the way between two levels rounds up
// about a quarter of the time, so the mean of the values is the input.
TEST(BucketedUniformTest, StochasticRoundingIsUnbiased) {
  at::manual_seed(7);
  at::Tensor x = at::full({100000}, 0.25f);
  x[0] = 0;
  x[1] = 1;  // bucket range [0, 1], 1 bit: levels 0 and 1
  const UniformQuantized q = BucketedUniformQuantize(x, 1, 0, Rounding::kStochastic);
  const double mean = BucketedUniformUnquantize(q, 1, 0).narrow(0, 2, 99998).mean().item<double>();
  EXPECT_NEAR(mean, 0.25, 0.01);
}

std::shared_ptr<torch::nn::Module> LinearBn() {
  return torch::nn::Sequential(torch::nn::Linear(40, 10), torch::nn::BatchNorm1d(10)).ptr();
}

// Tests that by default every parameter (weights, biases, BatchNorm affine) is quantized and
// the size is bits per weight plus two float32 scales per bucket.
TEST(BucketedUniformQuantizerTest, QuantizesEveryParameterAndCountsScales) {
  auto model = LinearBn();
  BucketedUniformQuantizer quantizer(model, BucketedUniformOptions().bits(4).bucket_size(256));
  ASSERT_EQ(quantizer.quantized_params().size(), 4u);
  // 400 weights: 2 buckets; 10 + 10 + 10: one each.
  EXPECT_THAT(quantizer.quantized_param_bits(),
              ::testing::ElementsAre(4 * 400 + 2 * 64, 4 * 10 + 64, 4 * 10 + 64, 4 * 10 + 64));
}

// Tests the straight-through training step: the forward sees Q(w), the gradient reaches the
// full-precision weights unchanged, and the full-precision weights come back after the step.
TEST(BucketedUniformQuantizerTest, StraightThroughStep) {
  at::manual_seed(3);
  torch::nn::Linear linear(8, 2);
  const at::Tensor original = linear->weight.detach().clone();
  BucketedUniformQuantizer quantizer(linear.ptr(), BucketedUniformOptions().bits(2).bucket_size(4));
  const at::Tensor x = at::randn({5, 8});
  const at::Tensor expected_weight = BucketedUniformUnquantize(
      BucketedUniformQuantize(original, 2, 4, Rounding::kHalfAwayFromZero), 2, 4);
  {
    TrainingStep step = quantizer.training_step();
    EXPECT_TRUE(linear->weight.detach().equal(expected_weight));
    linear->forward(x).sum().backward();
    step.backward();
  }
  EXPECT_TRUE(linear->weight.detach().equal(original));
  // d(sum(x W^T + b))/dW = column sums of x, for each output row.
  EXPECT_TRUE(linear->weight.grad().allclose(x.sum(0).expand({2, 8})));
}

// Tests the state round trip and the stored bucket layout through the shared contract checks.
TEST(BucketedUniformQuantizerTest, SaveRestoreState) {
  const testing::QuantizerFactory factory = [](std::shared_ptr<torch::nn::Module> model,
                                               double min_size, bool /*float16*/) {
    return std::make_unique<BucketedUniformQuantizer>(
        std::move(model), BucketedUniformOptions().bits(3).bucket_size(64).min_size(min_size));
  };
  testing::ExpectSaveRestore(factory, 0, false);
  testing::ExpectSaveRestore(factory, 0.1, false);
}

// Tests per-channel buckets: one per row of the weight (40 elements), bucket_size for the
// BatchNorm vectors; rows of very different ranges keep their own scale; the state round-trips.
TEST(BucketedUniformQuantizerTest, PerChannelBuckets) {
  auto model = LinearBn();
  auto* linear = model->children()[0]->as<torch::nn::Linear>();
  {
    at::NoGradGuard no_grad;
    linear->weight.select(0, 0).mul_(1000);  // one row a thousand times wider than the others
  }
  const BucketedUniformOptions options = BucketedUniformOptions().bits(4).bucket_size(256);
  BucketedUniformQuantizer per_channel(model, BucketedUniformOptions(options).per_channel(true));
  EXPECT_THAT(per_channel.quantized_param_bits(),
              ::testing::ElementsAre(4 * 400 + 10 * 64, 4 * 10 + 64, 4 * 10 + 64, 4 * 10 + 64));
  const serialization::CompressedModel state = per_channel.get_quantized_state();
  EXPECT_EQ(state.tensors(0).uniform().scale_group_size(), 40);
  EXPECT_EQ(state.method_options().at("per_channel"), "true");
  const at::Tensor weight = linear->weight.detach().clone();
  const at::Tensor row = weight.select(0, 1);
  const auto row_error = [&](int64_t bucket_size) {
    const at::Tensor q = BucketedUniformUnquantize(
        BucketedUniformQuantize(weight, 4, bucket_size, Rounding::kHalfAwayFromZero), 4,
        bucket_size);
    return (q.select(0, 1) - row).abs().max().item<double>();
  };
  // Sharing a bucket with the wide row, row 1 rounds to zero; in its own, within half a step.
  const double step = (row.max() - row.min()).item<double>() / 15;
  EXPECT_LE(row_error(40), step / 2 + 1e-6);
  EXPECT_GT(row_error(256), 10 * step);
  per_channel.detach();
  BucketedUniformQuantizer reader(model, BucketedUniformOptions(options).per_channel(true));
  EXPECT_THAT(reader.restore_quantized_state(state), IsOk());
}

// Tests that a state stored with another bucket size is refused with a clear error.
TEST(BucketedUniformQuantizerTest, RefusesOtherBucketSize) {
  auto model = LinearBn();
  BucketedUniformQuantizer writer(model, BucketedUniformOptions().bucket_size(64));
  const serialization::CompressedModel state = writer.get_quantized_state();
  writer.detach();
  BucketedUniformQuantizer reader(model, BucketedUniformOptions().bucket_size(256));
  EXPECT_THAT(reader.restore_quantized_state(state),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("buckets of 64")));
}

}  // namespace
}  // namespace mc::quant
