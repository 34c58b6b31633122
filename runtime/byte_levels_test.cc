// File: byte_levels_test.cc
// ByteLevels against the matrix its levels, widths and affine maps define: decoding, and the
// product on every instruction set this CPU has against a double-precision product, for blocks
// of 8 and 16, a partial last block, widths up to 8 and up to 16 bits (rows with and without
// a high byte), several batch sizes and row splits; and its errors.
#include "runtime/byte_levels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include "runtime/cpu_features.h"

namespace mc::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

std::pair<float, float> AffineOfWidth(uint32_t /*group*/, int width) {
  return {-0.5f - 0.01f * static_cast<float>(width), 1.0f / static_cast<float>((1 << width) - 1)};
}

// A min-max map of one range: the same offset at every width.
std::pair<float, float> OneRange(uint32_t /*group*/, int width) {
  return {-0.5f, 1.0f / static_cast<float>((1 << width) - 1)};
}

using AffineFn = std::pair<float, float> (*)(uint32_t, int);

// Random levels of rows x cols in blocks of `block` columns, each block of a random width in
// 1..max_width, except that even rows stay within 8 bits.
struct RandomLevels {
  int64_t rows, cols;
  int block;
  std::vector<uint16_t> levels;
  std::vector<uint8_t> widths;
  AffineFn affine = AffineOfWidth;

  RandomLevels(int64_t rows_in, int64_t cols_in, int block_in, int max_width, uint32_t seed)
      : rows(rows_in), cols(cols_in), block(block_in) {
    std::mt19937 random(seed);
    const int64_t blocks_per_row = (cols + block - 1) / block;
    for (int64_t i = 0; i < rows * blocks_per_row; ++i) {
      const int row_max = (i / blocks_per_row) % 2 == 0 ? std::min(max_width, 8) : max_width;
      widths.push_back(static_cast<uint8_t>(1 + random() % row_max));
    }
    for (int64_t i = 0; i < rows * cols; ++i) {
      levels.push_back(static_cast<uint16_t>(random() % (1 << Width(i))));
    }
  }
  int Width(int64_t flat) const {
    return widths[(flat / cols) * ((cols + block - 1) / block) + (flat % cols) / block];
  }
  float Value(int64_t flat) const {
    const auto [offset, scale] = affine(0, Width(flat));
    return offset + scale * static_cast<float>(levels[flat]);
  }
  ByteLevels Build() const {
    return BuildByteLevels(rows, cols, block, levels.data(), widths.data(), affine);
  }
};

std::vector<Isa> IsasOfThisCpu() {
  std::vector<Isa> isas = {Isa::kScalar};
  if (DetectIsa() != Isa::kScalar) isas.push_back(Isa::kAvx2);
  return isas;
}

TEST(ByteLevelsTest, DecodesEveryWidth) {
  for (const int block : {8, 16}) {
    for (const int max_width : {8, 16}) {
      const RandomLevels source(7, 44, block, max_width, 1);
      const ByteLevels w = source.Build();
      std::vector<float> out(7 * 44);
      DecodeRows(w, 0, 7, nullptr, out.data());
      for (int64_t i = 0; i < 7 * 44; ++i) EXPECT_FLOAT_EQ(out[i], source.Value(i)) << i;

      const std::vector<float> row_scale = {2.0f, -0.5f};
      std::vector<float> scaled(2 * 44);
      DecodeRows(w, 3, 5, row_scale.data(), scaled.data());
      for (int64_t i = 0; i < 2 * 44; ++i) {
        EXPECT_FLOAT_EQ(scaled[i], row_scale[i / 44] * source.Value(3 * 44 + i)) << i;
      }
    }
  }
}

TEST(ByteLevelsTest, KeepsHighBytesOnlyForRowsWithWideBlocks) {
  const ByteLevels w = RandomLevels(4, 64, 8, 16, 2).Build();
  EXPECT_THAT(w.high_rows, ElementsAre(1, 3));
  EXPECT_EQ(w.high_levels.size(), 2u * 64);
  EXPECT_TRUE(RandomLevels(4, 64, 8, 8, 2).Build().high_rows.empty());
}

TEST(ByteLevelsTest, MultipliesAsTheDecodedMatrix) {
  std::mt19937 random(7);
  std::normal_distribution<float> normal;
  for (const int block : {8, 16}) {
    for (const int max_width : {8, 16}) {
      for (const int64_t cols : {8, 44, 200}) {
        for (const AffineFn affine : {AffineOfWidth, OneRange}) {
          RandomLevels source(37, cols, block, max_width, 3);
          source.affine = affine;
          const ByteLevels w = source.Build();
          EXPECT_EQ(w.common_offset.has_value(), affine == OneRange);
          for (const int64_t batch : {1, 3}) {
            std::vector<float> x(batch * cols);
            for (float& v : x) v = normal(random);
            const WidthScaledActivations xs = ScaleActivations(w, x.data(), batch);
            for (const Isa isa : IsasOfThisCpu()) {
              std::vector<float> y(batch * 37, NAN);
              GemmByteLevels(w, xs, y.data(), 37, 0, 20, isa);  // two row ranges
              GemmByteLevels(w, xs, y.data(), 37, 20, 37, isa);
              for (int64_t k = 0; k < batch; ++k) {
                for (int64_t r = 0; r < 37; ++r) {
                  double expected = 0.0;
                  double magnitude = 0.0;
                  for (int64_t c = 0; c < cols; ++c) {
                    const double term =
                        static_cast<double>(x[k * cols + c]) * source.Value(r * cols + c);
                    expected += term;
                    magnitude += std::abs(term);
                  }
                  EXPECT_NEAR(y[k * 37 + r], expected, 1e-5 * magnitude + 1e-6)
                      << "block " << block << " widths up to " << max_width << " cols " << cols
                      << " batch " << batch << " row " << r << " isa " << IsaName(isa);
                }
              }
            }
          }
        }
      }
    }
  }
}

TEST(ByteLevelsTest, TellsWhereTilesMixWidths) {
  const std::vector<uint8_t> mixed = {1, 2, 3, 4, 5, 6, 7, 8};  // 2 rows of 4 blocks of 8
  const std::vector<uint8_t> even = {3, 3, 3, 3, 5, 5, 5, 5};
  EXPECT_TRUE(MixesWidthsInTiles(2, 4, 8, mixed.data()));
  EXPECT_FALSE(MixesWidthsInTiles(2, 4, 8, even.data()));
  EXPECT_TRUE(MixesWidthsInTiles(4, 2, 16, mixed.data()));  // 4 rows of 2 blocks of 16
  const std::vector<uint8_t> quarter = {1, 2, 3, 3, 3, 3, 3, 3};  // 1 tile of 4 mixed
  EXPECT_FALSE(MixesWidthsInTiles(4, 2, 8, quarter.data()));
  EXPECT_FALSE(MixesWidthsInTiles(2, 4, 32, mixed.data()));  // blocks of 32: not for bytes
}

TEST(ByteLevelsTest, RejectsWidthsAbove16AndLevelsBeyondTheirWidth) {
  RandomLevels source(3, 16, 8, 16, 4);
  source.widths[3] = 17;
  EXPECT_THAT([&] { source.Build(); },
              ThrowsMessage<std::invalid_argument>(HasSubstr("width of block 3 is 17")));
  source = RandomLevels(3, 16, 8, 16, 4);
  source.widths[3] = 12;
  source.levels[1 * 16 + 9] = 1 << 12;
  EXPECT_THAT([&] { source.Build(); },
              ThrowsMessage<std::invalid_argument>(
                  HasSubstr("level 4096 at row 1, column 9 does not fit its block's width 12")));
  EXPECT_THAT(
      [&] {
        BuildByteLevels(2, 16, 32, source.levels.data(), source.widths.data(), AffineOfWidth);
      },
      ThrowsMessage<std::invalid_argument>(HasSubstr("block must be 8 or 16, got 32")));
}

}  // namespace
}  // namespace mc::runtime
