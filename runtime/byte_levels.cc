// File: byte_levels.cc
// ByteLevels from BlockedLevels, decoding, and its product: portable code and an AVX2 kernel
// (also taken on AVX-512 machines: a block is 8 floats, one AVX2 register).
#include "runtime/byte_levels.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mc::runtime {
namespace {

constexpr int kTileColumns = 32;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Whether the blocks [first, last) of `row` do not all have one width.
bool MixesWidths(const BlockedLevels& w, int64_t row, int64_t first, int64_t last) {
  for (int64_t b = first + 1; b < last; ++b) {
    if (w.BlockWidth(row, b) != w.BlockWidth(row, first)) return true;
  }
  return false;
}

void GemmScalar(const ByteLevels& w, const WidthScaledActivations& xs, float* y, int64_t y_stride,
                int64_t row_begin, int64_t row_end) {
  const int64_t padded = w.padded_cols();
  for (int64_t k = 0; k < xs.batch; ++k) {
    const float* x = xs.by_width.data() + k * kAffineStride * padded;
    const float* sums = xs.block_sums.data() + k * w.blocks_per_row;
    for (int64_t r = row_begin; r < row_end; ++r) {
      const uint8_t* levels = w.levels.data() + r * padded;
      const uint8_t* widths = w.block_widths.data() + r * w.blocks_per_row;
      float total = 0.0f;
      for (int64_t b = 0; b < w.blocks_per_row; ++b) {
        const float* xb = x + widths[b] * padded + b * kByteBlock;
        float dot = 0.0f;
        for (int i = 0; i < kByteBlock; ++i) dot += xb[i] * levels[b * kByteBlock + i];
        total += dot + w.offset[widths[b]] * sums[b];
      }
      y[k * y_stride + r] = total;
    }
  }
}

#if defined(__x86_64__)
#define MC_TARGET_AVX2 __attribute__((target("avx2,fma")))

MC_TARGET_AVX2 __m256 LevelsTimes(const uint8_t* levels, const float* x, __m256 acc) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(levels));
  const __m256 values = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
  return _mm256_fmadd_ps(values, _mm256_loadu_ps(x), acc);
}

MC_TARGET_AVX2 float HorizontalSum(__m256 v) {
  const __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 pairs = _mm_add_ps(half, _mm_movehl_ps(half, half));
  return _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehdup_ps(pairs)));
}

// Two accumulators over alternate blocks, so that consecutive multiply-adds do not wait for
// each other.
MC_TARGET_AVX2 void GemmAvx2(const ByteLevels& w, const WidthScaledActivations& xs, float* y,
                             int64_t y_stride, int64_t row_begin, int64_t row_end) {
  const int64_t padded = w.padded_cols();
  const int64_t blocks = w.blocks_per_row;
  for (int64_t k = 0; k < xs.batch; ++k) {
    const float* x = xs.by_width.data() + k * kAffineStride * padded;
    const float* sums = xs.block_sums.data() + k * blocks;
    for (int64_t r = row_begin; r < row_end; ++r) {
      const uint8_t* levels = w.levels.data() + r * padded;
      const uint8_t* widths = w.block_widths.data() + r * blocks;
      __m256 even = _mm256_setzero_ps();
      __m256 odd = _mm256_setzero_ps();
      float offsets = 0.0f;
      int64_t b = 0;
      for (; b + 1 < blocks; b += 2) {
        even = LevelsTimes(levels + b * kByteBlock, x + widths[b] * padded + b * kByteBlock, even);
        odd = LevelsTimes(levels + (b + 1) * kByteBlock,
                          x + widths[b + 1] * padded + (b + 1) * kByteBlock, odd);
        offsets += w.offset[widths[b]] * sums[b] + w.offset[widths[b + 1]] * sums[b + 1];
      }
      if (b < blocks) {
        even = LevelsTimes(levels + b * kByteBlock, x + widths[b] * padded + b * kByteBlock, even);
        offsets += w.offset[widths[b]] * sums[b];
      }
      y[k * y_stride + r] = HorizontalSum(_mm256_add_ps(even, odd)) + offsets;
    }
  }
}
#endif

}  // namespace

size_t ByteLevels::ResidentBytes() const {
  return levels.size() + block_widths.size() + (offset.size() + scale.size()) * sizeof(float);
}

bool PrefersByteLevels(const BlockedLevels& w) {
  if (w.block > 16 || !w.block_group.empty() || w.block_bits.empty()) return false;
  const int64_t blocks_per_tile = kTileColumns / w.block;
  int64_t tiles = 0;
  int64_t mixed = 0;
  for (int64_t r = 0; r < w.rows; ++r) {
    for (int64_t b = 0; b < w.blocks_per_row; b += blocks_per_tile) {
      ++tiles;
      mixed += MixesWidths(w, r, b, std::min(w.blocks_per_row, b + blocks_per_tile));
    }
  }
  return 4 * mixed > tiles;
}

ByteLevels MakeByteLevels(const BlockedLevels& w) {
  ByteLevels out;
  out.rows = w.rows;
  out.cols = w.cols;
  out.blocks_per_row = CeilDiv(w.cols, kByteBlock);
  const int64_t padded = out.padded_cols();
  out.levels.assign(w.rows * padded, 0);
  out.block_widths.assign(w.rows * out.blocks_per_row, 1);
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint8_t* bytes = w.packed.data() + w.row_offsets[r];
    for (int64_t b = 0; b < w.blocks_per_row; ++b) {
      const int width = w.BlockWidth(r, b);
      const int64_t first = b * w.block;
      const int count = static_cast<int>(std::min<int64_t>(w.block, w.cols - first));
      UnpackBlockLevels(bytes, ContainerBits(width), count, out.levels.data() + r * padded + first);
      std::fill_n(out.block_widths.begin() + r * out.blocks_per_row + first / kByteBlock,
                  CeilDiv(count, kByteBlock), static_cast<uint8_t>(width));
      bytes += w.block * ContainerBits(width) / 8;
    }
  }
  std::copy_n(w.affine_offset.begin(), kAffineStride, out.offset.begin());
  std::copy_n(w.affine_scale.begin(), kAffineStride, out.scale.begin());
  return out;
}

void DecodeRows(const ByteLevels& w, int64_t row_begin, int64_t row_end, const float* row_scale,
                float* out) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float multiplier = row_scale == nullptr ? 1.0f : row_scale[r - row_begin];
    const uint8_t* levels = w.levels.data() + r * w.padded_cols();
    const uint8_t* widths = w.block_widths.data() + r * w.blocks_per_row;
    float* out_row = out + (r - row_begin) * w.cols;
    for (int64_t c = 0; c < w.cols; ++c) {
      const int width = widths[c / kByteBlock];
      out_row[c] = multiplier * (w.offset[width] + w.scale[width] * levels[c]);
    }
  }
}

WidthScaledActivations ScaleActivations(const ByteLevels& w, const float* x, int64_t batch) {
  const int64_t padded = w.padded_cols();
  WidthScaledActivations xs;
  xs.batch = batch;
  xs.by_width.assign(batch * kAffineStride * padded, 0.0f);
  xs.block_sums.assign(batch * w.blocks_per_row, 0.0f);
  for (int64_t k = 0; k < batch; ++k) {
    const float* row = x + k * w.cols;
    for (int width = 1; width < kAffineStride; ++width) {
      float* scaled = xs.by_width.data() + (k * kAffineStride + width) * padded;
      for (int64_t c = 0; c < w.cols; ++c) scaled[c] = w.scale[width] * row[c];
    }
    float* sums = xs.block_sums.data() + k * w.blocks_per_row;
    for (int64_t c = 0; c < w.cols; ++c) sums[c / kByteBlock] += row[c];
  }
  return xs;
}

void GemmByteLevels(const ByteLevels& w, const WidthScaledActivations& xs, float* y,
                    int64_t y_stride, int64_t row_begin, int64_t row_end,
                    [[maybe_unused]] Isa isa) {
#if defined(__x86_64__)
  if (isa != Isa::kScalar) return GemmAvx2(w, xs, y, y_stride, row_begin, row_end);
#endif
  GemmScalar(w, xs, y, y_stride, row_begin, row_end);
}

}  // namespace mc::runtime
