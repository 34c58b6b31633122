// File: byte_levels.cc
// Building and decoding ByteLevels, and its product: portable code and an AVX2 kernel
// (also taken on AVX-512 machines: a block is 8 floats, one AVX2 register).
#include "runtime/byte_levels.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <tuple>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "runtime/level_checks.h"

namespace mc::runtime {
namespace {

constexpr int kTileColumns = 32;
constexpr float kHighByteWeight = 256.0f;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

constexpr LevelChecks kChecks("ByteLevels");

// sum over the row's blocks b and i < 8 of bytes[8b + i] * x[widths[b] * padded + 8b + i]:
// one row of levels against the activations scaled for each block's width.
using RowDotFn = float (*)(const uint8_t* bytes, const uint8_t* widths, int64_t blocks,
                           const float* x, int64_t padded);

float RowDotScalar(const uint8_t* bytes, const uint8_t* widths, int64_t blocks, const float* x,
                   int64_t padded) {
  float total = 0.0f;
  for (int64_t b = 0; b < blocks; ++b) {
    const float* xb = x + widths[b] * padded + b * kByteBlock;
    float dot = 0.0f;
    for (int i = 0; i < kByteBlock; ++i) dot += xb[i] * bytes[b * kByteBlock + i];
    total += dot;
  }
  return total;
}

#if defined(__x86_64__)
#define MC_TARGET_AVX2 __attribute__((target("avx2,fma")))

MC_TARGET_AVX2 __m256 BytesTimes(const uint8_t* bytes, const float* x, __m256 acc) {
  const __m128i packed = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes));
  const __m256 values = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(packed));
  return _mm256_fmadd_ps(values, _mm256_loadu_ps(x), acc);
}

MC_TARGET_AVX2 float HorizontalSum(__m256 v) {
  const __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 pairs = _mm_add_ps(half, _mm_movehl_ps(half, half));
  return _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehdup_ps(pairs)));
}

// Two accumulators over alternate blocks, so that consecutive multiply-adds do not wait for
// each other.
MC_TARGET_AVX2 float RowDotAvx2(const uint8_t* bytes, const uint8_t* widths, int64_t blocks,
                                const float* x, int64_t padded) {
  __m256 even = _mm256_setzero_ps();
  __m256 odd = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 1 < blocks; b += 2) {
    even = BytesTimes(bytes + b * kByteBlock, x + widths[b] * padded + b * kByteBlock, even);
    odd = BytesTimes(bytes + (b + 1) * kByteBlock,
                     x + widths[b + 1] * padded + (b + 1) * kByteBlock, odd);
  }
  if (b < blocks) {
    even = BytesTimes(bytes + b * kByteBlock, x + widths[b] * padded + b * kByteBlock, even);
  }
  return HorizontalSum(_mm256_add_ps(even, odd));
}
#endif

void Gemm(const ByteLevels& w, const WidthScaledActivations& xs, float* y, int64_t y_stride,
          int64_t row_begin, int64_t row_end, RowDotFn row_dot) {
  const int64_t padded = w.padded_cols();
  const int64_t blocks = w.blocks_per_row;
  const auto first_high = std::lower_bound(w.high_rows.begin(), w.high_rows.end(), row_begin);
  for (int64_t k = 0; k < xs.batch; ++k) {
    const float* x = xs.by_width.data() + k * (kMaxByteLevelsWidth + 1) * padded;
    const float* sums = xs.block_sums.data() + k * blocks;
    auto high = first_high;
    for (int64_t r = row_begin; r < row_end; ++r) {
      const uint8_t* widths = w.block_widths.data() + r * blocks;
      float total = row_dot(w.levels.data() + r * padded, widths, blocks, x, padded);
      if (w.common_offset) {
        total += *w.common_offset * xs.row_sums[k];
      } else {
        for (int64_t b = 0; b < blocks; ++b) total += w.offset[widths[b]] * sums[b];
      }
      if (high != w.high_rows.end() && *high == r) {
        const uint8_t* high_bytes = w.high_levels.data() + (high - w.high_rows.begin()) * padded;
        total += kHighByteWeight * row_dot(high_bytes, widths, blocks, x, padded);
        ++high;
      }
      y[k * y_stride + r] = total;
    }
  }
}

void CheckInputs(int64_t rows, int64_t cols, int block, const uint16_t* levels,
                 const uint8_t* widths) {
  kChecks.Shape(rows, cols, block, {8, 16});
  const int64_t num_blocks = rows * CeilDiv(cols, block);
  kChecks.Inputs(num_blocks, levels, widths);
  for (int64_t i = 0; i < num_blocks; ++i) kChecks.Width(widths[i], kMaxByteLevelsWidth, i);
}

}  // namespace

size_t ByteLevels::ResidentBytes() const {
  return levels.size() + block_widths.size() + high_rows.size() * sizeof(int64_t) +
         high_levels.size() + (offset.size() + scale.size()) * sizeof(float);
}

bool MixesWidthsInTiles(int64_t rows, int64_t blocks_per_row, int block, const uint8_t* widths) {
  if (block != 8 && block != 16) return false;
  const int64_t blocks_per_tile = kTileColumns / block;
  int64_t tiles = 0;
  int64_t mixed = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = widths + r * blocks_per_row;
    for (int64_t b = 0; b < blocks_per_row; b += blocks_per_tile) {
      const uint8_t* end = row + std::min(blocks_per_row, b + blocks_per_tile);
      ++tiles;
      mixed += std::any_of(row + b, end, [&](uint8_t width) { return width != row[b]; });
    }
  }
  return 4 * mixed > tiles;
}

ByteLevels BuildByteLevels(int64_t rows, int64_t cols, int block, const uint16_t* levels,
                           const uint8_t* widths, const AffineMapOf& affine_map) {
  CheckInputs(rows, cols, block, levels, widths);
  ByteLevels out;
  out.rows = rows;
  out.cols = cols;
  out.blocks_per_row = CeilDiv(cols, kByteBlock);
  const int64_t padded = out.padded_cols();
  const int64_t blocks_per_row = CeilDiv(cols, block);
  out.levels.assign(rows * padded, 0);
  out.block_widths.assign(rows * out.blocks_per_row, 1);
  std::vector<bool> used(kMaxByteLevelsWidth + 1, false);
  for (int64_t r = 0; r < rows; ++r) {
    bool wide = false;
    for (int64_t c = 0; c < cols; ++c) {
      const int width = widths[r * blocks_per_row + c / block];
      const int level = levels[r * cols + c];
      kChecks.Level(level, width, r, c);
      out.levels[r * padded + c] = static_cast<uint8_t>(level & 0xff);
      out.block_widths[r * out.blocks_per_row + c / kByteBlock] = static_cast<uint8_t>(width);
      used[width] = true;
      wide = wide || width > 8;
    }
    if (!wide) continue;
    out.high_rows.push_back(r);
    out.high_levels.resize(out.high_levels.size() + padded, 0);
    uint8_t* high = out.high_levels.data() + out.high_levels.size() - padded;
    for (int64_t c = 0; c < cols; ++c) high[c] = static_cast<uint8_t>(levels[r * cols + c] >> 8);
  }
  bool one_offset = true;
  for (int width = 1; width <= kMaxByteLevelsWidth; ++width) {
    if (!used[width]) continue;
    std::tie(out.offset[width], out.scale[width]) = affine_map(0, width);
    if (out.common_offset) one_offset = one_offset && *out.common_offset == out.offset[width];
    out.common_offset = out.offset[width];
  }
  if (!one_offset) out.common_offset.reset();
  return out;
}

void DecodeRows(const ByteLevels& w, int64_t row_begin, int64_t row_end, const float* row_scale,
                float* out) {
  const int64_t padded = w.padded_cols();
  auto high = std::lower_bound(w.high_rows.begin(), w.high_rows.end(), row_begin);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float multiplier = row_scale == nullptr ? 1.0f : row_scale[r - row_begin];
    const uint8_t* low = w.levels.data() + r * padded;
    const bool has_high = high != w.high_rows.end() && *high == r;
    const uint8_t* high_bytes =
        has_high ? w.high_levels.data() + (high - w.high_rows.begin()) * padded : nullptr;
    const uint8_t* widths = w.block_widths.data() + r * w.blocks_per_row;
    float* out_row = out + (r - row_begin) * w.cols;
    for (int64_t c = 0; c < w.cols; ++c) {
      const int width = widths[c / kByteBlock];
      const int level = low[c] + (has_high ? high_bytes[c] << 8 : 0);
      out_row[c] = multiplier * (w.offset[width] + w.scale[width] * static_cast<float>(level));
    }
    if (has_high) ++high;
  }
}

WidthScaledActivations ScaleActivations(const ByteLevels& w, const float* x, int64_t batch) {
  const int64_t padded = w.padded_cols();
  constexpr int kWidths = kMaxByteLevelsWidth + 1;
  WidthScaledActivations xs;
  xs.batch = batch;
  xs.by_width.assign(batch * kWidths * padded, 0.0f);
  xs.block_sums.assign(batch * w.blocks_per_row, 0.0f);
  for (int64_t k = 0; k < batch; ++k) {
    const float* row = x + k * w.cols;
    for (int width = 1; width < kWidths; ++width) {
      if (w.scale[width] == 0.0f) continue;  // no block of this width: stays 0
      float* scaled = xs.by_width.data() + (k * kWidths + width) * padded;
      for (int64_t c = 0; c < w.cols; ++c) scaled[c] = w.scale[width] * row[c];
    }
    float* sums = xs.block_sums.data() + k * w.blocks_per_row;
    for (int64_t c = 0; c < w.cols; ++c) sums[c / kByteBlock] += row[c];
    xs.row_sums.push_back(std::accumulate(row, row + w.cols, 0.0f));
  }
  return xs;
}

void GemmByteLevels(const ByteLevels& w, const WidthScaledActivations& xs, float* y,
                    int64_t y_stride, int64_t row_begin, int64_t row_end,
                    [[maybe_unused]] Isa isa) {
#if defined(__x86_64__)
  if (isa != Isa::kScalar) return Gemm(w, xs, y, y_stride, row_begin, row_end, RowDotAvx2);
#endif
  Gemm(w, xs, y, y_stride, row_begin, row_end, RowDotScalar);
}

}  // namespace mc::runtime
