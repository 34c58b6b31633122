// File: byte_levels.h
// Uniform levels whose width changes from one block of 8 or 16 columns to the next (DiffQ's
// learned widths per group), kept one byte per level beside each block's width, with one
// affine map per width. The tile kernels of runtime/uniform_kernels.h need 32 columns of one
// width and map; rows whose width changes inside every tile fall to their block-by-block
// scalar code, several times slower than the float product. Here the activations are scaled
// once per call by the step of each width (x_w = scale(w) * x: 8 rows of x), so that a block of
// 8 levels costs one widening load and one fused multiply-add with x_w of its width, and its
// offset one multiply with the block's sum of x. The product is exact (float activations) in
// both of the runtime's activation modes.
//
// Example:
//   if (PrefersByteLevels(blocked)) ByteLevels w = MakeByteLevels(blocked);
//   const WidthScaledActivations xs = ScaleActivations(w, x, batch);
//   GemmByteLevels(w, xs, y, w.rows, 0, w.rows);
#ifndef MC_RUNTIME_BYTE_LEVELS_H_
#define MC_RUNTIME_BYTE_LEVELS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/blocked_levels.h"
#include "runtime/cpu_features.h"

namespace mc::runtime {

/// Columns per width entry of ByteLevels.
inline constexpr int kByteBlock = 8;

/// W(r, c) = offset[width] + scale[width] * level(r, c), width = that of c's block of 8.
struct ByteLevels {
  int64_t rows = 0;
  int64_t cols = 0;
  /// ceil(cols / kByteBlock).
  int64_t blocks_per_row = 0;
  /// rows x blocks_per_row * kByteBlock levels, row-major; 0 past cols.
  std::vector<uint8_t> levels;
  /// rows x blocks_per_row widths, 1..8.
  std::vector<uint8_t> block_widths;
  /// Affine map of each width 1..8 (index 0 unused).
  std::array<float, kAffineStride> offset{};
  std::array<float, kAffineStride> scale{};

  int64_t padded_cols() const { return blocks_per_row * kByteBlock; }

  /// Bytes of the vectors and arrays above.
  size_t ResidentBytes() const;
};

/// Whether `w` runs faster as ByteLevels: one affine group, blocks of 8 or 16 columns, and
/// more than a quarter of its 32-column tiles mixing widths.
bool PrefersByteLevels(const BlockedLevels& w);

/// The same levels, widths and affine maps. Requires w.block of 8 or 16 and one affine group.
ByteLevels MakeByteLevels(const BlockedLevels& w);

/// Writes rows [row_begin, row_end) as float32 to `out`, row r multiplied by
/// row_scale[r - row_begin] when row_scale is not null.
void DecodeRows(const ByteLevels& w, int64_t row_begin, int64_t row_end, const float* row_scale,
                float* out);

/// Activation rows scaled by the step of every width, and their sums per block of 8.
struct WidthScaledActivations {
  int64_t batch = 0;
  /// batch x kAffineStride x padded_cols: [k][width][c] = scale[width] * x[k][c] (0 past cols).
  std::vector<float> by_width;
  /// batch x blocks_per_row: the sum of x[k] over each block.
  std::vector<float> block_sums;
};

/// `batch` rows of w.cols floats (row k at x + k * w.cols) prepared for GemmByteLevels.
WidthScaledActivations ScaleActivations(const ByteLevels& w, const float* x, int64_t batch);

/// y[k * y_stride + r] = sum_c x[k][c] * W(r, c) for r in [row_begin, row_end).
void GemmByteLevels(const ByteLevels& w, const WidthScaledActivations& xs, float* y,
                    int64_t y_stride, int64_t row_begin, int64_t row_end, Isa isa = ActiveIsa());

}  // namespace mc::runtime

#endif  // MC_RUNTIME_BYTE_LEVELS_H_
