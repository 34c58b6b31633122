// File: byte_levels_test.cc
// ByteLevels against the BlockedLevels it is made from: the same decoded matrix, and its
// product on every instruction set this CPU has against a double-precision product with that
// matrix, for blocks of 8 and 16, a partial last block, several batch sizes and row splits.
#include "runtime/byte_levels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "runtime/blocked_levels.h"
#include "runtime/cpu_features.h"

namespace mc::runtime {
namespace {

// rows x cols levels in blocks of `block` columns, of a random width each (or `width`), one
// affine group whose offset and scale differ per width.
BlockedLevels RandomLevels(int64_t rows, int64_t cols, int block, int width, uint32_t seed) {
  std::mt19937 random(seed);
  const int64_t blocks_per_row = (cols + block - 1) / block;
  std::vector<uint8_t> widths(rows * blocks_per_row);
  for (uint8_t& w : widths) w = static_cast<uint8_t>(width > 0 ? width : 1 + random() % 8);
  std::vector<uint8_t> levels(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) {
    const int w = widths[(i / cols) * blocks_per_row + (i % cols) / block];
    levels[i] = static_cast<uint8_t>(random() % (1 << w));
  }
  std::vector<float> offsets(kAffineStride), scales(kAffineStride);
  for (int w = 1; w < kAffineStride; ++w) {
    offsets[w] = -0.5f - 0.01f * w;
    scales[w] = 1.0f / static_cast<float>((1 << w) - 1);
  }
  return BuildBlockedLevels(rows, cols, block, levels.data(), widths.data(), nullptr, offsets,
                            scales);
}

std::vector<float> Decoded(const BlockedLevels& w) {
  std::vector<float> out(w.rows * w.cols);
  DecodeRows(w, 0, w.rows, out.data());
  return out;
}

std::vector<Isa> IsasOfThisCpu() {
  std::vector<Isa> isas = {Isa::kScalar};
  if (DetectIsa() != Isa::kScalar) isas.push_back(Isa::kAvx2);
  return isas;
}

TEST(ByteLevelsTest, DecodesAsTheBlockedLevels) {
  for (const int block : {8, 16}) {
    const BlockedLevels blocked = RandomLevels(7, 44, block, 0, 1);
    ASSERT_TRUE(PrefersByteLevels(blocked));
    const ByteLevels bytes = MakeByteLevels(blocked);
    std::vector<float> out(7 * 44);
    DecodeRows(bytes, 0, 7, nullptr, out.data());
    EXPECT_EQ(out, Decoded(blocked)) << "block " << block;

    const std::vector<float> row_scale = {2.0f, -0.5f};
    std::vector<float> scaled(2 * 44);
    DecodeRows(bytes, 3, 5, row_scale.data(), scaled.data());
    for (int64_t i = 0; i < 2 * 44; ++i) {
      EXPECT_FLOAT_EQ(scaled[i], row_scale[i / 44] * Decoded(blocked)[3 * 44 + i]) << i;
    }
  }
}

TEST(ByteLevelsTest, MultipliesAsTheDecodedMatrix) {
  std::mt19937 random(7);
  std::normal_distribution<float> normal;
  for (const int block : {8, 16}) {
    for (const int64_t cols : {8, 44, 200}) {
      const BlockedLevels blocked = RandomLevels(37, cols, block, 0, 3);
      const ByteLevels bytes = MakeByteLevels(blocked);
      const std::vector<float> w = Decoded(blocked);
      for (const int64_t batch : {1, 3}) {
        std::vector<float> x(batch * cols);
        for (float& v : x) v = normal(random);
        const WidthScaledActivations xs = ScaleActivations(bytes, x.data(), batch);
        for (const Isa isa : IsasOfThisCpu()) {
          std::vector<float> y(batch * 37, NAN);
          GemmByteLevels(bytes, xs, y.data(), 37, 0, 20, isa);  // two row ranges
          GemmByteLevels(bytes, xs, y.data(), 37, 20, 37, isa);
          for (int64_t k = 0; k < batch; ++k) {
            for (int64_t r = 0; r < 37; ++r) {
              double expected = 0.0;
              double magnitude = 0.0;
              for (int64_t c = 0; c < cols; ++c) {
                expected += static_cast<double>(x[k * cols + c]) * w[r * cols + c];
                magnitude += std::abs(static_cast<double>(x[k * cols + c]) * w[r * cols + c]);
              }
              EXPECT_NEAR(y[k * 37 + r], expected, 1e-5 * magnitude + 1e-6)
                  << "block " << block << " cols " << cols << " batch " << batch << " row " << r
                  << " isa " << IsaName(isa);
            }
          }
        }
      }
    }
  }
}

TEST(ByteLevelsTest, IsPreferredOnlyWhereTilesMixWidthsInOneAffineGroup) {
  EXPECT_TRUE(PrefersByteLevels(RandomLevels(4, 64, 8, 0, 5)));
  EXPECT_FALSE(PrefersByteLevels(RandomLevels(4, 64, 8, 4, 5)));   // one width
  EXPECT_FALSE(PrefersByteLevels(RandomLevels(4, 64, 32, 0, 5)));  // a width per tile
  BlockedLevels grouped = RandomLevels(4, 64, 8, 0, 5);
  grouped.block_group.assign(4 * 8, 0);
  grouped.block_group[1] = 1;
  EXPECT_FALSE(PrefersByteLevels(grouped));
}

}  // namespace
}  // namespace mc::runtime
