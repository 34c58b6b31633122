#include "vq/layout.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace mc::vq {
namespace {

using ::testing::HasSubstr;

// Seeds the global generator that at::randn and friends draw the test data from.
class LayoutTest : public ::testing::Test {
 protected:
  void SetUp() override { at::manual_seed(0); }
};

at::Tensor Arange(at::IntArrayRef shape) {
  int64_t numel = 1;
  for (int64_t dim : shape) numel *= dim;
  return at::arange(numel, at::kFloat).reshape(shape);
}

// Expects the subvectors of convolution weight (O, I, kH, kW) at `block_size` (a multiple c of
// kH * kW) to be, block-major, the kernels of c consecutive input channels of each output
// channel: row b * O + o holds weight[o][c * b .. c * b + c - 1]. Expects them to come back
// exactly.
void ExpectInputChannelBlocks(const at::Tensor& weight, int64_t block_size) {
  const int64_t out_channels = weight.size(0);
  const int64_t channels_per_block = block_size / (weight.size(2) * weight.size(3));
  const int64_t blocks = weight.size(1) / channels_per_block;
  MC_ASSERT_OK_AND_ASSIGN(at::Tensor subvectors, WeightToSubvectors(weight, block_size));
  ASSERT_EQ(subvectors.sizes(), (at::IntArrayRef{blocks * out_channels, block_size}));
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t o = 0; o < out_channels; ++o) {
      EXPECT_TRUE(
          at::equal(subvectors[b * out_channels + o],
                    weight[o].narrow(0, channels_per_block * b, channels_per_block).flatten()))
          << b << " " << o;
    }
  }
  MC_ASSERT_OK_AND_ASSIGN(at::Tensor back, SubvectorsToWeight(subvectors, weight.sizes()));
  EXPECT_TRUE(at::equal(back, weight));
}

// Tests that a 3x3 convolution with block size 9 gives one subvector per (input channel,
// output channel) kernel, block-major, and comes back exactly.
TEST_F(LayoutTest, Conv3x3SmallBlocks) {
  const at::Tensor weight = Arange({4, 3, 3, 3});
  ExpectInputChannelBlocks(weight, 9);
  MC_ASSERT_OK_AND_ASSIGN(at::Tensor subvectors, WeightToSubvectors(weight, 9));
  // Row 1 * 4 + 2 is input channel 1 of output channel 2: values 2 * 27 + 9 .. + 17.
  EXPECT_EQ(subvectors[6][0].item<float>(), 63);
}

// Tests that block size 18 covers the kernels of two consecutive input channels.
TEST_F(LayoutTest, Conv3x3LargeBlocks) { ExpectInputChannelBlocks(at::randn({8, 6, 3, 3}), 18); }

// Tests that a 1x1 convolution with block size 4 groups 4 consecutive input channels.
TEST_F(LayoutTest, Conv1x1) { ExpectInputChannelBlocks(at::randn({6, 16, 1, 1}), 4); }

// Tests the linear layout against fairseq iPQ's expression of the same order,
// W.reshape(out, -1, bs).permute(2, 1, 0).flatten(1, 2), whose columns are our rows.
TEST_F(LayoutTest, LinearMatchesFairseqOrder) {
  const at::Tensor weight = at::randn({5, 12});
  MC_ASSERT_OK_AND_ASSIGN(at::Tensor subvectors, WeightToSubvectors(weight, 4));
  ASSERT_EQ(subvectors.sizes(), (at::IntArrayRef{15, 4}));
  const at::Tensor fairseq = weight.reshape({5, -1, 4}).permute({2, 1, 0}).flatten(1, 2);
  EXPECT_TRUE(at::equal(subvectors, fairseq.t()));
  EXPECT_TRUE(at::equal(subvectors[2 * 5 + 3], weight[3].narrow(0, 8, 4)));
  MC_ASSERT_OK_AND_ASSIGN(at::Tensor back, SubvectorsToWeight(subvectors, weight.sizes()));
  EXPECT_TRUE(at::equal(back, weight));
}

// Tests that the weight rebuilt from (centroids, assignments) has exactly centroid
// assignments[j] as its subvector j, for each kind of layer.
TEST_F(LayoutTest, ReconstructWeightIsExact) {
  struct Case {
    std::vector<int64_t> shape;
    int64_t block_size;
  };
  for (const Case& c : {Case{{16, 8, 3, 3}, 9}, Case{{16, 8, 3, 3}, 18}, Case{{32, 16, 1, 1}, 4},
                        Case{{32, 16, 1, 1}, 8}, Case{{10, 64}, 4}}) {
    MC_ASSERT_OK_AND_ASSIGN(const int64_t n, NumSubvectors(c.shape, c.block_size));
    const at::Tensor centroids = at::randn({7, c.block_size});
    const at::Tensor assignments = at::randint(7, {n}, at::kLong);
    MC_ASSERT_OK_AND_ASSIGN(at::Tensor weight, ReconstructWeight(centroids, assignments, c.shape));
    ASSERT_EQ(weight.sizes(), at::IntArrayRef(c.shape));
    MC_ASSERT_OK_AND_ASSIGN(at::Tensor subvectors, WeightToSubvectors(weight, c.block_size));
    EXPECT_TRUE(at::equal(subvectors, centroids.index_select(0, assignments)));
    // uint8 assignments, as the reference stores them, give the same weight.
    MC_ASSERT_OK_AND_ASSIGN(at::Tensor from_bytes,
                         ReconstructWeight(centroids, assignments.to(at::kByte), c.shape));
    EXPECT_TRUE(at::equal(from_bytes, weight));
  }
}

// Tests the reference's cap on the number of centroids, with its examples.
TEST_F(LayoutTest, ClampNumCentroids) {
  // ResNet-50 layer1.0.conv1, 64x64x1x1: 1024 subvectors of 4, 512 of 8.
  EXPECT_THAT(ClampNumCentroids(256, 1024), IsOkAndHolds(128));
  EXPECT_THAT(ClampNumCentroids(256, 512), IsOkAndHolds(64));
  // 1025 / 4 = 256.25: 256 fits.
  EXPECT_THAT(ClampNumCentroids(256, 1025), IsOkAndHolds(256));
  // ResNet-18 fc with block size 4: 128,000 subvectors, 2048 requested.
  EXPECT_THAT(ClampNumCentroids(2048, 128000), IsOkAndHolds(2048));
  EXPECT_THAT(ClampNumCentroids(100, 1 << 20), IsOkAndHolds(100));
  EXPECT_THAT(ClampNumCentroids(int64_t{1} << 20, int64_t{1} << 30), IsOkAndHolds(kMaxCentroids));
  EXPECT_THAT(ClampNumCentroids(256, 5), IsOkAndHolds(1));
  EXPECT_THAT(ClampNumCentroids(256, 64, 8), IsOkAndHolds(4));
  EXPECT_THAT(ClampNumCentroids(256, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too small")));
  EXPECT_THAT(ClampNumCentroids(0, 100),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("number of centroids")));
  EXPECT_THAT(ClampNumCentroids(16, 100, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("threshold")));
}

// Tests that activations are cut block-major like the subvectors.
TEST_F(LayoutTest, ActivationsToBlockRows) {
  const at::Tensor inputs = at::randn({3, 8});
  MC_ASSERT_OK_AND_ASSIGN(at::Tensor rows, ActivationsToBlockRows(inputs, 4));
  ASSERT_EQ(rows.sizes(), (at::IntArrayRef{6, 4}));
  EXPECT_TRUE(at::equal(rows.narrow(0, 0, 3), inputs.narrow(1, 0, 4)));
  EXPECT_TRUE(at::equal(rows.narrow(0, 3, 3), inputs.narrow(1, 4, 4)));
  // The layer's output is sum over blocks of (rows of block b) . (subvectors of block b).
  const at::Tensor weight = at::randn({5, 8});
  MC_ASSERT_OK_AND_ASSIGN(at::Tensor subvectors, WeightToSubvectors(weight, 4));
  const at::Tensor output = rows.narrow(0, 0, 3).mm(subvectors.narrow(0, 0, 5).t()) +
                            rows.narrow(0, 3, 3).mm(subvectors.narrow(0, 5, 5).t());
  EXPECT_TRUE(at::allclose(output, inputs.mm(weight.t()), 1e-5, 1e-5));
  EXPECT_THAT(ActivationsToBlockRows(inputs, 3),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not divide")));
  EXPECT_THAT(ActivationsToBlockRows(at::randn({3, 8, 1}), 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2-D")));
}

// Tests that shapes that do not divide and other bad inputs are refused with clear messages.
TEST_F(LayoutTest, RejectsBadInputs) {
  EXPECT_THAT(WeightToSubvectors(at::randn({4, 3, 3, 3}), 4),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("block_size 4 does not divide the 27 values per output channel")));
  EXPECT_THAT(WeightToSubvectors(at::randn({4, 10}), 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not divide")));
  EXPECT_THAT(WeightToSubvectors(at::randn({4, 3, 3}), 3),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got shape (4, 3, 3)")));
  EXPECT_THAT(WeightToSubvectors(at::randn({4, 8}), 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block_size must be >= 1")));
  EXPECT_THAT(WeightToSubvectors(at::ones({4, 8}, at::kInt), 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("floating-point")));
  EXPECT_THAT(NumSubvectors({0, 8}, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty dimension")));
  EXPECT_THAT(SubvectorsToWeight(at::randn({7, 4}), {4, 8}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 8 subvectors")));
  const at::Tensor centroids = at::randn({4, 4});
  EXPECT_THAT(ReconstructWeight(centroids, at::full({8}, 4, at::kLong), {4, 8}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("assignments must be in [0, 4)")));
  EXPECT_THAT(ReconstructWeight(centroids, at::full({8}, -1, at::kLong), {4, 8}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[-1, -1]")));
  EXPECT_THAT(ReconstructWeight(centroids, at::zeros({8}), {4, 8}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("integer")));
  EXPECT_THAT(ReconstructWeight(centroids, at::zeros({6}, at::kLong), {4, 8}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got 6")));
}

}  // namespace
}  // namespace mc::vq
