#include "data/seeded_rng.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace mc::data {
namespace {

// Tests that the generator reproduces the published SplitMix64 sequence for seed 0.
TEST(SplitMix64Test, MatchesReferenceSequence) {
  SplitMix64 rng(0);
  EXPECT_EQ(rng.Next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(rng.Next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(rng.Next(), 0x06c45d188009454fULL);
  EXPECT_EQ(rng.Next(), 0xf88bb8a8724c81ecULL);
}

// Tests that Below stays in range and hits every value about equally often.
TEST(SplitMix64Test, BelowIsUniformInRange) {
  constexpr int kBound = 7;
  constexpr int kDraws = 70000;
  SplitMix64 rng(42);
  std::vector<int> counts(kBound, 0);
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t value = rng.Below(kBound);
    ASSERT_LT(value, kBound);
    ++counts[value];
  }
  // Expected 10000 each; the standard deviation is about 93.
  for (const int count : counts) EXPECT_NEAR(count, kDraws / kBound, 500);
}

// Tests that Below(1) is always 0 and Uniform lies in [0, 1).
TEST(SplitMix64Test, DegenerateBoundAndUnitInterval) {
  SplitMix64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(rng.Below(1), 0u);
    const double u = rng.Uniform();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

// Tests that derived seeds are reproducible and change with the seed, each key and the
// order of the keys.
TEST(DeriveSeedTest, DependsOnSeedKeysAndOrder) {
  const uint64_t base = DeriveSeed(1, {2, 3});
  EXPECT_EQ(DeriveSeed(1, {2, 3}), base);
  EXPECT_NE(DeriveSeed(0, {2, 3}), base);
  EXPECT_NE(DeriveSeed(1, {2, 4}), base);
  EXPECT_NE(DeriveSeed(1, {3, 2}), base);
  EXPECT_NE(DeriveSeed(1, {2}), base);
}

}  // namespace
}  // namespace mc::data
