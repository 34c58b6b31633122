// Learned-points quantization: scaling, nearest-point assignment with the reference's tie
// rule, and the stored encoding.
#include "quant/learned_points.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace mc::quant {
namespace {

std::vector<int64_t> ToLongs(const at::Tensor& t) {
  const at::Tensor c = t.reshape({-1}).to(at::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

// Tests per-bucket min/max scaling with a short last bucket and a constant bucket (scale 1).
TEST(LearnedPointsTest, LinearBucketScaling) {
  const at::Tensor x = at::tensor({1.f, 3.f, 2.f, 5.f, 5.f});
  const BucketScaling scaling = LinearBucketScaling(x, 3);
  EXPECT_TRUE(scaling.offset.equal(at::tensor({1.f, 5.f})));
  EXPECT_TRUE(scaling.scale.equal(at::tensor({2.f, 1.f})));
  EXPECT_TRUE(ScaleDown(x, scaling).equal(at::tensor({0.f, 1.f, 0.5f, 0.f, 0.f})));
  EXPECT_TRUE(ScaleUp(ScaleDown(x, scaling), scaling).equal(x));
}

// Tests nearest-point assignment: below the first point, above the last, and a tie halfway
// between 0.2 and 0.6 going to the upper point.
TEST(LearnedPointsTest, NearestPointTiesGoUp) {
  const at::Tensor points = at::tensor({0.f, 0.25f, 0.75f, 1.f});
  const at::Tensor x = at::tensor({-0.3f, 0.1f, 0.125f, 0.5f, 0.7f, 0.9f, 1.4f});
  EXPECT_THAT(ToLongs(NearestPoint(x, points)), ::testing::ElementsAre(0, 0, 1, 2, 2, 3, 3));
}

// Tests that the assignment equals a brute-force nearest search on random data.
TEST(LearnedPointsTest, NearestPointMatchesBruteForce) {
  at::manual_seed(5);
  const at::Tensor points = std::get<0>(at::rand({9}).sort());
  const at::Tensor x = at::rand({1000}) * 1.2 - 0.1;
  const at::Tensor distances = (x.unsqueeze(1) - points.unsqueeze(0)).abs();
  EXPECT_TRUE(NearestPoint(x, points).equal(distances.argmin(1)));
}

// Tests that a stored tensor decodes to exactly offset + scale * point.
TEST(LearnedPointsTest, EncodeDecodeRoundTrip) {
  at::manual_seed(6);
  const at::Tensor weight = at::randn({4, 3, 5});
  const BucketScaling scaling = LinearBucketScaling(weight, 16);
  const at::Tensor points = at::tensor({0.f, 0.3f, 0.55f, 0.8f, 1.f});
  const at::Tensor index = NearestPoint(ScaleDown(weight, scaling), points);
  serialization::CompressedTensor stored;
  stored.set_name("w");
  for (const int64_t d : weight.sizes()) stored.add_shape(d);
  *stored.mutable_learned_points() = EncodeLearnedPoints(index, points, scaling);
  EXPECT_EQ(stored.learned_points().index_bits(), 3u);
  EXPECT_EQ(stored.learned_points().indices().size(), (60 * 3 + 7) / 8u);
  absl::StatusOr<at::Tensor> decoded = DecodeLearnedPoints(stored);
  ASSERT_THAT(decoded.status(), IsOk());
  EXPECT_TRUE(decoded->equal(ScaleUp(points.index_select(0, index.reshape({-1})).view({4, 3, 5}), scaling)));
}

// Tests that truncated fields and out-of-range indices are reported as data loss.
TEST(LearnedPointsTest, CorruptTensorsAreRejected) {
  const at::Tensor weight = at::arange(10, at::kFloat);
  const BucketScaling scaling = LinearBucketScaling(weight, 0);
  const at::Tensor points = at::tensor({0.f, 0.5f, 1.f});
  serialization::CompressedTensor stored;
  stored.set_name("w");
  stored.add_shape(10);
  *stored.mutable_learned_points() =
      EncodeLearnedPoints(NearestPoint(ScaleDown(weight, scaling), points), points, scaling);
  serialization::CompressedTensor short_scales = stored;
  short_scales.mutable_learned_points()->mutable_bucket_scale()->pop_back();
  EXPECT_THAT(DecodeLearnedPoints(short_scales),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("bucket_scale")));
  serialization::CompressedTensor bad_index = stored;
  (*bad_index.mutable_learned_points()->mutable_indices())[0] = static_cast<char>(0xff);
  EXPECT_THAT(DecodeLearnedPoints(bad_index),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("past the 3 points")));
  serialization::CompressedTensor wrong_bits = stored;
  wrong_bits.mutable_learned_points()->set_index_bits(4);
  EXPECT_THAT(DecodeLearnedPoints(wrong_bits), StatusIs(absl::StatusCode::kDataLoss));
}

// Tests that a shape promising far more elements than the indices hold, as a corrupt file can,
// is refused before the indices are allocated (2^40 indices would take 2 TiB).
TEST(LearnedPointsTest, RejectsShapeBeyondItsIndicesBeforeAllocating) {
  const at::Tensor weight = at::arange(10, at::kFloat);
  const at::Tensor points = at::tensor({0.f, 0.5f, 1.f});
  const BucketScaling scaling = LinearBucketScaling(weight, 0);
  serialization::CompressedTensor stored;
  stored.set_name("w");
  stored.add_shape(int64_t{1} << 20);
  stored.add_shape(int64_t{1} << 20);
  *stored.mutable_learned_points() =
      EncodeLearnedPoints(NearestPoint(ScaleDown(weight, scaling), points), points, scaling);
  EXPECT_THAT(DecodeLearnedPoints(stored),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::HasSubstr("tensor w: indices: 1099511627776 values")));
}

}  // namespace
}  // namespace mc::quant
