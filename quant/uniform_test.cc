#include "quant/uniform.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace mc::quant {
namespace {

at::Tensor Bits(int64_t b) { return at::full({}, b, at::kLong); }

std::vector<int> Levels(const UniformQuantized& q) {
  const at::Tensor flat = q.levels.reshape({-1}).contiguous();
  return std::vector<int>(flat.data_ptr<int>(), flat.data_ptr<int>() + flat.numel());
}

// Tests hand-worked 2-bit levels and values with one range for the tensor.
TEST(UniformTest, HandWorkedTwoBits) {
  // range [0, 3]: steps 3, so levels are the values rounded.
  const at::Tensor x = at::tensor({0.f, 0.9f, 1.2f, 2.6f, 3.f});
  const UniformQuantized q = UniformQuantize(x, Bits(2), {}, Rounding::kHalfToEven);
  EXPECT_THAT(Levels(q), ::testing::ElementsAre(0, 1, 1, 3, 3));
  EXPECT_FLOAT_EQ(q.min.item<float>(), 0.f);
  EXPECT_FLOAT_EQ(q.max.item<float>(), 3.f);
  EXPECT_TRUE(at::equal(UniformUnquantize(q, Bits(2), {}), at::tensor({0.f, 1.f, 1.f, 3.f, 3.f})));
}

// Tests that ties go to even or away from zero as asked (1 bit: scaled 0.5 is a tie).
TEST(UniformTest, TieBreaking) {
  const at::Tensor x = at::tensor({-1.f, 0.f, 1.f});  // scaled: 0, 0.5, 1
  EXPECT_THAT(Levels(UniformQuantize(x, Bits(1), {}, Rounding::kHalfToEven)),
              ::testing::ElementsAre(0, 0, 1));
  EXPECT_THAT(Levels(UniformQuantize(x, Bits(1), {}, Rounding::kHalfAwayFromZero)),
              ::testing::ElementsAre(0, 1, 1));
}

// Tests per-group widths with one range for the tensor, and per-group ranges with a short,
// constant last group.
TEST(UniformTest, GroupedWidthsAndRanges) {
  const at::Tensor x = at::tensor({0.f, 0.4f, 0.6f, 1.f});
  UniformLayout by_pairs;
  by_pairs.bit_group_size = 2;
  // Widths 1 and 2 bits: steps 1 for the first pair, 3 for the second.
  const UniformQuantized q = UniformQuantize(x, at::tensor({1, 2}, at::kLong), by_pairs,
                                             Rounding::kHalfToEven);
  EXPECT_THAT(Levels(q), ::testing::ElementsAre(0, 0, 2, 3));

  const at::Tensor y = at::tensor({0.f, 1.f, 2.f, 3.f, 10.f, 10.f, 10.f});
  UniformLayout buckets;
  buckets.scale_group_size = 4;
  const UniformQuantized r = UniformQuantize(y, Bits(8), buckets, Rounding::kHalfAwayFromZero);
  EXPECT_TRUE(at::equal(r.min, at::tensor({0.f, 10.f})));
  EXPECT_TRUE(at::equal(r.max, at::tensor({3.f, 10.f})));
  EXPECT_THAT(Levels(r), ::testing::ElementsAre(0, 85, 170, 255, 0, 0, 0));
  EXPECT_TRUE(at::allclose(UniformUnquantize(r, Bits(8), buckets), y));
}

// Tests the error bound |x - Q(x)| <= step / 2 for nearest rounding at every width.
TEST(UniformTest, NearestRoundingErrorWithinHalfStep) {
  at::manual_seed(0);
  const at::Tensor x = at::randn({64, 33});
  const float range = (x.max() - x.min()).item<float>();
  for (int64_t b = 1; b <= 16; ++b) {
    const UniformQuantized q = UniformQuantize(x, Bits(b), {}, Rounding::kHalfToEven);
    const float step = range / static_cast<float>((1 << b) - 1);
    const float error = (UniformUnquantize(q, Bits(b), {}) - x).abs().max().item<float>();
    EXPECT_LE(error, step / 2 * (1 + 1e-4f) + 1e-6f) << b << " bits";
  }
}

// Tests that stochastic rounding stays within one step and is unbiased on average.
TEST(UniformTest, StochasticRoundingIsUnbiased) {
  const at::Tensor x = at::full({200000}, 0.3f);
  const at::Tensor with_range = at::cat({x, at::tensor({0.f, 1.f})});
  at::Generator generator = at::detail::createCPUGenerator(42);
  const UniformQuantized q = UniformQuantize(with_range, Bits(1), {}, Rounding::kStochastic, generator);
  const at::Tensor values = UniformUnquantize(q, Bits(1), {}).narrow(0, 0, 200000);
  EXPECT_NEAR(values.mean().item<float>(), 0.3f, 0.005f);
  EXPECT_TRUE(at::logical_or(values == 0, values == 1).all().item<bool>());
}

// Tests that bad widths and mismatched group counts are refused with a message.
TEST(UniformTest, RejectsBadBits) {
  const at::Tensor x = at::ones({8});
  EXPECT_THROW(UniformQuantize(x, Bits(17), {}, Rounding::kHalfToEven), c10::Error);
  UniformLayout groups;
  groups.bit_group_size = 4;
  EXPECT_THROW(UniformQuantize(x, at::tensor({2, 2, 2}, at::kLong), groups, Rounding::kHalfToEven),
               c10::Error);
}

// Tests that IntegerBits accepts integers within the bounds and refuses fractions, values
// out of range and NaN with a message naming the quantizer.
TEST(UniformTest, IntegerBits) {
  EXPECT_EQ(IntegerBits(1, 1, 15, "Q"), 1);
  EXPECT_EQ(IntegerBits(15.0, 1, 15, "Q"), 15);
  for (const double bits : {9.6, 0.0, 16.0, -3.0, std::nan("")}) {
    EXPECT_THAT([&] { IntegerBits(bits, 1, 15, "Q"); },
                ::testing::ThrowsMessage<c10::Error>(
                    ::testing::HasSubstr("Q: bits must be an integer in [1, 15]")));
  }
}

}  // namespace
}  // namespace mc::quant
