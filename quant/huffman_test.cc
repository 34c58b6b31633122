// Canonical Huffman coding: optimality (entropy bound, brute-force optimum), round trips,
// corrupt streams, and the reference's size formulas.
#include "quant/huffman.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "common/status_matchers.h"

namespace mc::quant {
namespace {

using ::testing::ElementsAre;

HuffmanCode Code(const std::vector<int64_t>& counts) {
  absl::StatusOr<HuffmanCode> code = HuffmanCode::FromCounts(counts);
  EXPECT_THAT(code.status(), IsOk());
  return *std::move(code);
}

double Entropy(const std::vector<int64_t>& counts) {
  double total = 0;
  for (const int64_t c : counts) total += c;
  double h = 0;
  for (const int64_t c : counts) {
    if (c > 0) h -= c / total * std::log2(c / total);
  }
  return h;
}

// Smallest sum of count * length over all length assignments of a complete prefix code
// (Kraft sum exactly 1), by exhaustive search over lengths 1..n-1.
int64_t BruteForceOptimum(const std::vector<int64_t>& counts) {
  const int n = static_cast<int>(counts.size());
  int64_t best = std::numeric_limits<int64_t>::max();
  std::vector<int> lengths(n, 1);
  std::function<void(int)> search = [&](int i) {
    if (i == n) {
      double kraft = 0;
      int64_t cost = 0;
      for (int s = 0; s < n; ++s) {
        kraft += std::ldexp(1.0, -lengths[s]);
        cost += counts[s] * lengths[s];
      }
      if (kraft <= 1 + 1e-12) best = std::min(best, cost);
      return;
    }
    for (int length = 1; length < n; ++length) {
      lengths[i] = length;
      search(i + 1);
    }
  };
  search(0);
  return best;
}

// Tests the code lengths of a distribution worked by hand: counts 45, 13, 12, 16, 9, 5 give
// lengths 1, 3, 3, 3, 4, 4 (224 bits for 100 symbols).
TEST(HuffmanTest, HandWorkedLengths) {
  const std::vector<int64_t> counts = {45, 13, 12, 16, 9, 5};
  const HuffmanCode code = Code(counts);
  EXPECT_THAT(code.lengths(), ElementsAre(1, 3, 3, 3, 4, 4));
  EXPECT_THAT(code.EncodedBits(counts), IsOkAndHolds(224));
  EXPECT_DOUBLE_EQ(code.MeanBits(counts), 2.24);
}

// Tests that the mean length lies within [H, H + 1) of the entropy H for random counts.
TEST(HuffmanTest, WithinOneBitOfTheEntropy) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<int64_t> counts(2 + rng() % 300);
    for (int64_t& c : counts) c = rng() % 1000;
    counts[0] += 1;
    counts[1] += 1;
    const double mean = Code(counts).MeanBits(counts);
    const double h = Entropy(counts);
    EXPECT_GE(mean, h - 1e-9);
    EXPECT_LT(mean, h + 1);
  }
}

// Tests that the code is optimal: it equals a brute-force optimum on alphabets of 2 to 6.
TEST(HuffmanTest, EqualsBruteForceOptimumOnSmallAlphabets) {
  std::mt19937 rng(4);
  for (int n = 2; n <= 6; ++n) {
    for (int trial = 0; trial < 8; ++trial) {
      std::vector<int64_t> counts(n);
      for (int64_t& c : counts) c = 1 + rng() % 50;
      EXPECT_THAT(Code(counts).EncodedBits(counts), IsOkAndHolds(BruteForceOptimum(counts)));
    }
  }
}

// Tests decode(encode(x)) == x on random data over 256 symbols and over 2^16 symbols.
TEST(HuffmanTest, RoundTrip) {
  std::mt19937 rng(5);
  for (const int symbols : {256, 65536}) {
    std::geometric_distribution<int> geometric(symbols == 256 ? 0.05 : 0.0005);
    std::vector<int32_t> data(20000);
    std::vector<int64_t> counts(symbols, 0);
    for (int32_t& x : data) {
      x = std::min(geometric(rng), symbols - 1);
      ++counts[x];
    }
    const HuffmanCode code = Code(counts);
    absl::StatusOr<std::string> bits = code.Encode(data);
    ASSERT_THAT(bits.status(), IsOk());
    EXPECT_EQ(static_cast<int64_t>(bits->size()), (*code.EncodedBits(counts) + 7) / 8);
    EXPECT_THAT(code.Decode(*bits, static_cast<int64_t>(data.size())), IsOkAndHolds(data));
  }
}

// Tests that a lone used symbol takes 0 bits and still decodes, as in the reference.
TEST(HuffmanTest, LoneSymbolCostsNothing) {
  const std::vector<int64_t> counts = {0, 0, 7, 0};
  const HuffmanCode code = Code(counts);
  EXPECT_EQ(code.MeanBits(counts), 0);
  EXPECT_THAT(code.Encode({2, 2, 2}), IsOkAndHolds(""));
  EXPECT_THAT(code.Decode("", 3), IsOkAndHolds(ElementsAre(2, 2, 2)));
}

// Tests errors: negative or no counts, symbols without a code, short and invalid streams.
TEST(HuffmanTest, RejectsBadInput) {
  EXPECT_THAT(HuffmanCode::FromCounts({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HuffmanCode::FromCounts({3, -1}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("negative")));
  // Lengths 1, 2, 2, 0: codes 0, 10, 11; symbol 3 has none.
  const HuffmanCode code = Code({8, 4, 2, 0});
  EXPECT_THAT(code.lengths(), ElementsAre(1, 2, 2, 0));
  EXPECT_THAT(code.Encode({0, 3}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("symbol 3")));
  EXPECT_THAT(code.Encode({5}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(code.Decode("", 1),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("ends")));
  absl::StatusOr<std::string> bits = code.Encode({2, 1, 0, 2});
  ASSERT_THAT(bits.status(), IsOk());
  EXPECT_THAT(code.Decode(*bits, 4), IsOkAndHolds(ElementsAre(2, 1, 0, 2)));
  EXPECT_THAT(code.Decode(*bits, 9), StatusIs(absl::StatusCode::kDataLoss));
}

// Tests the reference's size formulas: 1.7171958 bits with buckets of 256 is the reduction
// 16.2668 printed by the reference (8192 / (439.60 + 64)), and a small model by hand.
TEST(HuffmanTest, ReferenceSizeFormulas) {
  EXPECT_NEAR(ReferenceSizeReduction(1.7171958, 256), 16.2668, 1e-4);
  EXPECT_DOUBLE_EQ(ReferenceSizeReduction(4, 0), 8);
  // 1000 float parameters, 25600 at 2.5 bits in buckets of 256: 4000 + 8000 + 800 bytes.
  EXPECT_DOUBLE_EQ(ReferenceQuantizedModelBytes(1000, 25600, 2.5, 256), 12800);
  EXPECT_DOUBLE_EQ(ReferenceQuantizedModelBytes(1000, 25600, 2.5, 0), 12000);
}

}  // namespace
}  // namespace mc::quant
