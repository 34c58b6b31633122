// File: uniform_kernels_avx2.cc
// AVX2 + FMA tile kernels for runtime/uniform_kernels.cc, compiled with a per-function target
// attribute so that the rest of the build keeps its default flags.
//
// Float: a tile's 32 levels are widened to four vectors of 8 floats and multiplied with the
// activations in tile order. Int8: _mm256_maddubs_epi16 (u8 x s8 pairs into int16) and
// _mm256_madd_epi16 give 8 int32 partial dots per tile; levels below 16 cannot saturate the
// int16 pairs, so 8-bit containers (levels up to 255) are widened to int16 and use
// _mm256_madd_epi16 alone. Each tile's int32 dots are converted to float and scaled by d.
#if defined(__x86_64__)

#include <immintrin.h>

#include <cstdint>

#include "runtime/uniform_kernels_internal.h"

#define MC_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define MC_INLINE_AVX2 __attribute__((target("avx2,fma"), always_inline)) inline

namespace mc::runtime::internal {
namespace {

// One weight row per kernel call and up to 4 activation rows per weight unpack: the
// accumulators and one tile's levels fit the 16 vector registers.
constexpr int kMaxWeights = 1;
constexpr int kMaxRows = 4;

MC_INLINE_AVX2 float HorizontalSum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

// The levels of one tile as four vectors of 8 floats, in tile order.
template <int kContainer>
MC_INLINE_AVX2 void TileFloats(const uint8_t* bytes, __m256* parts) {
  if constexpr (kContainer == 8) {
#pragma GCC unroll 4
    for (int part = 0; part < 4; ++part) {
      const __m128i eight = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes + 8 * part));
      parts[part] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(eight));
    }
  } else {
    const __m256i levels = UnpackTile<kContainer>(bytes);
    const __m128i low = _mm256_castsi256_si128(levels);
    const __m128i high = _mm256_extracti128_si256(levels, 1);
    parts[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(low));
    parts[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(low, 8)));
    parts[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(high));
    parts[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(high, 8)));
  }
}

// With one or two activation rows, each output gets four accumulators, so that the FMA
// latency does not limit GEMV.
template <int kContainer, int kRows>
MC_TARGET_AVX2 void FloatTiles(const uint8_t* bytes, int64_t tiles, const float* const* x,
                               float* dots) {
  constexpr int kAccumulators = kRows <= 2 ? 4 : 2;
  __m256 acc[kRows][kAccumulators];
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) {
#pragma GCC unroll 4
    for (int a = 0; a < kAccumulators; ++a) acc[k][a] = _mm256_setzero_ps();
  }
  for (int64_t t = 0; t < tiles; ++t) {
    __m256 parts[4];
    TileFloats<kContainer>(bytes + t * 4 * kContainer, parts);
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) {
      const float* xt = x[k] + t * kTile;
#pragma GCC unroll 4
      for (int part = 0; part < 4; ++part) {
        __m256& sum = acc[k][part % kAccumulators];
        sum = _mm256_fmadd_ps(parts[part], _mm256_loadu_ps(xt + 8 * part), sum);
      }
    }
  }
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) {
#pragma GCC unroll 4
    for (int a = 1; a < kAccumulators; ++a) acc[k][0] = _mm256_add_ps(acc[k][0], acc[k][a]);
    dots[k] = HorizontalSum(acc[k][0]);
  }
}

// Adds d[k][t] * dot(levels of tile t, q[k] of tile t) to acc[k] for each activation row.
template <int kContainer, int kRows>
MC_INLINE_AVX2 void AddInt8Tile(const uint8_t* bytes, int64_t t, const int8_t* const* q,
                                const float* const* d, __m256* acc) {
  const uint8_t* tile = bytes + t * 4 * kContainer;
  if constexpr (kContainer == 8) {
    const __m128i* levels = reinterpret_cast<const __m128i*>(tile);
    const __m256i low = _mm256_cvtepu8_epi16(_mm_loadu_si128(levels));
    const __m256i high = _mm256_cvtepu8_epi16(_mm_loadu_si128(levels + 1));
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) {
      const __m128i* qt = reinterpret_cast<const __m128i*>(q[k] + t * kTile);
      const __m256i dot =
          _mm256_add_epi32(_mm256_madd_epi16(low, _mm256_cvtepi8_epi16(_mm_loadu_si128(qt))),
                           _mm256_madd_epi16(high, _mm256_cvtepi8_epi16(_mm_loadu_si128(qt + 1))));
      acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d[k][t]), acc[k]);
    }
  } else {
    const __m256i levels = UnpackTile<kContainer>(tile);
    const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) {
      const __m256i qt = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[k] + t * kTile));
      const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(levels, qt), ones);
      acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d[k][t]), acc[k]);
    }
  }
}

// Two accumulators per output (even and odd tiles) hide the FMA latency.
template <int kContainer, int kRows>
MC_TARGET_AVX2 void Int8Tiles(const uint8_t* bytes, int64_t tiles, const int8_t* const* q,
                              const float* const* d, float* dots) {
  __m256 even[kRows];
  __m256 odd[kRows];
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) even[k] = odd[k] = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 2 <= tiles; t += 2) {
    AddInt8Tile<kContainer, kRows>(bytes, t, q, d, even);
    AddInt8Tile<kContainer, kRows>(bytes, t + 1, q, d, odd);
  }
  if (t < tiles) AddInt8Tile<kContainer, kRows>(bytes, t, q, d, even);
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) dots[k] = HorizontalSum(_mm256_add_ps(even[k], odd[k]));
}

// The AVX2 kernels multiply one weight row per call (kMaxWeights).
template <int kContainer, int kWeights, int kRows>
struct FloatTilesOp {
  static void Run(const uint8_t* const* bytes, int64_t tiles, const float* const* x,
                  float* dots) {
    static_assert(kWeights == 1);
    FloatTiles<kContainer, kRows>(bytes[0], tiles, x, dots);
  }
};

template <int kContainer, int kWeights, int kRows>
struct Int8TilesOp {
  static void Run(const uint8_t* const* bytes, int64_t tiles, const int8_t* const* q,
                  const float* const* d, float* dots) {
    static_assert(kWeights == 1);
    Int8Tiles<kContainer, kRows>(bytes[0], tiles, q, d, dots);
  }
};

void Avx2FloatTiles(int container, const uint8_t* const* bytes, int weight_rows, int64_t tiles,
                    const float* const* x, int rows, float* dots) {
  DispatchTiles<FloatTilesOp, kMaxWeights, kMaxRows>(container, weight_rows, rows, bytes, tiles,
                                                     x, dots);
}

void Avx2Int8Tiles(int container, const uint8_t* const* bytes, int weight_rows, int64_t tiles,
                   const int8_t* const* q, const float* const* d, int rows, float* dots) {
  DispatchTiles<Int8TilesOp, kMaxWeights, kMaxRows>(container, weight_rows, rows, bytes, tiles,
                                                    q, d, dots);
}

}  // namespace

const TileKernels& Avx2TileKernels() {
  static const TileKernels kernels = {kMaxWeights, kMaxRows, &Avx2FloatTiles, &Avx2Int8Tiles};
  return kernels;
}

}  // namespace mc::runtime::internal

#endif  // defined(__x86_64__)
