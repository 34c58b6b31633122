// LoadWeightMatrix against the decode-to-float path for each form it picks, and the two planes
// that carry uniform levels wider than 8 bits.
#include "runtime/weight_loading.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/status_matchers.h"
#include "model_io/decoder.h"
#include "runtime/blocked_levels.h"
#include "runtime/testutil.h"

namespace mc::runtime {
namespace {

using ::mc::runtime::testing::EncodeWeight;
using ::mc::runtime::testing::WeightEncoding;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// A 40 x 72 weight: rows of 9 blocks of 8, so that groups of 8 and 16 line up with blocks.
at::Tensor Weight() {
  at::manual_seed(3);
  return at::randn({40, 72});
}

at::Tensor Decoded(const serialization::CompressedTensor& stored) {
  absl::StatusOr<at::Tensor> decoded = model_io::DecodeTensor(stored);
  EXPECT_THAT(decoded.status(), IsOk());
  return decoded->reshape({stored.shape(0), -1});
}

at::Tensor Rows(const WeightMatrix& matrix, int64_t begin, int64_t end,
                const float* row_scale = nullptr) {
  at::Tensor out = at::empty({end - begin, matrix.cols()});
  matrix.DecodeRows(begin, end, out.data_ptr<float>(), row_scale);
  return out;
}

at::Tensor Product(const WeightMatrix& matrix, const at::Tensor& x, Activations activations) {
  at::Tensor y = at::empty({x.size(0), matrix.rows()});
  matrix.Multiply(x.data_ptr<float>(), x.size(0), y.data_ptr<float>(), activations);
  return y;
}

double RelativeError(const at::Tensor& value, const at::Tensor& expected) {
  return (value - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

class LoadWeightMatrixTest
    : public ::testing::TestWithParam<std::pair<WeightEncoding, std::string>> {};

TEST_P(LoadWeightMatrixTest, DecodesAndMultipliesAsTheFloatPath) {
  const auto& [encoding, form] = GetParam();
  const serialization::CompressedTensor stored = EncodeWeight("w", Weight(), encoding);
  MC_ASSERT_OK_AND_ASSIGN(const WeightMatrix matrix, LoadWeightMatrix(stored));
  EXPECT_EQ(matrix.FormName(), form);
  const at::Tensor expected = Decoded(stored);

  EXPECT_LE(RelativeError(Rows(matrix, 0, 40), expected), 1e-6);
  const at::Tensor row_scale = at::rand({12}) + 0.5;
  EXPECT_LE(RelativeError(Rows(matrix, 5, 17, row_scale.data_ptr<float>()),
                          expected.slice(0, 5, 17) * row_scale.unsqueeze(1)),
            1e-6);

  for (const int64_t batch : {3, 16}) {  // ByteLevels' kernel, then its decoded tiles
    const at::Tensor x = at::randn({batch, 72});
    const at::Tensor product = at::mm(x, expected.t());
    EXPECT_LE(RelativeError(Product(matrix, x, Activations::kFloat), product), 1e-5) << batch;
    EXPECT_LE(RelativeError(Product(matrix, x, Activations::kInt8), product), 0.02) << batch;
  }
}

INSTANTIATE_TEST_SUITE_P(
    UniformForms, LoadWeightMatrixTest,
    ::testing::Values(std::make_pair(WeightEncoding::kFourBits, "uniform"),
                      std::make_pair(WeightEncoding::kBuckets, "uniform"),
                      std::make_pair(WeightEncoding::kDiffqWidths, "uniform bytes"),
                      std::make_pair(WeightEncoding::kWideWidths, "uniform bytes"),
                      std::make_pair(WeightEncoding::kLearnedPoints, "codes")));

TEST(LoadWeightMatrixTest, KeepsPackedBlocksForDecodedTiles) {
  for (const auto& [encoding, form] : {std::make_pair(WeightEncoding::kDiffqWidths, "uniform"),
                                       std::make_pair(WeightEncoding::kWideWidths, "wide uniform")}) {
    const serialization::CompressedTensor stored = EncodeWeight("w", Weight(), encoding);
    MC_ASSERT_OK_AND_ASSIGN(const WeightMatrix matrix,
                            LoadWeightMatrix(stored, WeightUse::kDecodedTiles));
    EXPECT_EQ(matrix.FormName(), std::string(form));
    const at::Tensor expected = Decoded(stored);
    EXPECT_LE(RelativeError(Rows(matrix, 0, 40), expected), 1e-6) << form;
    const at::Tensor x = at::randn({3, 72});
    const at::Tensor product = at::mm(x, expected.t());
    EXPECT_LE(RelativeError(Product(matrix, x, Activations::kFloat), product), 1e-5) << form;
    EXPECT_LE(RelativeError(Product(matrix, x, Activations::kInt8), product), 0.02) << form;
  }
}

// Rows 0..2 of 16 columns in blocks of 8: widths (4, 4), (4, 12) and (9, 2); one range group.
struct SmallWide {
  std::vector<uint16_t> levels;
  std::vector<uint8_t> widths = {4, 4, 4, 12, 9, 2};
};

SmallWide MakeSmallWide() {
  SmallWide w;
  for (int64_t r = 0; r < 3; ++r) {
    for (int64_t c = 0; c < 16; ++c) {
      const int width = w.widths[r * 2 + c / 8];
      w.levels.push_back(static_cast<uint16_t>((r * 977 + c * 131) % (1 << width)));
    }
  }
  return w;
}

std::pair<float, float> SmallAffine(uint32_t /*group*/, int width) {
  return {-1.0f, 2.0f / static_cast<float>((1 << width) - 1)};
}

TEST(WideLevelsTest, KeepsHighBitsOnlyForRowsWithWideBlocks) {
  const SmallWide small = MakeSmallWide();
  const WideLevels w = BuildWideLevels(3, 16, 8, small.levels.data(), small.widths.data(),
                                       /*groups=*/nullptr, /*num_groups=*/1, SmallAffine);
  EXPECT_THAT(w.high_rows, ElementsAre(1, 2));
  EXPECT_EQ(w.high.rows, 2);
  std::vector<float> decoded(3 * 16);
  DecodeRows(w, 0, 3, /*row_scale=*/nullptr, decoded.data());
  for (int64_t i = 0; i < 3 * 16; ++i) {
    const auto [offset, scale] = SmallAffine(0, small.widths[i / 8]);
    EXPECT_NEAR(decoded[i], offset + scale * small.levels[i], 1e-6) << "element " << i;
  }
}

void Build(const SmallWide& small) {
  BuildWideLevels(3, 16, 8, small.levels.data(), small.widths.data(), nullptr, 1, SmallAffine);
}

TEST(WideLevelsTest, RejectsWidthsAbove16AndLevelsBeyondTheirWidth) {
  SmallWide small = MakeSmallWide();
  small.widths[3] = 17;
  EXPECT_THAT([&] { Build(small); },
              ThrowsMessage<std::invalid_argument>(
                  HasSubstr("WideLevels: width of block 3 is 17, not in 1..16")));
  small = MakeSmallWide();
  small.levels[1 * 16 + 9] = 1 << 12;
  EXPECT_THAT([&] { Build(small); },
              ThrowsMessage<std::invalid_argument>(HasSubstr(
                  "WideLevels: level 4096 at row 1, column 9 does not fit its block's width 12")));
}

}  // namespace
}  // namespace mc::runtime
