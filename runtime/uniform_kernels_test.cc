// File: uniform_kernels_test.cc
// Tests of BlockedLevels (builder, validation, decoding) and of the uniform kernels on every
// instruction set this CPU has, against a double-precision product with the matrix that
// DecodeRows gives: random shapes around every block and tile boundary, every width, mixed
// widths and affine groups, several batch sizes, strided inputs and outputs, and arbitrary
// splits of the output rows.
#include "runtime/uniform_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/blocked_levels.h"
#include "runtime/cpu_features.h"

namespace mc::runtime {
namespace {

// How a random matrix assigns affine groups to its blocks.
enum class Groups { kOne, kPerRow, kPerBlock };

struct MatrixSpec {
  int64_t rows = 1;
  int64_t cols = 1;
  int block = 32;
  int width = 4;  // 0: a random width per block.
  Groups groups = Groups::kOne;
};

struct TestMatrix {
  BlockedLevels w;
  std::vector<float> decoded;     // rows x cols, from DecodeRows.
  std::vector<double> magnitude;  // rows x cols: |offset| + |scale| * level.
};

constexpr int kNumGroups = 3;

TestMatrix RandomMatrix(const MatrixSpec& spec, uint32_t seed) {
  std::mt19937 random(seed);
  const int64_t blocks_per_row = (spec.cols + spec.block - 1) / spec.block;
  std::vector<uint8_t> widths(spec.rows * blocks_per_row);
  std::vector<uint32_t> groups(widths.size());
  for (size_t i = 0; i < widths.size(); ++i) {
    widths[i] = spec.width > 0 ? spec.width : 1 + random() % 8;
    const int64_t row = i / blocks_per_row;
    groups[i] = spec.groups == Groups::kOne      ? 0
                : spec.groups == Groups::kPerRow ? row % kNumGroups
                                                 : random() % kNumGroups;
  }
  std::vector<uint8_t> levels(spec.rows * spec.cols);
  for (int64_t i = 0; i < static_cast<int64_t>(levels.size()); ++i) {
    const int width = widths[(i / spec.cols) * blocks_per_row + (i % spec.cols) / spec.block];
    levels[i] = random() % (1 << width);
  }
  std::uniform_real_distribution<float> offset(-1.0f, 1.0f);
  std::uniform_real_distribution<float> scale(0.001f, 0.1f);
  std::vector<float> offsets(kNumGroups * kAffineStride);
  std::vector<float> scales(offsets.size());
  for (size_t i = 0; i < offsets.size(); ++i) {
    offsets[i] = offset(random);
    scales[i] = scale(random);
  }
  TestMatrix m;
  m.w = BuildBlockedLevels(spec.rows, spec.cols, spec.block, levels.data(), widths.data(),
                           groups.data(), offsets, scales);
  m.decoded.resize(levels.size());
  DecodeRows(m.w, 0, spec.rows, m.decoded.data());
  m.magnitude.resize(levels.size());
  for (int64_t i = 0; i < static_cast<int64_t>(levels.size()); ++i) {
    const int64_t block = (i / spec.cols) * blocks_per_row + (i % spec.cols) / spec.block;
    const int64_t affine = groups[block] * kAffineStride + widths[block];
    m.magnitude[i] = std::fabs(offsets[affine]) + std::fabs(scales[affine]) * levels[i];
  }
  return m;
}

std::vector<float> RandomActivations(int64_t batch, int64_t stride, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> value(0.0f, 1.0f);
  std::vector<float> x(batch * stride);
  for (float& v : x) v = value(random);
  return x;
}

// Expects y (batch x rows at y_stride) to match x W^T in double within `tolerance` of the
// magnitude sum |x| . (|offset| + |scale| * level), and the stride padding of y untouched.
void ExpectMatchesReference(const TestMatrix& m, const float* x, int64_t batch, int64_t x_stride,
                            const std::vector<float>& y, int64_t y_stride, double tolerance,
                            const std::string& context) {
  const int64_t rows = m.w.rows;
  const int64_t cols = m.w.cols;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < rows; ++r) {
      double expected = 0.0;
      double magnitude = 0.0;
      for (int64_t c = 0; c < cols; ++c) {
        expected += static_cast<double>(x[b * x_stride + c]) * m.decoded[r * cols + c];
        magnitude += std::fabs(x[b * x_stride + c]) * m.magnitude[r * cols + c];
      }
      ASSERT_NEAR(y[b * y_stride + r], expected, tolerance * magnitude + 1e-30)
          << context << " batch row " << b << " row " << r;
    }
    for (int64_t r = rows; r < y_stride; ++r) ASSERT_EQ(y[b * y_stride + r], -7.0f) << context;
  }
}

// The activations that xq represents: scale * q, batch x cols.
std::vector<float> Dequantize(const QuantizedActivations& xq) {
  std::vector<float> x(xq.batch * xq.cols);
  for (int64_t b = 0; b < xq.batch; ++b) {
    for (int64_t c = 0; c < xq.cols; ++c) {
      x[b * xq.cols + c] =
          xq.scale[b * (xq.padded_cols / 32) + c / 32] * xq.q[b * xq.padded_cols + c];
    }
  }
  return x;
}

std::string Describe(const MatrixSpec& spec, int64_t batch) {
  return std::to_string(spec.rows) + "x" + std::to_string(spec.cols) + " block " +
         std::to_string(spec.block) + " width " + std::to_string(spec.width) + " groups " +
         std::to_string(static_cast<int>(spec.groups)) + " batch " + std::to_string(batch);
}

// Every combination of block, columns, width and grouping, with varying rows and batch.
std::vector<MatrixSpec> AllSpecs() {
  std::vector<MatrixSpec> specs;
  int64_t rows = 1;
  for (int block : {8, 16, 32}) {
    for (int64_t cols : {1, 7, 27, 33, 100, 577}) {
      for (int width = 0; width <= 8; ++width) {
        for (Groups groups : {Groups::kOne, Groups::kPerRow, Groups::kPerBlock}) {
          specs.push_back({rows, cols, block, width, groups});
          rows = rows % 70 + 7;
        }
      }
    }
  }
  return specs;
}

class UniformKernelsTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (DetectIsa() < GetParam()) GTEST_SKIP() << "CPU lacks " << IsaName(GetParam());
  }
};

TEST_P(UniformKernelsTest, GemmFloatMatchesDecodedProduct) {
  uint32_t seed = 1;
  for (const MatrixSpec& spec : AllSpecs()) {
    const int64_t batch = 1 + seed % 9;
    const TestMatrix m = RandomMatrix(spec, seed);
    const int64_t x_stride = spec.cols + seed % 3;
    const int64_t y_stride = spec.rows + 2;
    const std::vector<float> x = RandomActivations(batch, x_stride, seed + 1);
    std::vector<float> y(batch * y_stride, -7.0f);
    GemmFloat(m.w, x.data(), batch, x_stride, y.data(), y_stride, 0, spec.rows, GetParam());
    ExpectMatchesReference(m, x.data(), batch, x_stride, y, y_stride, 1e-5, Describe(spec, batch));
    ++seed;
  }
}

TEST_P(UniformKernelsTest, GemmInt8MatchesProductWithQuantizedActivations) {
  uint32_t seed = 1;
  for (const MatrixSpec& spec : AllSpecs()) {
    const int64_t batch = 1 + seed % 9;
    const TestMatrix m = RandomMatrix(spec, seed);
    const std::vector<float> x = RandomActivations(batch, spec.cols, seed + 1);
    const QuantizedActivations xq = QuantizeActivations(x.data(), batch, spec.cols, spec.cols);
    const std::vector<float> x_dequantized = Dequantize(xq);
    const int64_t y_stride = spec.rows + 1;
    std::vector<float> y(batch * y_stride, -7.0f);
    GemmInt8(m.w, xq, y.data(), y_stride, 0, spec.rows, GetParam());
    ExpectMatchesReference(m, x_dequantized.data(), batch, spec.cols, y, y_stride, 1e-5,
                           Describe(spec, batch));
    ++seed;
  }
}

// The int8 result differs from the float product by at most what rounding x to int8 allows:
// |sum (x - d q) w| <= sum |x - d q| |w|.
TEST_P(UniformKernelsTest, GemmInt8StaysWithinActivationRoundingOfFloatProduct) {
  const MatrixSpec spec{37, 1000, 32, 4, Groups::kPerRow};
  const TestMatrix m = RandomMatrix(spec, 5);
  const int64_t batch = 3;
  const std::vector<float> x = RandomActivations(batch, spec.cols, 6);
  const QuantizedActivations xq = QuantizeActivations(x.data(), batch, spec.cols, spec.cols);
  const std::vector<float> x_dequantized = Dequantize(xq);
  std::vector<float> y(batch * spec.rows);
  GemmInt8(m.w, xq, y.data(), spec.rows, 0, spec.rows, GetParam());
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < spec.rows; ++r) {
      double exact = 0.0;
      double bound = 0.0;
      for (int64_t c = 0; c < spec.cols; ++c) {
        const double weight = m.decoded[r * spec.cols + c];
        exact += x[b * spec.cols + c] * weight;
        bound +=
            std::fabs(x[b * spec.cols + c] - x_dequantized[b * spec.cols + c]) * std::fabs(weight);
      }
      EXPECT_LE(std::fabs(y[b * spec.rows + r] - exact), bound * 1.001 + 1e-4);
      EXPECT_GT(bound, 0.0);
    }
  }
}

// Levels of 255 against activations of 127 overflow int16 pair sums (2 * 255 * 127); the
// 8-bit path must still be exact.
TEST_P(UniformKernelsTest, GemmInt8HandlesLargestLevelsAndActivations) {
  const int64_t rows = 3;
  const int64_t cols = 96;
  std::vector<uint8_t> levels(rows * cols, 255);
  std::vector<uint8_t> widths(rows * cols / 32, 8);
  std::vector<float> offsets(kAffineStride, 0.0f);
  std::vector<float> scales(kAffineStride, 1.0f);
  const BlockedLevels w =
      BuildBlockedLevels(rows, cols, 32, levels.data(), widths.data(), nullptr, offsets, scales);
  const std::vector<float> x(cols, 1.0f);
  const QuantizedActivations xq = QuantizeActivations(x.data(), 1, cols, cols);
  std::vector<float> y(rows);
  GemmInt8(w, xq, y.data(), rows, 0, rows, GetParam());
  for (float value : y) EXPECT_FLOAT_EQ(value, 255.0f * cols);
}

// Long rows exercise the unrolled tile loops, the accumulator sets and many tiles per run.
TEST_P(UniformKernelsTest, LongRowsMatchDecodedProduct) {
  for (int width : {1, 2, 3, 4, 8, 0}) {
    const MatrixSpec spec{9, 4133, 32, width, Groups::kPerRow};
    const TestMatrix m = RandomMatrix(spec, 40 + width);
    for (int64_t batch : {1, 2, 5}) {
      const std::vector<float> x = RandomActivations(batch, spec.cols, 50 + width);
      std::vector<float> y(batch * spec.rows, -7.0f);
      GemmFloat(m.w, x.data(), batch, spec.cols, y.data(), spec.rows, 0, spec.rows, GetParam());
      ExpectMatchesReference(m, x.data(), batch, spec.cols, y, spec.rows, 1e-5,
                             Describe(spec, batch));
      const QuantizedActivations xq = QuantizeActivations(x.data(), batch, spec.cols, spec.cols);
      const std::vector<float> x_dequantized = Dequantize(xq);
      GemmInt8(m.w, xq, y.data(), spec.rows, 0, spec.rows, GetParam());
      ExpectMatchesReference(m, x_dequantized.data(), batch, spec.cols, y, spec.rows, 1e-5,
                             Describe(spec, batch) + " int8");
    }
  }
}

// Splitting the output rows into arbitrary ranges gives bitwise the same output.
TEST_P(UniformKernelsTest, RowSplitsGiveIdenticalResults) {
  std::mt19937 random(3);
  for (int width : {0, 2, 4, 5, 8}) {
    for (int block : {8, 16, 32}) {
      const Groups groups = block == 8    ? Groups::kOne
                            : block == 16 ? Groups::kPerRow
                                          : Groups::kPerBlock;
      const MatrixSpec spec{61, 203, block, width, groups};
      const TestMatrix m = RandomMatrix(spec, 70 + width + block);
      const int64_t batch = 6;
      const std::vector<float> x = RandomActivations(batch, spec.cols, 80 + width);
      const QuantizedActivations xq = QuantizeActivations(x.data(), batch, spec.cols, spec.cols);
      std::vector<float> whole(batch * spec.rows);
      std::vector<float> whole_int8(batch * spec.rows);
      GemmFloat(m.w, x.data(), batch, spec.cols, whole.data(), spec.rows, 0, spec.rows, GetParam());
      GemmInt8(m.w, xq, whole_int8.data(), spec.rows, 0, spec.rows, GetParam());
      std::vector<float> split(batch * spec.rows, -7.0f);
      std::vector<float> split_int8(batch * spec.rows, -7.0f);
      for (int64_t begin = 0; begin < spec.rows;) {
        const int64_t end = std::min<int64_t>(spec.rows, begin + 1 + random() % 20);
        GemmFloat(m.w, x.data(), batch, spec.cols, split.data(), spec.rows, begin, end, GetParam());
        GemmInt8(m.w, xq, split_int8.data(), spec.rows, begin, end, GetParam());
        begin = end;
      }
      EXPECT_EQ(0, std::memcmp(split.data(), whole.data(), whole.size() * sizeof(float)));
      EXPECT_EQ(
          0, std::memcmp(split_int8.data(), whole_int8.data(), whole_int8.size() * sizeof(float)));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, UniformKernelsTest,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(IsaName(info.param));
                         });

TEST(QuantizeActivationsTest, QuantizesPerBlockOf32AndPads) {
  const int64_t cols = 40;
  std::vector<float> x(2 * cols + 1);
  for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) x[i] = 0.01f * (i - 30);
  x[5] = 2.54f;
  const QuantizedActivations xq = QuantizeActivations(x.data(), 2, cols + 1, cols);
  ASSERT_EQ(xq.padded_cols, 64);
  ASSERT_EQ(xq.q.size(), 128u);
  ASSERT_EQ(xq.scale.size(), 4u);
  ASSERT_EQ(xq.sums8.size(), 16u);
  EXPECT_FLOAT_EQ(xq.scale[0], 2.54f / 127.0f);
  EXPECT_EQ(xq.q[5], 127);
  EXPECT_EQ(xq.q[0], -15);  // -0.30 / 0.02 = -15.
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t c = 0; c < xq.padded_cols; ++c) {
      const int8_t q = xq.q[b * 64 + c];
      if (c >= cols) {
        EXPECT_EQ(q, 0) << c;
        continue;
      }
      const float d = xq.scale[b * 2 + c / 32];
      EXPECT_LE(std::fabs(x[b * (cols + 1) + c] - d * q), 0.5f * d * 1.0001f) << b << " " << c;
    }
    for (int64_t s = 0; s < 8; ++s) {
      int32_t sum = 0;
      for (int i = 0; i < 8; ++i) sum += xq.q[b * 64 + s * 8 + i];
      EXPECT_EQ(xq.sums8[b * 8 + s], sum);
    }
  }
}

TEST(QuantizeActivationsTest, ZeroBlockHasZeroScale) {
  const std::vector<float> x(32, 0.0f);
  const QuantizedActivations xq = QuantizeActivations(x.data(), 1, 32, 32);
  EXPECT_EQ(xq.scale[0], 0.0f);
  for (int8_t q : xq.q) EXPECT_EQ(q, 0);
}

std::string BuildError(int64_t rows, int64_t cols, int block, std::vector<uint8_t> levels,
                       std::vector<uint8_t> widths, const uint32_t* groups,
                       std::vector<float> offsets, std::vector<float> scales) {
  try {
    BuildBlockedLevels(rows, cols, block, levels.data(), widths.data(), groups, offsets, scales);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(BlockedLevelsTest, BuilderPacksLsbFirstAtContainerWidth) {
  const std::vector<uint8_t> levels = {0, 1, 2, 3, 4, 5, 6, 7, 1, 0, 1, 1, 0, 0, 0, 1};
  const std::vector<uint8_t> widths = {3, 1};
  const std::vector<float> table(kAffineStride, 1.0f);
  const BlockedLevels w =
      BuildBlockedLevels(1, 16, 8, levels.data(), widths.data(), nullptr, table, table);
  EXPECT_EQ(w.packed, (std::vector<uint8_t>{0x10, 0x32, 0x54, 0x76, 0x8d}));
  EXPECT_EQ(w.row_offsets, (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(w.block_bits, widths);
  EXPECT_TRUE(w.block_group.empty());
  EXPECT_EQ(w.ResidentBytes(), 5u + 2u + 2 * 9 * sizeof(float) + 2 * sizeof(int64_t));
}

TEST(BlockedLevelsTest, BuilderStoresOneWidthAndDropsAllZeroGroups) {
  const std::vector<uint8_t> levels(2 * 20, 3);
  const std::vector<uint8_t> widths(2 * 2, 2);
  const std::vector<uint32_t> zero_groups(4, 0);
  const std::vector<float> table(2 * kAffineStride, 0.5f);
  const BlockedLevels w =
      BuildBlockedLevels(2, 20, 16, levels.data(), widths.data(), zero_groups.data(), table, table);
  EXPECT_EQ(w.bits, 2);
  EXPECT_TRUE(w.block_bits.empty());
  EXPECT_TRUE(w.block_group.empty());
  EXPECT_EQ(w.blocks_per_row, 2);
  EXPECT_EQ(w.padded_cols(), 32);
  EXPECT_EQ(w.packed.size(), 2u * 2 * 4);
  EXPECT_NO_THROW(ValidateBlockedLevels(w));
  const std::vector<uint32_t> groups = {0, 1, 1, 0};
  const BlockedLevels grouped =
      BuildBlockedLevels(2, 20, 16, levels.data(), widths.data(), groups.data(), table, table);
  EXPECT_EQ(grouped.block_group, groups);
}

TEST(BlockedLevelsTest, DecodeRowsGivesOffsetPlusScaleTimesLevel) {
  for (const int block : {8, 16, 32}) {
    const MatrixSpec spec{5, 2 * block + 11, block, 0, Groups::kPerBlock};
    const TestMatrix m = RandomMatrix(spec, 9);
    uint8_t levels[32];
    for (int64_t r = 0; r < spec.rows; ++r) {
      const uint8_t* bytes = m.w.packed.data() + m.w.row_offsets[r];
      for (int64_t b = 0; b < m.w.blocks_per_row; ++b) {
        const int width = m.w.BlockWidth(r, b);
        const int count = std::min<int>(block, spec.cols - b * block);
        UnpackBlockLevels(bytes, ContainerBits(width), count, levels);
        const int64_t affine = m.w.AffineIndex(r, b);
        for (int i = 0; i < count; ++i) {
          ASSERT_EQ(m.decoded[r * spec.cols + b * block + i],
                    m.w.affine_offset[affine] + m.w.affine_scale[affine] * levels[i])
              << "block " << block << ", row " << r << ", column " << b * block + i;
        }
        bytes += block * ContainerBits(width) / 8;
      }
    }
    std::vector<float> rows_2_to_4(2 * spec.cols);
    DecodeRows(m.w, 2, 4, rows_2_to_4.data());
    EXPECT_EQ(0, std::memcmp(rows_2_to_4.data(), m.decoded.data() + 2 * spec.cols,
                             rows_2_to_4.size() * sizeof(float)));
  }
}

TEST(BlockedLevelsTest, DecodeRowsMultipliesEachRowByItsScale) {
  const MatrixSpec spec{4, 45, 16, 0, Groups::kPerBlock};
  const TestMatrix m = RandomMatrix(spec, 10);
  const std::vector<float> row_scale = {0.5f, -2.0f, 3.25f};
  std::vector<float> scaled(3 * spec.cols);
  DecodeRows(m.w, 1, 4, row_scale.data(), scaled.data());
  for (int64_t r = 0; r < 3; ++r) {
    for (int64_t c = 0; c < spec.cols; ++c) {
      const float expected = row_scale[r] * m.decoded[(r + 1) * spec.cols + c];
      EXPECT_NEAR(scaled[r * spec.cols + c], expected, 1e-6f * (1.0f + std::fabs(expected)));
    }
  }
}

TEST(BlockedLevelsTest, BuilderNamesWhatIsWrong) {
  const std::vector<float> table(kAffineStride, 1.0f);
  const std::vector<uint8_t> levels(8, 1);
  EXPECT_NE(BuildError(1, 8, 12, levels, {2}, nullptr, table, table).find("block must be"),
            std::string::npos);
  EXPECT_NE(BuildError(-1, 8, 8, levels, {2}, nullptr, table, table).find("negative"),
            std::string::npos);
  EXPECT_NE(BuildError(1, 8, 8, levels, {9}, nullptr, table, table).find("width of block 0"),
            std::string::npos);
  EXPECT_NE(BuildError(1, 8, 8, {0, 0, 0, 8, 0, 0, 0, 0}, {3}, nullptr, table, table)
                .find("level 8 at row 0, column 3 does not fit its block's width 3"),
            std::string::npos);
  EXPECT_NE(BuildError(1, 8, 8, levels, {2}, nullptr, table, {1.0f}).find("affine_scale has 1"),
            std::string::npos);
  EXPECT_NE(BuildError(1, 8, 8, levels, {2}, nullptr, {1.0f}, {1.0f}).find("multiple of 9"),
            std::string::npos);
  const uint32_t group = 1;
  EXPECT_NE(BuildError(1, 8, 8, levels, {2}, &group, table, table).find("group 1 of block 0"),
            std::string::npos);
  EXPECT_EQ(BuildError(1, 8, 8, levels, {2}, nullptr, table, table), "");
}

std::string ValidationError(const BlockedLevels& w) {
  try {
    ValidateBlockedLevels(w);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(BlockedLevelsTest, ValidationFindsInconsistentFields) {
  const TestMatrix m = RandomMatrix({4, 50, 16, 0, Groups::kPerBlock}, 11);
  EXPECT_EQ(ValidationError(m.w), "");

  BlockedLevels bad = m.w;
  bad.row_offsets[2] += 1;
  EXPECT_NE(ValidationError(bad).find("row_offsets[2]"), std::string::npos);
  bad = m.w;
  bad.block_bits.pop_back();
  EXPECT_NE(ValidationError(bad).find("block_bits has"), std::string::npos);
  bad = m.w;
  bad.block_group[3] = kNumGroups;
  EXPECT_NE(ValidationError(bad).find("group 3 of block 3"), std::string::npos);
  bad = m.w;
  bad.packed.push_back(0);
  EXPECT_NE(ValidationError(bad).find("packed has"), std::string::npos);
  bad = m.w;
  bad.blocks_per_row = 3;
  EXPECT_NE(ValidationError(bad).find("blocks_per_row"), std::string::npos);

  // A 3-bit block stores its levels in 4 bits; 15 does not fit 3 bits.
  const std::vector<uint8_t> levels(8, 1);
  const std::vector<uint8_t> widths = {3};
  const std::vector<float> table(kAffineStride, 1.0f);
  bad = BuildBlockedLevels(1, 8, 8, levels.data(), widths.data(), nullptr, table, table);
  bad.packed[1] = 0xf1;
  EXPECT_NE(ValidationError(bad).find("level 15 at row 0, column 3"), std::string::npos);
}

TEST(CpuFeaturesTest, NamesParseAndActiveIsaIsSupported) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni}) {
    Isa parsed = Isa::kScalar;
    ASSERT_TRUE(ParseIsa(IsaName(isa), &parsed));
    EXPECT_EQ(parsed, isa);
    EXPECT_LE(SupportedIsa(isa), DetectIsa());
    EXPECT_LE(SupportedIsa(isa), isa);
  }
  Isa unchanged = Isa::kAvx2;
  EXPECT_FALSE(ParseIsa("sse9", &unchanged));
  EXPECT_EQ(unchanged, Isa::kAvx2);
  EXPECT_LE(ActiveIsa(), DetectIsa());
}

}  // namespace
}  // namespace mc::runtime
