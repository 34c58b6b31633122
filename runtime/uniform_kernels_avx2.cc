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

// Adds d[k][t] * scale * dot(levels of the tile at `tile`, q[k] of activation tile t) to
// acc[k] for each activation row.
template <int kContainer, int kRows>
MC_INLINE_AVX2 void AddInt8Tile(const uint8_t* tile, int64_t t, float scale, const int8_t* const* q,
                                const float* const* d, __m256* acc) {
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
      acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d[k][t] * scale), acc[k]);
    }
  } else {
    const __m256i levels = UnpackTile<kContainer>(tile);
    const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) {
      const __m256i qt = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[k] + t * kTile));
      const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(levels, qt), ones);
      acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d[k][t] * scale), acc[k]);
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
    AddInt8Tile<kContainer, kRows>(bytes + t * 4 * kContainer, t, 1.0f, q, d, even);
    AddInt8Tile<kContainer, kRows>(bytes + (t + 1) * 4 * kContainer, t + 1, 1.0f, q, d, odd);
  }
  if (t < tiles) AddInt8Tile<kContainer, kRows>(bytes + t * 4 * kContainer, t, 1.0f, q, d, even);
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) dots[k] = HorizontalSum(_mm256_add_ps(even[k], odd[k]));
}

// The tiles of a list, each with its own affine map (applied to the levels once per tile, for
// all activation rows).
template <int kContainer, int kRows>
MC_TARGET_AVX2 void FloatList(const uint8_t* packed, const TileRef* tiles, int64_t count,
                              const float* const* x, float* dots) {
  __m256 acc[kRows][2];
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) acc[k][0] = acc[k][1] = _mm256_setzero_ps();
  for (int64_t i = 0; i < count; ++i) {
    __m256 parts[4];
    TileFloats<kContainer>(packed + tiles[i].byte_offset, parts);
    const __m256 scale = _mm256_set1_ps(tiles[i].scale);
    const __m256 offset = _mm256_set1_ps(tiles[i].offset);
#pragma GCC unroll 4
    for (int part = 0; part < 4; ++part) parts[part] = _mm256_fmadd_ps(parts[part], scale, offset);
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) {
      const float* xt = x[k] + tiles[i].tile * kTile;
#pragma GCC unroll 4
      for (int part = 0; part < 4; ++part) {
        acc[k][part % 2] =
            _mm256_fmadd_ps(parts[part], _mm256_loadu_ps(xt + 8 * part), acc[k][part % 2]);
      }
    }
  }
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) dots[k] = HorizontalSum(_mm256_add_ps(acc[k][0], acc[k][1]));
}

template <int kContainer, int kRows>
MC_TARGET_AVX2 void Int8List(const uint8_t* packed, const TileRef* tiles, int64_t count,
                             const int8_t* const* q, const float* const* d,
                             const float* const* sums, float* dots) {
  __m256 acc[kRows];
  float offsets[kRows] = {};
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) acc[k] = _mm256_setzero_ps();
  for (int64_t i = 0; i < count; ++i) {
    AddInt8Tile<kContainer, kRows>(packed + tiles[i].byte_offset, tiles[i].tile, tiles[i].scale, q,
                                   d, acc);
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) offsets[k] += tiles[i].offset * sums[k][tiles[i].tile];
  }
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) dots[k] = HorizontalSum(acc[k]) + offsets[k];
}

// The AVX2 kernels multiply one weight row per call (kMaxWeights).
// Names unique across the ISA files: GCC gives the DispatchTiles instantiations global
// (weak) linkage even for an Op from an unnamed namespace, so equal names would let the
// linker pick one file's dispatch code for both.
template <int kContainer, int kWeights, int kRows>
struct Avx2FloatTilesOp {
  static void Run(const uint8_t* const* bytes, int64_t tiles, const float* const* x, float* dots) {
    static_assert(kWeights == 1);
    FloatTiles<kContainer, kRows>(bytes[0], tiles, x, dots);
  }
};

template <int kContainer, int kWeights, int kRows>
struct Avx2Int8TilesOp {
  static void Run(const uint8_t* const* bytes, int64_t tiles, const int8_t* const* q,
                  const float* const* d, float* dots) {
    static_assert(kWeights == 1);
    Int8Tiles<kContainer, kRows>(bytes[0], tiles, q, d, dots);
  }
};

template <int kContainer, int kWeights, int kRows>
struct Avx2FloatListOp {
  static void Run(const uint8_t* packed, const TileRef* tiles, int64_t count, const float* const* x,
                  float* dots) {
    static_assert(kWeights == 1);
    FloatList<kContainer, kRows>(packed, tiles, count, x, dots);
  }
};

template <int kContainer, int kWeights, int kRows>
struct Avx2Int8ListOp {
  static void Run(const uint8_t* packed, const TileRef* tiles, int64_t count,
                  const int8_t* const* q, const float* const* d, const float* const* sums,
                  float* dots) {
    static_assert(kWeights == 1);
    Int8List<kContainer, kRows>(packed, tiles, count, q, d, sums, dots);
  }
};

void Avx2FloatTiles(int container, const uint8_t* const* bytes, int weight_rows, int64_t tiles,
                    const float* const* x, int rows, float* dots) {
  DispatchTiles<Avx2FloatTilesOp, kMaxWeights, kMaxRows>(container, weight_rows, rows, bytes, tiles,
                                                         x, dots);
}

void Avx2Int8Tiles(int container, const uint8_t* const* bytes, int weight_rows, int64_t tiles,
                   const int8_t* const* q, const float* const* d, int rows, float* dots) {
  DispatchTiles<Avx2Int8TilesOp, kMaxWeights, kMaxRows>(container, weight_rows, rows, bytes, tiles,
                                                        q, d, dots);
}

void Avx2FloatList(int container, const uint8_t* packed, const TileRef* tiles, int64_t count,
                   const float* const* x, int rows, float* dots) {
  DispatchTiles<Avx2FloatListOp, 1, kMaxRows>(container, 1, rows, packed, tiles, count, x, dots);
}

void Avx2Int8List(int container, const uint8_t* packed, const TileRef* tiles, int64_t count,
                  const int8_t* const* q, const float* const* d, const float* const* sums, int rows,
                  float* dots) {
  DispatchTiles<Avx2Int8ListOp, 1, kMaxRows>(container, 1, rows, packed, tiles, count, q, d, sums,
                                             dots);
}

}  // namespace

const TileKernels& Avx2TileKernels() {
  static const TileKernels kernels = {kMaxWeights,    kMaxRows,       &Avx2FloatTiles,
                                      &Avx2Int8Tiles, &Avx2FloatList, &Avx2Int8List};
  return kernels;
}

}  // namespace mc::runtime::internal

#endif  // defined(__x86_64__)
