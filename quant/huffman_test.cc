#include "quant/huffman.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "common/status_matchers.h"

namespace mc::quant {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Counts for `size` symbols, each in [0, max_count].
std::vector<int64_t> RandomCounts(int size, int64_t max_count, uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int64_t> count(0, max_count);
  std::vector<int64_t> counts(size);
  for (int64_t& c : counts) c = count(random);
  return counts;
}

// Smallest sum of count x length over all length assignments (1..n-1 bits to each used
// symbol, 0 to unused ones) that satisfy Kraft's inequality, by enumeration.
int64_t BruteForceOptimalBits(const std::vector<int64_t>& counts) {
  std::vector<int64_t> used;
  for (int64_t c : counts) {
    if (c > 0) used.push_back(c);
  }
  const int n = static_cast<int>(used.size());
  if (n < 2) return 0;
  int64_t best = INT64_MAX;
  std::vector<int> lengths(n, 1);
  while (true) {
    double kraft = 0;
    int64_t bits = 0;
    for (int i = 0; i < n; ++i) {
      kraft += std::ldexp(1.0, -lengths[i]);
      bits += used[i] * lengths[i];
    }
    if (kraft <= 1.0) best = std::min(best, bits);
    int i = 0;
    while (i < n && lengths[i] == n - 1) lengths[i++] = 1;
    if (i == n) return best;
    ++lengths[i];
  }
}

// Cost of an unrestricted Huffman code: the sum of the weights of all merged nodes.
int64_t HuffmanCostByMerging(const std::vector<int64_t>& counts) {
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<int64_t>> weights;
  for (int64_t c : counts) {
    if (c > 0) weights.push(c);
  }
  int64_t cost = 0;
  while (weights.size() > 1) {
    const int64_t a = weights.top();
    weights.pop();
    const int64_t b = weights.top();
    weights.pop();
    cost += a + b;
    weights.push(a + b);
  }
  return cost;
}

std::vector<int64_t> CountsOf(const std::vector<int32_t>& symbols, int num_symbols) {
  std::vector<int64_t> counts(num_symbols, 0);
  for (int32_t s : symbols) ++counts[s];
  return counts;
}

// `count` symbols of a skewed (geometric-like) distribution over `num_symbols` symbols.
std::vector<int32_t> SkewedSymbols(int num_symbols, int count, uint32_t seed) {
  std::mt19937 random(seed);
  std::geometric_distribution<int32_t> geometric(std::min(0.5, 8.0 / num_symbols));
  std::vector<int32_t> symbols(count);
  for (int32_t& s : symbols) s = geometric(random) % num_symbols;
  return symbols;
}

HuffmanCode CodeFor(const std::vector<int64_t>& counts) {
  absl::StatusOr<HuffmanCode> code = HuffmanCode::FromCounts(counts);
  EXPECT_THAT(code, IsOk());
  return *std::move(code);
}

// Tests the textbook example (CLRS 16.3): counts 45, 13, 12, 16, 9, 5 give lengths
// 1, 3, 3, 3, 4, 4 and 224 bits; the canonical codes are 0, 100, 101, 110, 1110, 1111.
TEST(HuffmanCodeTest, HandWorkedExample) {
  const std::vector<int64_t> counts = {45, 13, 12, 16, 9, 5};
  const HuffmanCode code = CodeFor(counts);
  EXPECT_THAT(code.lengths(), ElementsAre(1, 3, 3, 3, 4, 4));
  EXPECT_EQ(code.sole_symbol(), -1);
  EXPECT_EQ(code.EncodedBits(counts).value(), 224);
  EXPECT_DOUBLE_EQ(code.MeanBits(counts).value(), 2.24);
  // Codes 0, 100, 1111 in stream order 0,1,0,0,1,1,1,1 fill bits 0..7 of one byte.
  EXPECT_EQ(code.Encode({0, 1, 5}).value(), "\xf2");
  // 1110 then 101: stream bits 1,1,1,0,1,0,1 and one zero padding bit.
  EXPECT_EQ(code.Encode({4, 2}).value(), "\x57");
}

// Tests that ties are broken towards shorter codes for lower symbols: five equal counts
// give 2, 2, 2, 3, 3 and the codes 00, 01, 10, 110, 111.
TEST(HuffmanCodeTest, EqualCountsFavourLowerSymbols) {
  const HuffmanCode code = CodeFor({7, 7, 7, 7, 7});
  EXPECT_THAT(code.lengths(), ElementsAre(2, 2, 2, 3, 3));
  // 00 then 110: stream bits 0,0,1,1,0.
  EXPECT_EQ(code.Encode({0, 3}).value(), "\x0c");
}

// Tests that the code cost equals the brute-force optimum over all Kraft-feasible length
// assignments on every alphabet of 2 to 6 symbols tried.
TEST(HuffmanCodeTest, MatchesBruteForceOptimum) {
  for (int size = 2; size <= 6; ++size) {
    for (uint32_t seed = 0; seed < 25; ++seed) {
      const int64_t max_count = seed % 2 == 0 ? 10 : 100000;
      const std::vector<int64_t> counts = RandomCounts(size, max_count, 1000 * size + seed);
      const HuffmanCode code = CodeFor(counts);
      EXPECT_EQ(code.EncodedBits(counts).value(), BruteForceOptimalBits(counts))
          << "size " << size << " seed " << seed;
    }
  }
}

// Tests that the code cost equals an unrestricted Huffman merge on larger alphabets.
TEST(HuffmanCodeTest, MatchesHuffmanMergeCost) {
  for (int size : {7, 16, 100, 1000, 4096}) {
    const std::vector<int64_t> counts = RandomCounts(size, 1000, size);
    EXPECT_EQ(CodeFor(counts).EncodedBits(counts).value(), HuffmanCostByMerging(counts))
        << size << " symbols";
  }
}

// Tests that the mean code length lies in [H, H + 1) for the entropy H of the counts.
TEST(HuffmanCodeTest, MeanLengthWithinOneBitOfEntropy) {
  std::mt19937 random(5);
  std::vector<std::vector<int64_t>> distributions;
  for (int size : {2, 3, 10, 256}) distributions.push_back(RandomCounts(size, 1000, size));
  std::vector<int64_t> geometric, zipf, dominant = {1000000, 1, 2, 3};
  for (int i = 0; i < 64; ++i) {
    geometric.push_back(static_cast<int64_t>(std::ldexp(1.0, 40 - i / 2)));
    zipf.push_back(1000000 / (i + 1));
  }
  distributions.insert(distributions.end(), {geometric, zipf, dominant});
  for (const std::vector<int64_t>& counts : distributions) {
    double total = 0;
    for (int64_t c : counts) total += static_cast<double>(c);
    double entropy = 0;
    for (int64_t c : counts) {
      if (c > 0) entropy -= c / total * std::log2(c / total);
    }
    const double mean = CodeFor(counts).MeanBits(counts).value();
    EXPECT_GE(mean, entropy - 1e-9);
    EXPECT_LT(mean, entropy + 1);
  }
}

// Tests that Fibonacci counts, whose Huffman code is 39 bits deep, get an optimal code
// limited to 32 bits that still round-trips.
TEST(HuffmanCodeTest, LimitsCodesToThirtyTwoBits) {
  std::vector<int64_t> counts = {1, 1};
  for (size_t i = 2; i < 40; ++i) counts.push_back(counts[i - 1] + counts[i - 2]);
  const HuffmanCode code = CodeFor(counts);
  EXPECT_EQ(*std::max_element(code.lengths().begin(), code.lengths().end()), 32);
  EXPECT_THAT(HuffmanCode::FromLengths(code.lengths()), IsOk());
  // The limit costs bits over the 39-deep optimum, yet no more than a feasible limited code:
  // 32 bits for the twelve lightest symbols and 40 - i for symbol i >= 12 (Kraft sum
  // 12 * 2^-32 + 1 - 2^-28 <= 1).
  const int64_t bits = code.EncodedBits(counts).value();
  EXPECT_GT(bits, HuffmanCostByMerging(counts));
  int64_t feasible = 0;
  for (int i = 0; i < 40; ++i) feasible += counts[i] * (i < 12 ? 32 : 40 - i);
  EXPECT_LE(bits, feasible);
  std::vector<int32_t> symbols;
  for (int32_t s = 0; s < 40; ++s) symbols.insert(symbols.end(), 3, s);
  EXPECT_EQ(code.Decode(code.Encode(symbols).value(), symbols.size()).value(), symbols);
}

// Tests that decoding inverts encoding on random data, from 2 to 2^16 symbols, and that
// the stream takes exactly ceil(EncodedBits / 8) bytes.
TEST(HuffmanCodeTest, RoundTripsRandomData) {
  for (int num_symbols : {2, 3, 16, 256, 4096, 1 << 16}) {
    const std::vector<int32_t> symbols = SkewedSymbols(num_symbols, 200000, num_symbols);
    const std::vector<int64_t> counts = CountsOf(symbols, num_symbols);
    const HuffmanCode code = CodeFor(counts);
    absl::StatusOr<std::string> stream = code.Encode(symbols);
    ASSERT_THAT(stream, IsOk());
    EXPECT_EQ(stream->size(), (code.EncodedBits(counts).value() + 7) / 8);
    EXPECT_EQ(code.Decode(*stream, symbols.size()).value(), symbols) << num_symbols;
  }
}

// Tests that every symbol of a full 2^16 alphabet, with codes up to 17 bits, round-trips.
TEST(HuffmanCodeTest, RoundTripsEverySymbolOfTheLargestAlphabet) {
  std::vector<int64_t> counts(HuffmanCode::kMaxSymbols);
  for (int s = 0; s < HuffmanCode::kMaxSymbols; ++s) counts[s] = 1 + s % 3;
  const HuffmanCode code = CodeFor(counts);
  std::vector<int32_t> symbols(HuffmanCode::kMaxSymbols);
  // Every symbol once, shuffled: multiplying by an odd number permutes the residues mod 2^16.
  for (int s = 0; s < HuffmanCode::kMaxSymbols; ++s) {
    symbols[s] = static_cast<int32_t>((s * 40503u) & 0xffff);
  }
  EXPECT_EQ(code.Decode(code.Encode(symbols).value(), symbols.size()).value(), symbols);
}

// Tests that a code with one used symbol gives it no bits (mean 0, as the reference) and
// that it decodes from an empty stream.
TEST(HuffmanCodeTest, SoleSymbolTakesNoBits) {
  const std::vector<int64_t> counts = {0, 7, 0};
  const HuffmanCode code = CodeFor(counts);
  EXPECT_THAT(code.lengths(), ElementsAre(0, 0, 0));
  EXPECT_EQ(code.sole_symbol(), 1);
  EXPECT_EQ(code.MeanBits(counts).value(), 0.0);
  EXPECT_EQ(code.Encode({1, 1, 1}).value(), "");
  EXPECT_THAT(code.Decode("", 3).value(), ElementsAre(1, 1, 1));
  EXPECT_THAT(code.Encode({1, 0}), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("symbol 0 at position 1 has no code")));
  EXPECT_THAT(code.Decode(std::string(1, '\0'), 3), StatusIs(absl::StatusCode::kDataLoss));
  const HuffmanCode rebuilt = HuffmanCode::FromLengths(code.lengths(), 1).value();
  EXPECT_EQ(rebuilt.sole_symbol(), 1);
  EXPECT_THAT(rebuilt.Decode("", 2).value(), ElementsAre(1, 1));
}

// Tests that a code without used symbols encodes and decodes nothing and refuses symbols.
TEST(HuffmanCodeTest, CodeWithoutSymbols) {
  const HuffmanCode code = CodeFor({0, 0});
  EXPECT_EQ(code.sole_symbol(), -1);
  EXPECT_EQ(code.MeanBits({0, 0}).value(), 0.0);
  EXPECT_EQ(code.Encode({}).value(), "");
  EXPECT_TRUE(code.Decode("", 0).value().empty());
  EXPECT_THAT(code.Decode("", 1), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no symbols")));
  EXPECT_THAT(code.Encode({0}), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Tests that FromLengths rebuilds the same code: same lengths and the same streams.
TEST(HuffmanCodeTest, FromLengthsReproducesTheCode) {
  for (int num_symbols : {2, 5, 300, 1 << 16}) {
    const std::vector<int32_t> symbols = SkewedSymbols(num_symbols, 5000, 7 * num_symbols);
    const HuffmanCode code = CodeFor(CountsOf(symbols, num_symbols));
    absl::StatusOr<HuffmanCode> rebuilt =
        HuffmanCode::FromLengths(code.lengths(), code.sole_symbol());
    ASSERT_THAT(rebuilt, IsOk());
    EXPECT_EQ(rebuilt->lengths(), code.lengths());
    const std::string stream = code.Encode(symbols).value();
    EXPECT_EQ(rebuilt->Encode(symbols).value(), stream);
    EXPECT_EQ(rebuilt->Decode(stream, symbols.size()).value(), symbols);
  }
}

// Tests that lengths which are not a complete prefix code, or are too long, are refused.
TEST(HuffmanCodeTest, FromLengthsRejectsInvalidLengths) {
  using Lengths = std::vector<uint8_t>;
  const absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(HuffmanCode::FromLengths(Lengths{1, 1, 1}),
              StatusIs(kInvalid, HasSubstr("more codes than fit")));
  EXPECT_THAT(HuffmanCode::FromLengths(Lengths{1, 2, 0}),
              StatusIs(kInvalid, HasSubstr("unused codes")));
  EXPECT_THAT(HuffmanCode::FromLengths(Lengths{1, 0}), StatusIs(kInvalid, HasSubstr("Kraft")));
  EXPECT_THAT(HuffmanCode::FromLengths(Lengths{1, 33, 2}),
              StatusIs(kInvalid, HasSubstr("symbol 1 is 33 bits")));
  EXPECT_THAT(HuffmanCode::FromLengths(Lengths{}), StatusIs(kInvalid, HasSubstr("empty")));
  EXPECT_THAT(HuffmanCode::FromLengths(Lengths(HuffmanCode::kMaxSymbols + 1, 0)),
              StatusIs(kInvalid, HasSubstr("65537 symbols")));
  EXPECT_THAT(HuffmanCode::FromLengths(Lengths{1, 1}, 0),
              StatusIs(kInvalid, HasSubstr("every code length 0")));
  EXPECT_THAT(HuffmanCode::FromLengths(Lengths{0, 0}, 2),
              StatusIs(kInvalid, HasSubstr("outside the alphabet")));
  EXPECT_THAT(HuffmanCode::FromLengths(Lengths{0, 0}), IsOk());
}

// Tests that bad counts are refused when building a code and when pricing counts.
TEST(HuffmanCodeTest, RejectsInvalidCounts) {
  const absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(HuffmanCode::FromCounts({}), StatusIs(kInvalid, HasSubstr("empty")));
  EXPECT_THAT(HuffmanCode::FromCounts({3, -1}),
              StatusIs(kInvalid, HasSubstr("symbol 1 is negative")));
  EXPECT_THAT(HuffmanCode::FromCounts(std::vector<int64_t>(HuffmanCode::kMaxSymbols + 1, 1)),
              StatusIs(kInvalid, HasSubstr("at most 65536")));
  EXPECT_THAT(HuffmanCode::FromCounts({HuffmanCode::kMaxTotalCount, 1}),
              StatusIs(kInvalid, HasSubstr("total more than")));
  const HuffmanCode code = CodeFor({1, 1, 0});
  EXPECT_THAT(code.EncodedBits({1, 1}), StatusIs(kInvalid, HasSubstr("counts of 2 symbols")));
  EXPECT_THAT(code.MeanBits({1, 1, 4}),
              StatusIs(kInvalid, HasSubstr("symbol 2 has count 4 but no code")));
  EXPECT_THAT(code.Encode({0, 1, 3}),
              StatusIs(kInvalid, HasSubstr("symbol 3 at position 2 is outside")));
}

// Tests that truncated, extended, padded-with-ones and too-short streams are data loss.
TEST(HuffmanCodeTest, CorruptStreamsAreDataLoss) {
  const std::vector<int32_t> symbols = SkewedSymbols(64, 1000, 3);
  const HuffmanCode code = CodeFor(CountsOf(symbols, 64));
  const std::string stream = code.Encode(symbols).value();
  const int64_t bits = code.EncodedBits(CountsOf(symbols, 64)).value();
  ASSERT_NE(bits % 8, 0) << "the padding test needs padding bits";
  const absl::StatusCode kDataLoss = absl::StatusCode::kDataLoss;
  for (size_t length = 0; length < stream.size(); ++length) {
    EXPECT_THAT(code.Decode(stream.substr(0, length), symbols.size()), StatusIs(kDataLoss))
        << length;
  }
  EXPECT_THAT(code.Decode(stream + '\0', symbols.size()),
              StatusIs(kDataLoss, HasSubstr("1 trailing bytes")));
  std::string padded = stream;
  padded.back() = static_cast<char>(padded.back() | 0x80);
  EXPECT_THAT(code.Decode(padded, symbols.size()), StatusIs(kDataLoss, HasSubstr("padding")));
  EXPECT_THAT(code.Decode(stream, 8 * stream.size() + 1),
              StatusIs(kDataLoss, HasSubstr("too short")));
  EXPECT_THAT(code.Decode(stream, -1), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Tests the reference's published check (issue #8): 1.7171958 bits with buckets of 256
// give 8192 / (439.60 + 64) = 16.2668; and 32 / b without buckets.
TEST(ReferenceSizeTest, SizeReductionMatchesPublishedValue) {
  EXPECT_NEAR(ReferenceSizeReduction(1.7171958, 256), 16.26680978221003, 1e-6);
  EXPECT_DOUBLE_EQ(ReferenceSizeReduction(2.0, 0), 16.0);
  EXPECT_DOUBLE_EQ(ReferenceSizeReduction(32.0, 0), 1.0);
}

// Tests the model size by hand: 1000 float parameters, 10000 quantized at 2.5 bits in
// buckets of 256 take 4000 + 3125 + 10000 / 256 * 8 = 7437.5 bytes.
TEST(ReferenceSizeTest, QuantizedModelBytesByHand) {
  EXPECT_DOUBLE_EQ(ReferenceQuantizedModelBytes(1000, 10000, 2.5, 256), 7437.5);
  EXPECT_DOUBLE_EQ(ReferenceQuantizedModelBytes(1000, 10000, 2.5, 0), 7125.0);
  EXPECT_DOUBLE_EQ(ReferenceQuantizedModelBytes(0, 1000, 32.0, 0), 4000.0);
}

}  // namespace
}  // namespace mc::quant
