// File: row_codes.h
// Weights that run only through the decode-a-tile path: any per-element code (a uniform level
// or a learned point's index) with (offset, scale) maps that may change in the middle of a row.
// This is where tensors land whose groups do not line up with the blocks of the fast kernels
// (runtime/blocked_levels.h), e.g. a 3x3 convolution on one input channel with DiffQ's groups
// of 16, and learned points. Codes stay bit-packed at their widest width, one row after
// another (each row starts on a byte).
//
// value(f) = affine_offset[a] + affine_scale[a] * CodeValue(code(f)) for the flat (row-major)
// index f, with a = group(f) * kAffineWidths + width(f), group(f) = f / group_size (0 when
// group_size is 0), width(f) = widths[f / width_group_size] (bits when widths is empty) and
// CodeValue(c) = code_values[c] (c itself when code_values is empty).
#ifndef MC_RUNTIME_ROW_CODES_H_
#define MC_RUNTIME_ROW_CODES_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mc::runtime {

/// Affine maps are indexed by (group, width): widths 0..16, so 17 per group.
inline constexpr int kAffineWidths = 17;

struct RowCodes {
  int64_t rows = 0;
  int64_t cols = 0;
  int code_bits = 0;                    ///< packing width of every code, 1..16
  int64_t row_bytes = 0;                ///< bytes of one packed row
  std::vector<uint8_t> packed;          ///< rows * row_bytes
  int bits = 0;                         ///< width of every element when `widths` is empty
  int64_t width_group_size = 0;         ///< elements sharing one entry of `widths`
  std::vector<uint8_t> widths;          ///< per width group, or empty
  int64_t group_size = 0;               ///< elements sharing one affine group; 0: one group
  std::vector<float> affine_offset;     ///< groups * kAffineWidths
  std::vector<float> affine_scale;      ///< groups * kAffineWidths
  std::vector<float> code_values;       ///< value of each code (learned points), or empty

  /// Bytes held by the vectors above.
  size_t ResidentBytes() const;
};

/// Packs `codes` (rows * cols, row-major, each below 2^code_bits) into `matrix.packed`, setting
/// code_bits, row_bytes and packed; the other fields are the caller's.
void PackRowCodes(const std::vector<uint16_t>& codes, int code_bits, RowCodes& matrix);

/// Writes rows [row_begin, row_end) as (row_end - row_begin) x cols floats to `out`.
void DecodeRows(const RowCodes& matrix, int64_t row_begin, int64_t row_end, float* out);

}  // namespace mc::runtime

#endif  // MC_RUNTIME_ROW_CODES_H_
