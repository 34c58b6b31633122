// File: weight_matrix.h
// A layer's weight as the runtime keeps it in memory: in the form of its stored encoding,
// viewed as a matrix of `rows` outputs (output features or channels) by `cols` inputs per
// output (in_features, or in_channels / groups * kh * kw in that order). Multiply computes
// straight from that form with the encoding's kernels; DecodeRows gives float32 tiles to the
// paths that want them (a convolution library call, large batches).
//
// Example:
//   MC_ASSIGN_OR_RETURN(WeightMatrix weight, LoadWeightMatrix(stored_tensor));
//   weight.Multiply(x, batch, y, Activations::kInt8);  // y (batch x rows) = x (batch x cols) W^T
#ifndef MC_RUNTIME_WEIGHT_MATRIX_H_
#define MC_RUNTIME_WEIGHT_MATRIX_H_

#include <cstddef>
#include <cstdint>
#include <variant>
#include <vector>

#include "runtime/blocked_levels.h"
#include "runtime/byte_levels.h"
#include "runtime/codebook_matrix.h"
#include "runtime/row_codes.h"

namespace mc::runtime {

/// How activations enter the integer kernels: kFloat keeps them in float32 (exact: the same
/// results as the decoded weights, up to float rounding); kInt8 quantizes them per block of 32
/// to int8 on the fly (faster; weights stay exact).
enum class Activations { kFloat, kInt8 };

/// Weights kept as float32 (layers a method left unquantized).
struct DenseMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> values;  ///< rows x cols, row-major
};

using WeightStorage =
    std::variant<DenseMatrix, BlockedLevels, WideLevels, ByteLevels, CodebookMatrix, RowCodes>;

class WeightMatrix {
 public:
  explicit WeightMatrix(WeightStorage storage);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }

  /// Bytes the weight occupies in memory.
  size_t ResidentBytes() const;

  /// "float", "uniform" (blocked integer levels), "wide uniform" (two planes of them),
  /// "uniform bytes" (a byte per level), "codebook" or "codes" (decoded by tiles).
  const char* FormName() const;

  /// Writes rows [row_begin, row_end) as float32, (row_end - row_begin) x cols, to `out`,
  /// row r multiplied by row_scale[r - row_begin] when row_scale is not null (a BatchNorm
  /// folded into the weight; uniform levels and codebooks apply it as they decode).
  void DecodeRows(int64_t row_begin, int64_t row_end, float* out,
                  const float* row_scale = nullptr) const;

  /// y (batch x rows, row-major) = x (batch x cols, row-major) W^T, output rows split over
  /// ATen's intra-op threads. The float result does not depend on the number of threads.
  void Multiply(const float* x, int64_t batch, float* y, Activations activations) const;

 private:
  WeightStorage storage_;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
};

}  // namespace mc::runtime

#endif  // MC_RUNTIME_WEIGHT_MATRIX_H_
