// File: codebook_kernels_test.cc
// Checks the codebook matrix builder and the lookup-table and decoded GEMM kernels against a
// double-precision product of the decoded weight, on random shapes, for every ISA path the
// CPU runs, and that splitting the rows among calls changes no bit of the result.
#include "runtime/codebook_kernels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/codebook_matrix.h"

namespace mc::runtime {
namespace {

using ::testing::HasSubstr;

// A random matrix with its row-major indices, inputs and the exact product.
struct Problem {
  int64_t rows = 0, cols = 0, block = 0, k = 0, batch = 0;
  int64_t x_stride = 0, y_stride = 0;
  std::vector<float> centroids;
  std::vector<int64_t> assignments;
  CodebookMatrix w;
  std::vector<float> x;
  std::vector<double> expected;   // batch x rows.
  std::vector<double> magnitude;  // sum_c |x[l][c] * W[r, c]|, the scale of rounding errors.

  std::string Describe() const {
    return "rows " + std::to_string(rows) + " cols " + std::to_string(cols) + " block " +
           std::to_string(block) + " k " + std::to_string(k) + " batch " +
           std::to_string(batch);
  }
};

Problem MakeProblem(int64_t rows, int64_t block, int64_t blocks_per_row, int64_t k,
                    int64_t batch, std::mt19937* rng) {
  Problem p;
  p.rows = rows;
  p.block = block;
  p.cols = block * blocks_per_row;
  p.k = k;
  p.batch = batch;
  p.x_stride = p.cols + 3;
  p.y_stride = rows + 5;
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int64_t> index(0, k - 1);
  p.centroids.resize(k * block);
  for (float& v : p.centroids) v = normal(*rng);
  p.assignments.resize(rows * blocks_per_row);
  for (int64_t& a : p.assignments) a = index(*rng);
  p.w = MakeCodebookMatrix(rows, p.cols, block, p.centroids.data(), p.centroids.size(),
                           p.assignments.data(), p.assignments.size());
  p.x.resize(batch * p.x_stride);
  for (float& v : p.x) v = normal(*rng);
  std::vector<float> weight(rows * p.cols);
  DecodeRows(p.w, 0, rows, weight.data());
  p.expected.assign(batch * rows, 0.0);
  p.magnitude.assign(batch * rows, 0.0);
  for (int64_t l = 0; l < batch; ++l) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < p.cols; ++c) {
        const double product = double{p.x[l * p.x_stride + c]} * weight[r * p.cols + c];
        p.expected[l * rows + r] += product;
        p.magnitude[l * rows + r] += std::fabs(product);
      }
    }
  }
  return p;
}

Problem RandomProblem(std::mt19937* rng) {
  static constexpr int64_t kBlocks[] = {1, 2, 4, 8, 9, 16};
  static constexpr int64_t kCentroids[] = {1, 2, 7, 256, 300};
  std::uniform_int_distribution<int64_t> rows(1, 70), blocks_per_row(1, 40), batch(1, 9);
  std::uniform_int_distribution<int> block(0, 5), k(0, 4);
  const int64_t r = rows(*rng), d = kBlocks[block(*rng)], n = blocks_per_row(*rng);
  const int64_t c = kCentroids[k(*rng)], b = batch(*rng);
  return MakeProblem(r, d, n, c, b, rng);
}

// Output buffer whose elements outside the written rows must keep this value.
constexpr float kUntouched = -12345.0f;

std::vector<float> OutputBuffer(const Problem& p) {
  return std::vector<float>(p.batch * p.y_stride, kUntouched);
}

// Every element of rows [row_begin, row_end) within 1e-5 of the sum of the absolute products
// (float rounding of the table dot products and of the sums), and nothing else written.
void ExpectProduct(const Problem& p, const std::vector<float>& y, int64_t row_begin,
                   int64_t row_end) {
  for (int64_t l = 0; l < p.batch; ++l) {
    for (int64_t r = 0; r < p.y_stride; ++r) {
      const float got = y[l * p.y_stride + r];
      if (r < row_begin || r >= row_end) {
        ASSERT_EQ(got, kUntouched) << "input row " << l << ", row " << r;
        continue;
      }
      const double tolerance = 1e-5 * p.magnitude[l * p.rows + r] + 1e-30;
      ASSERT_NEAR(got, p.expected[l * p.rows + r], tolerance) << "input row " << l << ", row "
                                                               << r;
    }
  }
}

// Cuts [0, rows) into a random number of random consecutive ranges.
std::vector<int64_t> RandomSplit(int64_t rows, std::mt19937* rng) {
  std::vector<int64_t> bounds = {0, rows};
  std::uniform_int_distribution<int64_t> cut(0, rows);
  const int cuts = std::uniform_int_distribution<int>(0, 4)(*rng);
  for (int i = 0; i < cuts; ++i) bounds.push_back(cut(*rng));
  std::sort(bounds.begin(), bounds.end());
  return bounds;
}

class CodebookKernelsTest : public ::testing::TestWithParam<CodebookIsa> {
 protected:
  void SetUp() override {
    if (!CodebookIsaSupported(GetParam())) GTEST_SKIP() << "ISA not supported by this CPU";
  }
};

std::string IsaName(const ::testing::TestParamInfo<CodebookIsa>& info) {
  switch (info.param) {
    case CodebookIsa::kScalar:
      return "Scalar";
    case CodebookIsa::kAvx2:
      return "Avx2";
    case CodebookIsa::kAvx512:
      return "Avx512";
  }
  return "Unknown";
}

INSTANTIATE_TEST_SUITE_P(AllIsas, CodebookKernelsTest,
                         ::testing::Values(CodebookIsa::kScalar, CodebookIsa::kAvx2,
                                           CodebookIsa::kAvx512),
                         IsaName);

// Tests that GemmLut computes x W^T over all rows of random matrices.
TEST_P(CodebookKernelsTest, GemmLutMatchesExactProduct) {
  std::mt19937 rng(1);
  LutWorkspace workspace;
  for (int trial = 0; trial < 150; ++trial) {
    const Problem p = RandomProblem(&rng);
    SCOPED_TRACE(p.Describe());
    std::vector<float> y = OutputBuffer(p);
    GemmLut(p.w, p.x.data(), p.batch, p.x_stride, y.data(), p.y_stride, 0, p.rows, GetParam(),
            &workspace);
    ExpectProduct(p, y, 0, p.rows);
  }
}

// Tests that GemmDecoded computes x W^T over all rows of random matrices.
TEST_P(CodebookKernelsTest, GemmDecodedMatchesExactProduct) {
  std::mt19937 rng(2);
  DecodedWorkspace workspace;
  for (int trial = 0; trial < 150; ++trial) {
    const Problem p = RandomProblem(&rng);
    SCOPED_TRACE(p.Describe());
    std::vector<float> y = OutputBuffer(p);
    GemmDecoded(p.w, p.x.data(), p.batch, p.x_stride, y.data(), p.y_stride, 0, p.rows,
                GetParam(), &workspace);
    ExpectProduct(p, y, 0, p.rows);
  }
}

// Tests batches that take every table width (1, 8 and 16 lanes) and several chunks, with 8-
// and 16-bit indices and a matrix wider than one tile of tables.
TEST_P(CodebookKernelsTest, GemmLutHandlesLargerBatches) {
  std::mt19937 rng(3);
  LutWorkspace workspace;
  for (const int64_t k : {256, 300}) {
    for (const int64_t batch : {1, 2, 3, 8, 9, 16, 17, 40}) {
      const Problem p = MakeProblem(/*rows=*/37, /*block=*/4, /*blocks_per_row=*/70, k, batch,
                                    &rng);
      SCOPED_TRACE(p.Describe());
      std::vector<float> y = OutputBuffer(p);
      GemmLut(p.w, p.x.data(), p.batch, p.x_stride, y.data(), p.y_stride, 0, p.rows,
              GetParam(), &workspace);
      ExpectProduct(p, y, 0, p.rows);
    }
  }
}

// Tests that rows computed in separate calls, by both LUT entry points and the decoded
// product, are bitwise the rows of one call over all rows, and that each call writes only its
// rows.
TEST_P(CodebookKernelsTest, RowSplitsAreBitwiseEqual) {
  std::mt19937 rng(4);
  LutWorkspace lut_workspace;
  LutScratch scratch;
  LutTables tables;
  DecodedWorkspace decoded_workspace;
  for (int trial = 0; trial < 100; ++trial) {
    const Problem p = RandomProblem(&rng);
    SCOPED_TRACE(p.Describe());
    std::vector<float> lut_whole = OutputBuffer(p), decoded_whole = OutputBuffer(p);
    GemmLut(p.w, p.x.data(), p.batch, p.x_stride, lut_whole.data(), p.y_stride, 0, p.rows,
            GetParam(), &lut_workspace);
    GemmDecoded(p.w, p.x.data(), p.batch, p.x_stride, decoded_whole.data(), p.y_stride, 0,
                p.rows, GetParam(), &decoded_workspace);
    const std::vector<int64_t> bounds = RandomSplit(p.rows, &rng);
    std::vector<float> lut_split = OutputBuffer(p), shared_split = OutputBuffer(p);
    std::vector<float> decoded_split = OutputBuffer(p);
    for (size_t i = 0; i + 1 < bounds.size(); ++i) {
      const int64_t begin = bounds[i], end = bounds[i + 1];
      std::vector<float> alone = OutputBuffer(p);
      GemmLut(p.w, p.x.data(), p.batch, p.x_stride, alone.data(), p.y_stride, begin, end,
              GetParam(), &lut_workspace);
      ExpectProduct(p, alone, begin, end);
      GemmLut(p.w, p.x.data(), p.batch, p.x_stride, lut_split.data(), p.y_stride, begin, end,
              GetParam(), &lut_workspace);
      GemmDecoded(p.w, p.x.data(), p.batch, p.x_stride, decoded_split.data(), p.y_stride,
                  begin, end, GetParam(), &decoded_workspace);
      for (int64_t first = 0; first < p.batch;) {
        const int64_t chunk = LutChunkRows(p.w, p.batch - first, GetParam());
        const float* x = p.x.data() + first * p.x_stride;
        // Two fills of disjoint block ranges, as two threads would share the work.
        PrepareLutTables(p.w, chunk, &tables);
        const int64_t middle = tables.blocks / 2;
        FillLutTables(p.w, x, p.x_stride, middle, tables.blocks, GetParam(), &tables);
        FillLutTables(p.w, x, p.x_stride, 0, middle, GetParam(), &tables);
        GemmFromLutTables(p.w, tables, shared_split.data() + first * p.y_stride, p.y_stride,
                          begin, end, GetParam(), &scratch);
        first += chunk;
      }
    }
    EXPECT_EQ(lut_split, lut_whole);
    EXPECT_EQ(shared_split, lut_whole);
    EXPECT_EQ(decoded_split, decoded_whole);
  }
}

// Tests that the method choice follows the shape: tables for many rows per centroid, decoded
// tiles for few rows and many input rows, and that CodebookGemm computes the product with
// either.
TEST_P(CodebookKernelsTest, ChoosesMethodByShape) {
  std::mt19937 rng(7);
  const Problem tall = MakeProblem(/*rows=*/2048, /*block=*/8, /*blocks_per_row=*/8,
                                   /*k=*/16, /*batch=*/4, &rng);
  const Problem wide = MakeProblem(/*rows=*/16, /*block=*/4, /*blocks_per_row=*/32,
                                   /*k=*/300, /*batch=*/40, &rng);
  EXPECT_EQ(ChooseCodebookGemm(tall.w, tall.batch, GetParam()), CodebookGemmMethod::kLut);
  EXPECT_EQ(ChooseCodebookGemm(wide.w, wide.batch, GetParam()), CodebookGemmMethod::kDecoded);
  CodebookGemmWorkspace workspace;
  for (const Problem* p : {&tall, &wide}) {
    SCOPED_TRACE(p->Describe());
    std::vector<float> y = OutputBuffer(*p);
    CodebookGemm(p->w, p->x.data(), p->batch, p->x_stride, y.data(), p->y_stride, 0, p->rows,
                 GetParam(), &workspace);
    ExpectProduct(*p, y, 0, p->rows);
  }
}

// Tests that chunks of input rows stay within 1..kMaxLutBatch and the remaining rows.
TEST_P(CodebookKernelsTest, ChunksInputRows) {
  std::mt19937 rng(8);
  const Problem p = MakeProblem(/*rows=*/4096, /*block=*/8, /*blocks_per_row=*/16, /*k=*/16,
                                /*batch=*/1, &rng);
  EXPECT_EQ(LutChunkRows(p.w, 1, GetParam()), 1);
  for (const int64_t remaining : {2, 5, 16, 17, 100}) {
    const int64_t chunk = LutChunkRows(p.w, remaining, GetParam());
    EXPECT_TRUE(chunk == 1 || chunk == std::min(remaining, kMaxLutBatch)) << remaining;
    if (GetParam() == CodebookIsa::kScalar) {
      EXPECT_EQ(chunk, 1);
    }
  }
  if (GetParam() != CodebookIsa::kScalar) {
    EXPECT_EQ(LutChunkRows(p.w, 100, GetParam()), 16);
  }
}

// Tests the table layout: dot products per (block, centroid, lane), zeros in padding lanes.
TEST_P(CodebookKernelsTest, TablesHoldDotProducts) {
  std::mt19937 rng(5);
  const Problem p = MakeProblem(/*rows=*/3, /*block=*/3, /*blocks_per_row=*/5, /*k=*/7,
                                /*batch=*/3, &rng);
  LutTables tables;
  BuildLutTables(p.w, p.x.data(), p.batch, p.x_stride, GetParam(), &tables);
  ASSERT_EQ(tables.batch, 3);
  ASSERT_EQ(tables.lanes, 8);
  ASSERT_EQ(tables.values.size(), 5u * 7u * 8u);
  for (int64_t b = 0; b < 5; ++b) {
    for (int64_t c = 0; c < 7; ++c) {
      for (int64_t l = 0; l < 8; ++l) {
        double dot = 0.0;
        for (int64_t j = 0; j < 3 && l < 3; ++j) {
          dot += double{p.centroids[c * 3 + j]} * p.x[l * p.x_stride + b * 3 + j];
        }
        EXPECT_NEAR(tables.values[(b * 7 + c) * 8 + l], dot, 1e-5) << b << " " << c << " " << l;
      }
    }
  }
}

// Tests a hand-computed product: W = [[1, 2, 5, 6], [3, 4, 1, 2]] from block 2, k 3.
TEST_P(CodebookKernelsTest, SmallProductIsExact) {
  const std::vector<float> centroids = {1, 2, 3, 4, 5, 6};
  const std::vector<int64_t> assignments = {0, 2, 1, 0};
  const CodebookMatrix w =
      MakeCodebookMatrix(2, 4, 2, centroids.data(), 6, assignments.data(), 4);
  const std::vector<float> x = {1, 1, 1, 1, 1, 0, -1, 2};
  std::vector<float> lut(4), decoded(4);
  LutWorkspace lut_workspace;
  DecodedWorkspace decoded_workspace;
  GemmLut(w, x.data(), 2, 4, lut.data(), 2, 0, 2, GetParam(), &lut_workspace);
  GemmDecoded(w, x.data(), 2, 4, decoded.data(), 2, 0, 2, GetParam(), &decoded_workspace);
  EXPECT_EQ(lut, (std::vector<float>{14, 10, 8, 6}));
  EXPECT_EQ(decoded, lut);
}

// Tests that indices are interleaved by row groups, padded, and 16-bit above 256 centroids.
TEST(CodebookMatrixTest, InterleavesIndicesByRowGroup) {
  std::mt19937 rng(6);
  for (const int64_t k : {256, 257}) {
    const Problem p = MakeProblem(/*rows=*/21, /*block=*/2, /*blocks_per_row=*/3, k,
                                  /*batch=*/1, &rng);
    EXPECT_EQ(p.w.num_centroids, k);
    EXPECT_EQ(p.w.blocks_per_row(), 3);
    EXPECT_EQ(p.w.row_groups(), 2);
    EXPECT_EQ(p.w.assignments8.size(), k <= 256 ? 2u * 3u * 16u : 0u);
    EXPECT_EQ(p.w.assignments16.size(), k <= 256 ? 0u : 2u * 3u * 16u);
    for (int64_t r = 0; r < 21; ++r) {
      for (int64_t b = 0; b < 3; ++b) {
        EXPECT_EQ(p.w.Assignment(r, b), p.assignments[r * 3 + b]);
        const size_t at = ((r / 16) * 3 + b) * 16 + r % 16;
        EXPECT_EQ(k <= 256 ? p.w.assignments8[at] : p.w.assignments16[at],
                  p.assignments[r * 3 + b]);
      }
    }
    // One codebook (k x 2 floats) and two groups of 16 rows x 3 indices.
    EXPECT_EQ(p.w.ResidentBytes(),
              sizeof(CodebookMatrix) + k * 2 * sizeof(float) + (k <= 256 ? 1 : 2) * 2 * 3 * 16);
  }
}

// Tests DecodeRows on a range of rows, and the 32-bit index overload.
TEST(CodebookMatrixTest, DecodesRows) {
  const std::vector<float> centroids = {1, 2, 3, 4, 5, 6};
  const std::vector<uint32_t> assignments = {0, 2, 1, 0, 2, 2};
  const CodebookMatrix w =
      MakeCodebookMatrix(3, 4, 2, centroids.data(), 6, assignments.data(), 6);
  std::vector<float> rows(8);
  DecodeRows(w, 1, 3, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{3, 4, 1, 2, 5, 6, 5, 6}));
  EXPECT_EQ(w.centroids_transposed, (std::vector<float>{1, 3, 5, 2, 4, 6}));
}

// Tests DecodeRows against the centroids and assignments it was built from, for every block
// size with a specialized copy and one without, 8- and 16-bit indices, with and without
// per-row scales, on rows that do not fill the last row group.
TEST(CodebookMatrixTest, DecodesEveryBlockSizeWithRowScales) {
  std::mt19937 rng(5);
  for (const int64_t block : {3, 4, 8, 9, 16}) {
    for (const int64_t k : {256, 300}) {
      const Problem p = MakeProblem(37, block, 5, k, 1, &rng);
      std::vector<float> row_scale(30);
      for (size_t i = 0; i < row_scale.size(); ++i) {
        row_scale[i] = 0.25f * static_cast<float>(i) - 2.0f;
      }
      std::vector<float> scaled(30 * p.cols);
      std::vector<float> plain(30 * p.cols);
      DecodeRows(p.w, 7, 37, row_scale.data(), scaled.data());
      DecodeRows(p.w, 7, 37, plain.data());
      for (int64_t r = 0; r < 30; ++r) {
        for (int64_t c = 0; c < p.cols; ++c) {
          const int64_t assignment = p.assignments[(r + 7) * (p.cols / block) + c / block];
          const float value = p.centroids[assignment * block + c % block];
          ASSERT_EQ(plain[r * p.cols + c], value) << p.Describe() << " row " << r + 7;
          ASSERT_EQ(scaled[r * p.cols + c], row_scale[r] * value)
              << p.Describe() << " row " << r + 7;
        }
      }
    }
  }
}

std::string BuildError(int64_t rows, int64_t cols, int64_t block,
                       const std::vector<float>& centroids,
                       const std::vector<int64_t>& assignments) {
  try {
    MakeCodebookMatrix(rows, cols, block, centroids.data(), centroids.size(),
                       assignments.data(), assignments.size());
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

// Tests that every inconsistency is refused with a message naming it.
TEST(CodebookMatrixTest, RefusesInvalidInput) {
  const std::vector<float> k3 = {1, 2, 3, 4, 5, 6};  // 3 centroids of 2.
  EXPECT_THAT(BuildError(0, 4, 2, k3, {}), HasSubstr("rows (0)"));
  EXPECT_THAT(BuildError(2, 4, 0, k3, {0, 0}), HasSubstr("must be positive"));
  EXPECT_THAT(BuildError(2, 5, 2, k3, {0, 0, 0, 0}), HasSubstr("block 2 does not divide cols 5"));
  EXPECT_THAT(BuildError(2, 4, 4, k3, {0, 0}), HasSubstr("6 centroid values"));
  EXPECT_THAT(BuildError(2, 4, 2, {}, {0, 0, 0, 0}), HasSubstr("0 centroid values"));
  EXPECT_THAT(BuildError(1, 1, 1, std::vector<float>(kMaxCentroids + 1), {0}),
              HasSubstr("k in 1..65536"));
  EXPECT_THAT(BuildError(2, 4, 2, k3, {0, 0, 0}), HasSubstr("3 assignments, expected"));
  EXPECT_THAT(BuildError(2, 4, 2, k3, {0, 1, 3, 0}), HasSubstr("assignment 2 is 3"));
  EXPECT_THAT(BuildError(2, 4, 2, k3, {0, -1, 2, 0}), HasSubstr("assignment 1 is -1"));
  const std::vector<uint32_t> too_large = {0, 70000};
  EXPECT_THROW(MakeCodebookMatrix(1, 4, 2, k3.data(), 6, too_large.data(), 2),
               std::invalid_argument);
}

}  // namespace
}  // namespace mc::runtime
