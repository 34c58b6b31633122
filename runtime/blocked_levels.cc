// File: blocked_levels.cc
// Building, checking and decoding BlockedLevels and WideLevels.
#include "runtime/blocked_levels.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/level_checks.h"

namespace mc::runtime {
namespace {

constexpr LevelChecks kBlockedChecks("BlockedLevels");
constexpr LevelChecks kWideChecks("WideLevels");

[[noreturn]] void Fail(const std::string& message) { kBlockedChecks.Fail(message); }

int64_t BlockBytes(int block, int width) { return block * ContainerBits(width) / 8; }

void CheckShape(int64_t rows, int64_t cols, int block) {
  kBlockedChecks.Shape(rows, cols, block, {8, 16, 32});
}

void CheckWidth(int width, int64_t block_index) { kBlockedChecks.Width(width, 8, block_index); }

void CheckAffineTables(const std::vector<float>& affine_offset,
                       const std::vector<float>& affine_scale) {
  if (affine_offset.size() != affine_scale.size()) {
    Fail("affine_offset has " + std::to_string(affine_offset.size()) +
         " entries but affine_scale has " + std::to_string(affine_scale.size()));
  }
  if (affine_offset.empty() || affine_offset.size() % kAffineStride != 0) {
    Fail("affine tables must hold a positive multiple of 9 entries, got " +
         std::to_string(affine_offset.size()));
  }
}

void CheckGroup(uint32_t group, size_t table_size, int64_t block_index) {
  if (group >= table_size / kAffineStride) {
    Fail("group " + std::to_string(group) + " of block " + std::to_string(block_index) +
         " has no entry in the affine tables (" + std::to_string(table_size / kAffineStride) +
         " groups)");
  }
}

// Appends row `row` of `levels` packed block by block at the container of each block's width.
void PackRow(const uint8_t* row_levels, const uint8_t* row_widths, int64_t row, int64_t cols,
             int block, std::vector<uint8_t>* packed) {
  const int64_t blocks = (cols + block - 1) / block;
  for (int64_t b = 0; b < blocks; ++b) {
    const int width = row_widths[b];
    const int container = ContainerBits(width);
    const size_t start = packed->size();
    packed->resize(start + BlockBytes(block, width), 0);
    const int64_t count = std::min<int64_t>(block, cols - b * block);
    for (int64_t i = 0; i < count; ++i) {
      const int level = row_levels[b * block + i];
      kBlockedChecks.Level(level, width, row, b * block + i);
      const int64_t bit = i * container;
      (*packed)[start + bit / 8] |= static_cast<uint8_t>(level << (bit % 8));
    }
  }
}

// Writes offset + scale * level for the first `count` levels of one block packed at
// kContainer bits.
template <int kContainer>
void DecodePartialBlock(const uint8_t* bytes, int count, float offset, float scale, float* out) {
  constexpr int kPerByte = 8 / kContainer;
  constexpr unsigned kMask = (1u << kContainer) - 1;
  for (int i = 0; i < count; ++i) {
    const unsigned level = (bytes[i / kPerByte] >> (i % kPerByte * kContainer)) & kMask;
    out[i] = offset + scale * static_cast<float>(level);
  }
}

// The same for a whole block of kBlock levels: with both sizes known at compile time the
// loop unrolls and vectorizes.
template <int kContainer, int kBlock>
void DecodeWholeBlock(const uint8_t* bytes, float offset, float scale, float* out) {
  constexpr int kPerByte = 8 / kContainer;
  constexpr unsigned kMask = (1u << kContainer) - 1;
  for (int byte = 0; byte < kBlock / kPerByte; ++byte) {
    for (int j = 0; j < kPerByte; ++j) {
      const unsigned level = (static_cast<unsigned>(bytes[byte]) >> (j * kContainer)) & kMask;
      out[byte * kPerByte + j] = offset + scale * static_cast<float>(level);
    }
  }
}

template <int kContainer>
void DecodeBlock(const uint8_t* bytes, int block, int count, float offset, float scale,
                 float* out) {
  if (count < block) return DecodePartialBlock<kContainer>(bytes, count, offset, scale, out);
  switch (block) {
    case 8: return DecodeWholeBlock<kContainer, 8>(bytes, offset, scale, out);
    case 16: return DecodeWholeBlock<kContainer, 16>(bytes, offset, scale, out);
    default: return DecodeWholeBlock<kContainer, 32>(bytes, offset, scale, out);
  }
}

bool AllEqual(const uint8_t* values, int64_t count) {
  return std::all_of(values, values + count, [&](uint8_t v) { return v == values[0]; });
}

// Bits that a WideLevels' low plane keeps of every level.
constexpr int kLowBits = 8;

// One block of a WideLevels: its width and affine group in each plane. Blocks wider than
// kLowBits get an affine group of their own per (input group, width) in both planes, since
// their low bits are scaled by their width's step and not by the group's 8-bit one.
struct WideBlocks {
  std::vector<uint8_t> low_widths, high_widths;
  std::vector<uint32_t> low_groups, high_groups;
  std::vector<std::pair<uint32_t, int>> wide_pairs;  // (input group, width) of each extra group
};

WideBlocks SplitBlocks(int64_t num_blocks, const uint8_t* widths, const uint32_t* groups,
                       uint32_t num_groups) {
  WideBlocks split;
  std::map<std::pair<uint32_t, int>, uint32_t> pair_index;
  for (int64_t i = 0; i < num_blocks; ++i) {
    const int width = widths[i];
    const uint32_t group = groups == nullptr ? 0 : groups[i];
    kWideChecks.Width(width, 2 * kLowBits, i);
    if (group >= num_groups) {
      kWideChecks.Fail("group " + std::to_string(group) + " of block " + std::to_string(i) +
                       " is not below " + std::to_string(num_groups));
    }
    if (width <= kLowBits) {
      split.low_widths.push_back(static_cast<uint8_t>(width));
      split.low_groups.push_back(group);
      split.high_widths.push_back(1);  // level 0 in the zero group
      split.high_groups.push_back(0);
      continue;
    }
    const auto [it, added] = pair_index.emplace(std::make_pair(group, width), pair_index.size());
    if (added) split.wide_pairs.push_back(it->first);
    split.low_widths.push_back(kLowBits);
    split.low_groups.push_back(num_groups + it->second);
    split.high_widths.push_back(static_cast<uint8_t>(width - kLowBits));
    split.high_groups.push_back(1 + it->second);
  }
  return split;
}

}  // namespace

size_t BlockedLevels::ResidentBytes() const {
  return block_bits.size() * sizeof(uint8_t) + block_group.size() * sizeof(uint32_t) +
         (affine_offset.size() + affine_scale.size()) * sizeof(float) +
         packed.size() * sizeof(uint8_t) + row_offsets.size() * sizeof(int64_t);
}

BlockedLevels BuildBlockedLevels(int64_t rows, int64_t cols, int block, const uint8_t* levels,
                                 const uint8_t* widths, const uint32_t* groups,
                                 std::vector<float> affine_offset,
                                 std::vector<float> affine_scale) {
  CheckShape(rows, cols, block);
  CheckAffineTables(affine_offset, affine_scale);
  BlockedLevels w;
  w.rows = rows;
  w.cols = cols;
  w.block = block;
  w.blocks_per_row = (cols + block - 1) / block;
  const int64_t num_blocks = rows * w.blocks_per_row;
  kBlockedChecks.Inputs(num_blocks, levels, widths);
  for (int64_t i = 0; i < num_blocks; ++i) {
    CheckWidth(widths[i], i);
    if (groups != nullptr) CheckGroup(groups[i], affine_offset.size(), i);
  }
  w.row_offsets.reserve(rows + 1);
  w.row_offsets.push_back(0);
  for (int64_t r = 0; r < rows; ++r) {
    PackRow(levels + r * cols, widths + r * w.blocks_per_row, r, cols, block, &w.packed);
    w.row_offsets.push_back(static_cast<int64_t>(w.packed.size()));
  }
  if (num_blocks > 0 && AllEqual(widths, num_blocks)) {
    w.bits = widths[0];
  } else if (num_blocks == 0) {
    w.bits = 8;
  } else {
    w.block_bits.assign(widths, widths + num_blocks);
  }
  if (groups != nullptr && std::any_of(groups, groups + num_blocks, [](uint32_t g) { return g; })) {
    w.block_group.assign(groups, groups + num_blocks);
  }
  w.affine_offset = std::move(affine_offset);
  w.affine_scale = std::move(affine_scale);
  return w;
}

void ValidateBlockedLevels(const BlockedLevels& w) {
  CheckShape(w.rows, w.cols, w.block);
  if (w.blocks_per_row != (w.cols + w.block - 1) / w.block) {
    Fail("blocks_per_row is " + std::to_string(w.blocks_per_row) + ", expected ceil(cols / " +
         std::to_string(w.block) + ")");
  }
  const int64_t num_blocks = w.rows * w.blocks_per_row;
  if (w.block_bits.empty()) CheckWidth(w.bits, 0);
  if (!w.block_bits.empty() && static_cast<int64_t>(w.block_bits.size()) != num_blocks) {
    Fail("block_bits has " + std::to_string(w.block_bits.size()) + " entries, expected " +
         std::to_string(num_blocks));
  }
  if (!w.block_group.empty() && static_cast<int64_t>(w.block_group.size()) != num_blocks) {
    Fail("block_group has " + std::to_string(w.block_group.size()) + " entries, expected " +
         std::to_string(num_blocks));
  }
  CheckAffineTables(w.affine_offset, w.affine_scale);
  if (static_cast<int64_t>(w.row_offsets.size()) != w.rows + 1 || w.row_offsets[0] != 0) {
    Fail("row_offsets must hold rows + 1 entries starting at 0");
  }
  uint8_t levels[32];
  for (int64_t r = 0; r < w.rows; ++r) {
    int64_t offset = w.row_offsets[r];
    for (int64_t b = 0; b < w.blocks_per_row; ++b) {
      const int width = w.BlockWidth(r, b);
      CheckWidth(width, r * w.blocks_per_row + b);
      if (!w.block_group.empty()) {
        CheckGroup(w.block_group[r * w.blocks_per_row + b], w.affine_offset.size(),
                   r * w.blocks_per_row + b);
      }
      if (offset + BlockBytes(w.block, width) > static_cast<int64_t>(w.packed.size())) {
        Fail("packed is too short for row " + std::to_string(r));
      }
      UnpackBlockLevels(w.packed.data() + offset, ContainerBits(width), w.block, levels);
      for (int i = 0; i < w.block; ++i) {
        kBlockedChecks.Level(levels[i], width, r, b * w.block + i);
      }
      offset += BlockBytes(w.block, width);
    }
    if (w.row_offsets[r + 1] != offset) {
      Fail("row_offsets[" + std::to_string(r + 1) + "] is " + std::to_string(w.row_offsets[r + 1]) +
           ", expected " + std::to_string(offset));
    }
  }
  if (w.row_offsets.back() != static_cast<int64_t>(w.packed.size())) {
    Fail("packed has " + std::to_string(w.packed.size()) + " bytes, expected " +
         std::to_string(w.row_offsets.back()));
  }
}

void DecodeRows(const BlockedLevels& w, int64_t row_begin, int64_t row_end,
                const float* row_scale, float* out) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* bytes = w.packed.data() + w.row_offsets[r];
    float* out_row = out + (r - row_begin) * w.cols;
    const float multiplier = row_scale == nullptr ? 1.0f : row_scale[r - row_begin];
    for (int64_t b = 0; b < w.blocks_per_row; ++b) {
      const int width = w.BlockWidth(r, b);
      const int64_t affine = w.AffineIndex(r, b);
      const float offset = multiplier * w.affine_offset[affine];
      const float scale = multiplier * w.affine_scale[affine];
      const int count = static_cast<int>(std::min<int64_t>(w.block, w.cols - b * w.block));
      float* out_block = out_row + b * w.block;
      switch (ContainerBits(width)) {
        case 1: DecodeBlock<1>(bytes, w.block, count, offset, scale, out_block); break;
        case 2: DecodeBlock<2>(bytes, w.block, count, offset, scale, out_block); break;
        case 4: DecodeBlock<4>(bytes, w.block, count, offset, scale, out_block); break;
        default: DecodeBlock<8>(bytes, w.block, count, offset, scale, out_block); break;
      }
      bytes += BlockBytes(w.block, width);
    }
  }
}

void DecodeRows(const BlockedLevels& w, int64_t row_begin, int64_t row_end, float* out) {
  DecodeRows(w, row_begin, row_end, /*row_scale=*/nullptr, out);
}

size_t WideLevels::ResidentBytes() const {
  return low.ResidentBytes() + high.ResidentBytes() + high_rows.size() * sizeof(int64_t);
}

WideLevels BuildWideLevels(int64_t rows, int64_t cols, int block, const uint16_t* levels,
                           const uint8_t* widths, const uint32_t* groups, uint32_t num_groups,
                           const AffineMapOf& affine_map) {
  kWideChecks.Shape(rows, cols, block, {8, 16, 32});
  const int64_t blocks_per_row = (cols + block - 1) / block;
  const int64_t num_blocks = rows * blocks_per_row;
  kWideChecks.Inputs(num_blocks, levels, widths);
  const WideBlocks split = SplitBlocks(num_blocks, widths, groups, num_groups);
  const size_t num_pairs = split.wide_pairs.size();

  std::vector<float> low_offset((num_groups + num_pairs) * kAffineStride, 0.0f);
  std::vector<float> low_scale(low_offset.size(), 0.0f);
  for (uint32_t group = 0; group < num_groups; ++group) {
    for (int width = 1; width <= kLowBits; ++width) {
      const size_t index = group * kAffineStride + width;
      std::tie(low_offset[index], low_scale[index]) = affine_map(group, width);
    }
  }
  std::vector<float> high_offset((1 + num_pairs) * kAffineStride, 0.0f);
  std::vector<float> high_scale(high_offset.size(), 0.0f);
  for (size_t k = 0; k < num_pairs; ++k) {
    const auto [group, width] = split.wide_pairs[k];
    const auto [offset, scale] = affine_map(group, width);
    low_offset[(num_groups + k) * kAffineStride + kLowBits] = offset;
    low_scale[(num_groups + k) * kAffineStride + kLowBits] = scale;
    high_scale[(1 + k) * kAffineStride + width - kLowBits] = scale * (1 << kLowBits);
  }

  std::vector<uint8_t> low_levels(rows * cols);
  std::vector<uint8_t> high_levels;
  std::vector<uint8_t> high_widths;
  std::vector<uint32_t> high_groups;
  WideLevels w;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t first_block = r * blocks_per_row;
    bool wide_row = false;
    for (int64_t c = 0; c < cols; ++c) {
      const int width = widths[first_block + c / block];
      const int level = levels[r * cols + c];
      kWideChecks.Level(level, width, r, c);
      low_levels[r * cols + c] = static_cast<uint8_t>(level & ((1 << kLowBits) - 1));
      wide_row = wide_row || width > kLowBits;
    }
    if (!wide_row) continue;
    w.high_rows.push_back(r);
    for (int64_t c = 0; c < cols; ++c) {
      high_levels.push_back(static_cast<uint8_t>(levels[r * cols + c] >> kLowBits));
    }
    high_widths.insert(high_widths.end(), split.high_widths.begin() + first_block,
                       split.high_widths.begin() + first_block + blocks_per_row);
    high_groups.insert(high_groups.end(), split.high_groups.begin() + first_block,
                       split.high_groups.begin() + first_block + blocks_per_row);
  }
  w.low = BuildBlockedLevels(rows, cols, block, low_levels.data(), split.low_widths.data(),
                             split.low_groups.data(), std::move(low_offset), std::move(low_scale));
  w.high = BuildBlockedLevels(static_cast<int64_t>(w.high_rows.size()), cols, block,
                              high_levels.data(), high_widths.data(), high_groups.data(),
                              std::move(high_offset), std::move(high_scale));
  return w;
}

void DecodeRows(const WideLevels& w, int64_t row_begin, int64_t row_end, const float* row_scale,
                float* out) {
  DecodeRows(w.low, row_begin, row_end, row_scale, out);
  std::vector<float> high_row(w.high.cols);
  const auto first = std::lower_bound(w.high_rows.begin(), w.high_rows.end(), row_begin);
  for (auto it = first; it != w.high_rows.end() && *it < row_end; ++it) {
    const int64_t i = it - w.high_rows.begin();
    DecodeRows(w.high, i, i + 1, row_scale == nullptr ? nullptr : row_scale + (*it - row_begin),
               high_row.data());
    float* out_row = out + (*it - row_begin) * w.low.cols;
    for (int64_t c = 0; c < w.low.cols; ++c) out_row[c] += high_row[c];
  }
}

void UnpackBlockLevels(const uint8_t* bytes, int container, int count, uint8_t* levels) {
  const int mask = (1 << container) - 1;
  for (int i = 0; i < count; ++i) {
    const int bit = i * container;
    levels[i] = static_cast<uint8_t>((bytes[bit / 8] >> (bit % 8)) & mask);
  }
}

}  // namespace mc::runtime
