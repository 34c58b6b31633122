// File: blocked_levels.h
// A weight matrix of uniform integer levels kept in its stored low-bit encoding, in blocks of
// 8, 16 or 32 columns that each carry their own width (1..8 bits) and affine map, so that the
// kernels of runtime/uniform_kernels.h multiply by it without decoding it to float.
//
// Levels are packed per block at a power-of-two container width (1, 2, 4 or 8 bits): a block
// never straddles a byte, a row's blocks follow each other, and SIMD code unpacks a block
// with a few shifts and masks.
//
// Errors: BuildBlockedLevels and ValidateBlockedLevels throw std::invalid_argument with a
// message naming what is wrong (as runtime/codebook_matrix.h does); the loader turns it into
// an absl::Status.
//
// Example:
//   BlockedLevels w = BuildBlockedLevels(rows, cols, /*block=*/32, levels.data(),
//                                        widths.data(), /*groups=*/nullptr,
//                                        {offsets...}, {scales...});
//   std::vector<float> tile(16 * w.cols);
//   DecodeRows(w, 0, 16, tile.data());  // rows 0..15 as floats
#ifndef MC_RUNTIME_BLOCKED_LEVELS_H_
#define MC_RUNTIME_BLOCKED_LEVELS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace mc::runtime {

/// Entries per affine group in BlockedLevels::affine_offset and affine_scale: one per width
/// 1..8, index 0 unused.
inline constexpr int kAffineStride = 9;

/// Bits of the container that stores levels of `width` bits (1..8): 1 -> 1, 2 -> 2, 3..4 -> 4,
/// 5..8 -> 8. A table lookup: with per-block widths, branches would be mispredicted.
inline int ContainerBits(int width) {
  static constexpr uint8_t kContainerBits[9] = {0, 1, 2, 4, 4, 8, 8, 8, 8};
  return kContainerBits[width];
}

/// A rows x cols weight matrix W (rows = output features, cols = input features) with
/// W(r, c) = offset + scale * level(r, c), where the level is unsigned and below 2^width, and
/// width and (offset, scale) are those of the block of `block` columns holding column c.
struct BlockedLevels {
  int64_t rows = 0;
  int64_t cols = 0;
  /// Columns per block: 8, 16 or 32.
  int block = 32;
  /// ceil(cols / block); the last block of a row is padded with level 0.
  int64_t blocks_per_row = 0;
  /// Width of every block when block_bits is empty.
  int bits = 0;
  /// rows * blocks_per_row true widths (1..8), row-major, or empty.
  std::vector<uint8_t> block_bits;
  /// rows * blocks_per_row affine-group indices, row-major, or empty (all group 0).
  std::vector<uint32_t> block_group;
  /// Affine maps indexed [group * kAffineStride + width]: a block's value is
  /// affine_offset[i] + affine_scale[i] * level.
  std::vector<float> affine_offset;
  std::vector<float> affine_scale;
  /// Levels, row after row, block after block; a block's `block` levels are packed LSB-first
  /// at its container width (ContainerBits), so a block takes block * container / 8 bytes.
  std::vector<uint8_t> packed;
  /// rows + 1 byte offsets into packed: row r's blocks start at row_offsets[r].
  std::vector<int64_t> row_offsets;

  /// Columns including the padding of the last block: blocks_per_row * block.
  int64_t padded_cols() const { return blocks_per_row * block; }

  /// True width of block `block_index` of `row`.
  int BlockWidth(int64_t row, int64_t block_index) const {
    return block_bits.empty() ? bits : block_bits[row * blocks_per_row + block_index];
  }

  /// Index into affine_offset and affine_scale of block `block_index` of `row`.
  int64_t AffineIndex(int64_t row, int64_t block_index) const {
    const int64_t group = block_group.empty() ? 0 : block_group[row * blocks_per_row + block_index];
    return group * kAffineStride + BlockWidth(row, block_index);
  }

  /// Bytes of all the vectors above.
  size_t ResidentBytes() const;
};

/// Builds a BlockedLevels from `levels` (rows x cols, row-major), `widths` (the true width of
/// each block, rows x ceil(cols / block), row-major), `groups` (each block's affine group,
/// same shape, or nullptr for group 0 everywhere) and the affine tables (indexed as in
/// BlockedLevels). Stores `bits` instead of block_bits when all widths are equal, and leaves
/// block_group empty when every group is 0.
/// \throws std::invalid_argument naming the problem if rows or cols is negative, block is not
///   8, 16 or 32, a pointer needed is null, a width is outside 1..8, a level does not fit its
///   block's width, the affine tables differ in size or are not a positive multiple of
///   kAffineStride, or a group has no entry in them.
BlockedLevels BuildBlockedLevels(int64_t rows, int64_t cols, int block, const uint8_t* levels,
                                 const uint8_t* widths, const uint32_t* groups,
                                 std::vector<float> affine_offset, std::vector<float> affine_scale);

/// Checks that `w` is consistent, for a BlockedLevels filled in directly: shapes and sizes of
/// every vector, widths, groups, row offsets, and every packed level below 2^width (a full
/// scan of `packed`).
/// \throws std::invalid_argument naming the first problem found.
void ValidateBlockedLevels(const BlockedLevels& w);

/// Writes rows [row_begin, row_end) of W, row-major, to `out`: (row_end - row_begin) x cols
/// floats, each offset + scale * level. Requires 0 <= row_begin <= row_end <= w.rows.
void DecodeRows(const BlockedLevels& w, int64_t row_begin, int64_t row_end, float* out);

/// The same with row r multiplied by row_scale[r - row_begin] (a BatchNorm folded into the
/// weight as it is decoded), or by 1 where row_scale is null.
void DecodeRows(const BlockedLevels& w, int64_t row_begin, int64_t row_end,
                const float* row_scale, float* out);

/// Uniform levels of up to 16 bits (DiffQ's widths reach 15) as the sum of two planes of blocked
/// levels, so that the kernels of runtime/uniform_kernels.h run them too: W = low + high.
/// `low` holds every block with the low 8 bits of its levels (a block of at most 8 bits as it
/// is); `high` holds, for the rows in high_rows only, the bits above the low 8 of their wider
/// blocks at 256 times those blocks' scale, and their other blocks at level 0 and scale 0.
struct WideLevels {
  BlockedLevels low;
  BlockedLevels high;
  /// Row i of `high` adds to row high_rows[i] of W; ascending.
  std::vector<int64_t> high_rows;

  /// Bytes of both planes and high_rows.
  size_t ResidentBytes() const;
};

/// The (offset, scale) of affine group `group` at `width` bits: value = offset + scale * level.
using AffineMapOf = std::function<std::pair<float, float>(uint32_t group, int width)>;

/// Builds a WideLevels as BuildBlockedLevels builds a BlockedLevels, from `levels` below
/// 2^16, `widths` of 1..16 bits, `groups` (or nullptr) below `num_groups`, and the affine map
/// of every (group, width) that occurs.
/// \throws std::invalid_argument naming the problem, as BuildBlockedLevels does (widths
///   outside 1..16).
WideLevels BuildWideLevels(int64_t rows, int64_t cols, int block, const uint16_t* levels,
                           const uint8_t* widths, const uint32_t* groups, uint32_t num_groups,
                           const AffineMapOf& affine_map);

/// DecodeRows of W = low + high, as for BlockedLevels.
void DecodeRows(const WideLevels& w, int64_t row_begin, int64_t row_end, const float* row_scale,
                float* out);

/// Unpacks `count` levels of one block (count <= block) stored LSB-first at `container` bits
/// from `bytes` into `levels`.
void UnpackBlockLevels(const uint8_t* bytes, int container, int count, uint8_t* levels);

}  // namespace mc::runtime

#endif  // MC_RUNTIME_BLOCKED_LEVELS_H_
