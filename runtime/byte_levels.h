// File: byte_levels.h
// Uniform levels whose width changes from one block of 8 or 16 columns to the next (DiffQ's
// learned widths per group, 1 to 16 bits), kept as bytes beside each block's width, with one
// affine map per width. The tile kernels of runtime/uniform_kernels.h need 32 columns of one
// width and map; rows whose width changes inside every tile fall to their block-by-block
// scalar code, several times slower than the float product. Here the activations are scaled
// once per call by the step of each width (x_w = scale(w) * x: 16 rows of x), so that a block of
// 8 levels costs one widening load and one fused multiply-add with x_w of its width, and its
// offset one multiply with the block's sum of x. Levels above 8 bits keep their low byte with
// the others and their high byte in a second plane for the rows that have such blocks, added at
// 256 times their step. The product is exact (float activations) in both of the runtime's
// activation modes.
//
// Errors: BuildByteLevels throws std::invalid_argument naming what is wrong, as
// runtime/blocked_levels.h does.
//
// Example:
//   if (MixesWidthsInTiles(rows, blocks_per_row, block, widths)) {
//     ByteLevels w = BuildByteLevels(rows, cols, block, levels, widths, affine_of_width);
//     const WidthScaledActivations xs = ScaleActivations(w, x, batch);
//     GemmByteLevels(w, xs, y, w.rows, 0, w.rows);
//   }
#ifndef MC_RUNTIME_BYTE_LEVELS_H_
#define MC_RUNTIME_BYTE_LEVELS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "runtime/blocked_levels.h"
#include "runtime/cpu_features.h"

namespace mc::runtime {

/// Columns per width entry of ByteLevels.
inline constexpr int kByteBlock = 8;

/// Widest level ByteLevels holds.
inline constexpr int kMaxByteLevelsWidth = 16;

/// W(r, c) = offset[width] + scale[width] * level(r, c), width = that of c's block of 8, and
/// level = low byte + 256 * high byte.
struct ByteLevels {
  int64_t rows = 0;
  int64_t cols = 0;
  /// ceil(cols / kByteBlock).
  int64_t blocks_per_row = 0;
  /// rows x blocks_per_row * kByteBlock low bytes of the levels, row-major; 0 past cols.
  std::vector<uint8_t> levels;
  /// rows x blocks_per_row widths, 1..16.
  std::vector<uint8_t> block_widths;
  /// The rows with a block wider than 8 bits, ascending, and their high bytes, one row of
  /// blocks_per_row * kByteBlock after another.
  std::vector<int64_t> high_rows;
  std::vector<uint8_t> high_levels;
  /// Affine map of each width 1..16 (index 0 unused).
  std::array<float, kMaxByteLevelsWidth + 1> offset{};
  std::array<float, kMaxByteLevelsWidth + 1> scale{};
  /// The offset of every width that occurs, when they are all one (min-max maps of one range,
  /// as DiffQ's): a row's offset term is then one product with the sum of x.
  std::optional<float> common_offset;

  int64_t padded_cols() const { return blocks_per_row * kByteBlock; }

  /// Bytes of the vectors and arrays above.
  size_t ResidentBytes() const;
};

/// Whether more than a quarter of the 32-column tiles of a matrix in blocks of `block` columns
/// (8 or 16; false for any other) with these widths (rows x blocks_per_row) mix widths: then
/// ByteLevels multiplies faster than BlockedLevels.
bool MixesWidthsInTiles(int64_t rows, int64_t blocks_per_row, int block, const uint8_t* widths);

/// ByteLevels of `levels` (rows x cols, row-major) whose blocks of `block` columns (8 or 16)
/// have `widths` (rows x ceil(cols / block), 1..16), with the affine map of each width that
/// occurs from affine_map(0, width).
/// \throws std::invalid_argument naming the problem if rows or cols is negative, block is not
///   8 or 16, a pointer needed is null, a width is outside 1..16, or a level does not fit its
///   block's width.
ByteLevels BuildByteLevels(int64_t rows, int64_t cols, int block, const uint16_t* levels,
                           const uint8_t* widths, const AffineMapOf& affine_map);

/// Writes rows [row_begin, row_end) as float32 to `out`, row r multiplied by
/// row_scale[r - row_begin] when row_scale is not null.
void DecodeRows(const ByteLevels& w, int64_t row_begin, int64_t row_end, const float* row_scale,
                float* out);

/// Activation rows scaled by the step of every width, and their sums per block of 8 and whole.
struct WidthScaledActivations {
  int64_t batch = 0;
  /// batch x (kMaxByteLevelsWidth + 1) x padded_cols: [k][width][c] = scale[width] * x[k][c]
  /// (0 past cols).
  std::vector<float> by_width;
  /// batch x blocks_per_row: the sum of x[k] over each block.
  std::vector<float> block_sums;
  /// batch: the sum of x[k].
  std::vector<float> row_sums;
};

/// `batch` rows of w.cols floats (row k at x + k * w.cols) prepared for GemmByteLevels.
WidthScaledActivations ScaleActivations(const ByteLevels& w, const float* x, int64_t batch);

/// y[k * y_stride + r] = sum_c x[k][c] * W(r, c) for r in [row_begin, row_end).
void GemmByteLevels(const ByteLevels& w, const WidthScaledActivations& xs, float* y,
                    int64_t y_stride, int64_t row_begin, int64_t row_end, Isa isa = ActiveIsa());

}  // namespace mc::runtime

#endif  // MC_RUNTIME_BYTE_LEVELS_H_
