// File: uniform_kernels_avx512.cc
// AVX-512 (F, BW, VL, VNNI) tile kernels for runtime/uniform_kernels.cc, compiled with a
// per-function target attribute so that the rest of the build keeps its default flags.
//
// Float: a tile's 32 levels are widened to two vectors of 16 floats and multiplied with the
// activations in tile order. Int8: one _mm256_dpbusd_epi32 (u8 levels x s8 activations, four
// products summed per int32 lane, no saturation) gives 8 partial dots per tile, converted to
// float and scaled by the tile's d. A call multiplies one or two weight rows (each activation
// load then feeds both) with up to four activation rows; every output is accumulated the same
// way whatever the number of weight rows.
#if defined(__x86_64__)

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which -Wuninitialized reports
// once they are inlined (GCC bug 105593); every lane is overwritten.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstdint>

#include "runtime/uniform_kernels_internal.h"

#define MC_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#define MC_INLINE_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma"), always_inline)) inline

namespace mc::runtime::internal {
namespace {

// Weight rows per kernel call and activation rows per weight unpack: 2 x 4 outputs of two
// accumulators each fill half the 32 vector registers.
constexpr int kMaxWeights = 2;
constexpr int kMaxRows = 4;

// Returns v, kept in a register: without this GCC folds the load of an activation vector into
// every instruction that uses it, and with two weight rows the doubled loads limit the loop.
template <typename Vector>
MC_INLINE_AVX512 Vector InRegister(Vector v) {
  asm("" : "+v"(v));
  return v;
}

// The levels of one tile as two vectors of 16 floats, in tile order.
template <int kContainer>
MC_INLINE_AVX512 void TileFloats(const uint8_t* bytes, __m512* low, __m512* high) {
  const __m128i* vectors = reinterpret_cast<const __m128i*>(bytes);
  if constexpr (kContainer == 8) {
    *low = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(vectors)));
    *high = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(vectors + 1)));
  } else if constexpr (kContainer == 4) {
    const __m512i bytes32 = _mm512_cvtepu8_epi32(_mm_loadu_si128(vectors));
    *low = _mm512_cvtepi32_ps(_mm512_and_si512(bytes32, _mm512_set1_epi32(0x0f)));
    *high = _mm512_cvtepi32_ps(_mm512_srli_epi32(bytes32, 4));
  } else {
    const __m256i levels = UnpackTile<kContainer>(bytes);
    *low = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(levels)));
    *high = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(levels, 1)));
  }
}

// Adds the products of tile t of each weight row j with each activation row k to
// acc[j][k][0] (low half of the tile) and acc[j][k][1] (high half).
template <int kContainer, int kWeights, int kRows>
MC_INLINE_AVX512 void AddFloatTile(const uint8_t* const* bytes, int64_t t, const float* const* x,
                                   __m512 (*acc)[kRows][2]) {
  __m512 low[kWeights];
  __m512 high[kWeights];
#pragma GCC unroll 2
  for (int j = 0; j < kWeights; ++j) {
    TileFloats<kContainer>(bytes[j] + t * 4 * kContainer, &low[j], &high[j]);
  }
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) {
    const __m512 x_low = InRegister(_mm512_loadu_ps(x[k] + t * kTile));
    const __m512 x_high = InRegister(_mm512_loadu_ps(x[k] + t * kTile + 16));
#pragma GCC unroll 2
    for (int j = 0; j < kWeights; ++j) {
      acc[j][k][0] = _mm512_fmadd_ps(low[j], x_low, acc[j][k][0]);
      acc[j][k][1] = _mm512_fmadd_ps(high[j], x_high, acc[j][k][1]);
    }
  }
}

// With one or two activation rows, even and odd tiles go to two sets of accumulators, so that
// the FMA latency does not limit GEMV. The accumulation of each output does not depend on
// kWeights.
template <int kContainer, int kWeights, int kRows>
MC_TARGET_AVX512 void FloatTiles(const uint8_t* const* bytes, int64_t tiles, const float* const* x,
                                 float* dots) {
  constexpr bool kAlternate = kRows <= 2;
  __m512 even[kWeights][kRows][2];
  __m512 odd[kWeights][kRows][2];
#pragma GCC unroll 2
  for (int j = 0; j < kWeights; ++j) {
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) {
      even[j][k][0] = even[j][k][1] = odd[j][k][0] = odd[j][k][1] = _mm512_setzero_ps();
    }
  }
  int64_t t = 0;
  if constexpr (kAlternate) {
    for (; t + 2 <= tiles; t += 2) {
      AddFloatTile<kContainer, kWeights, kRows>(bytes, t, x, even);
      AddFloatTile<kContainer, kWeights, kRows>(bytes, t + 1, x, odd);
    }
  }
  for (; t < tiles; ++t) AddFloatTile<kContainer, kWeights, kRows>(bytes, t, x, even);
#pragma GCC unroll 2
  for (int j = 0; j < kWeights; ++j) {
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) {
      const __m512 sum = _mm512_add_ps(_mm512_add_ps(even[j][k][0], even[j][k][1]),
                                       _mm512_add_ps(odd[j][k][0], odd[j][k][1]));
      dots[j * kRows + k] = _mm512_reduce_add_ps(sum);
    }
  }
}

// Adds d[k][t] * dot(levels of tile t of weight row j, q[k] of tile t) to acc[j][k].
template <int kContainer, int kWeights, int kRows>
MC_INLINE_AVX512 void AddInt8Tile(const uint8_t* const* bytes, int64_t t, const int8_t* const* q,
                                  const float* const* d, __m256 (*acc)[kRows]) {
  __m256i levels[kWeights];
#pragma GCC unroll 2
  for (int j = 0; j < kWeights; ++j) {
    levels[j] = UnpackTile<kContainer>(bytes[j] + t * 4 * kContainer);
  }
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) {
    const __m256i qt =
        InRegister(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[k] + t * kTile)));
    const __m256 dt = _mm256_set1_ps(d[k][t]);
#pragma GCC unroll 2
    for (int j = 0; j < kWeights; ++j) {
      const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), levels[j], qt);
      acc[j][k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), dt, acc[j][k]);
    }
  }
}

// Two accumulators per output (even and odd tiles) hide the FMA latency.
template <int kContainer, int kWeights, int kRows>
MC_TARGET_AVX512 void Int8Tiles(const uint8_t* const* bytes, int64_t tiles, const int8_t* const* q,
                                const float* const* d, float* dots) {
  __m256 even[kWeights][kRows];
  __m256 odd[kWeights][kRows];
#pragma GCC unroll 2
  for (int j = 0; j < kWeights; ++j) {
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) even[j][k] = odd[j][k] = _mm256_setzero_ps();
  }
  int64_t t = 0;
  for (; t + 2 <= tiles; t += 2) {
    AddInt8Tile<kContainer, kWeights, kRows>(bytes, t, q, d, even);
    AddInt8Tile<kContainer, kWeights, kRows>(bytes, t + 1, q, d, odd);
  }
  if (t < tiles) AddInt8Tile<kContainer, kWeights, kRows>(bytes, t, q, d, even);
#pragma GCC unroll 2
  for (int j = 0; j < kWeights; ++j) {
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) {
      dots[j * kRows + k] = HorizontalSum(_mm256_add_ps(even[j][k], odd[j][k]));
    }
  }
}

// The tiles of a list, each with its own affine map (applied to the levels once per tile, for
// all activation rows).
template <int kContainer, int kRows>
MC_TARGET_AVX512 void FloatList(const uint8_t* packed, const TileRef* tiles, int64_t count,
                                const float* const* x, float* dots) {
  __m512 acc[kRows][2];
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) acc[k][0] = acc[k][1] = _mm512_setzero_ps();
  for (int64_t i = 0; i < count; ++i) {
    __m512 low;
    __m512 high;
    TileFloats<kContainer>(packed + tiles[i].byte_offset, &low, &high);
    const __m512 scale = _mm512_set1_ps(tiles[i].scale);
    const __m512 offset = _mm512_set1_ps(tiles[i].offset);
    low = _mm512_fmadd_ps(low, scale, offset);
    high = _mm512_fmadd_ps(high, scale, offset);
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) {
      const float* xt = x[k] + tiles[i].tile * kTile;
      acc[k][0] = _mm512_fmadd_ps(low, _mm512_loadu_ps(xt), acc[k][0]);
      acc[k][1] = _mm512_fmadd_ps(high, _mm512_loadu_ps(xt + 16), acc[k][1]);
    }
  }
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k)
    dots[k] = _mm512_reduce_add_ps(_mm512_add_ps(acc[k][0], acc[k][1]));
}

template <int kContainer, int kRows>
MC_TARGET_AVX512 void Int8List(const uint8_t* packed, const TileRef* tiles, int64_t count,
                               const int8_t* const* q, const float* const* d,
                               const float* const* sums, float* dots) {
  __m256 acc[kRows];
  float offsets[kRows] = {};
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) acc[k] = _mm256_setzero_ps();
  for (int64_t i = 0; i < count; ++i) {
    const __m256i levels = UnpackTile<kContainer>(packed + tiles[i].byte_offset);
    const int64_t t = tiles[i].tile;
#pragma GCC unroll 4
    for (int k = 0; k < kRows; ++k) {
      const __m256i qt = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[k] + t * kTile));
      const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), levels, qt);
      acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d[k][t] * tiles[i].scale),
                               acc[k]);
      offsets[k] += tiles[i].offset * sums[k][t];
    }
  }
#pragma GCC unroll 4
  for (int k = 0; k < kRows; ++k) dots[k] = HorizontalSum(acc[k]) + offsets[k];
}

// Names unique across the ISA files: GCC gives the DispatchTiles instantiations global
// (weak) linkage even for an Op from an unnamed namespace, so equal names would let the
// linker pick one file's dispatch code for both.
template <int kContainer, int kWeights, int kRows>
struct Avx512FloatTilesOp {
  static void Run(const uint8_t* const* bytes, int64_t tiles, const float* const* x, float* dots) {
    FloatTiles<kContainer, kWeights, kRows>(bytes, tiles, x, dots);
  }
};

template <int kContainer, int kWeights, int kRows>
struct Avx512Int8TilesOp {
  static void Run(const uint8_t* const* bytes, int64_t tiles, const int8_t* const* q,
                  const float* const* d, float* dots) {
    Int8Tiles<kContainer, kWeights, kRows>(bytes, tiles, q, d, dots);
  }
};

template <int kContainer, int kWeights, int kRows>
struct Avx512FloatListOp {
  static void Run(const uint8_t* packed, const TileRef* tiles, int64_t count, const float* const* x,
                  float* dots) {
    static_assert(kWeights == 1);
    FloatList<kContainer, kRows>(packed, tiles, count, x, dots);
  }
};

template <int kContainer, int kWeights, int kRows>
struct Avx512Int8ListOp {
  static void Run(const uint8_t* packed, const TileRef* tiles, int64_t count,
                  const int8_t* const* q, const float* const* d, const float* const* sums,
                  float* dots) {
    static_assert(kWeights == 1);
    Int8List<kContainer, kRows>(packed, tiles, count, q, d, sums, dots);
  }
};

void Avx512FloatTiles(int container, const uint8_t* const* bytes, int weight_rows, int64_t tiles,
                      const float* const* x, int rows, float* dots) {
  DispatchTiles<Avx512FloatTilesOp, kMaxWeights, kMaxRows>(container, weight_rows, rows, bytes,
                                                           tiles, x, dots);
}

void Avx512Int8Tiles(int container, const uint8_t* const* bytes, int weight_rows, int64_t tiles,
                     const int8_t* const* q, const float* const* d, int rows, float* dots) {
  DispatchTiles<Avx512Int8TilesOp, kMaxWeights, kMaxRows>(container, weight_rows, rows, bytes,
                                                          tiles, q, d, dots);
}

void Avx512FloatList(int container, const uint8_t* packed, const TileRef* tiles, int64_t count,
                     const float* const* x, int rows, float* dots) {
  DispatchTiles<Avx512FloatListOp, 1, kMaxRows>(container, 1, rows, packed, tiles, count, x, dots);
}

void Avx512Int8List(int container, const uint8_t* packed, const TileRef* tiles, int64_t count,
                    const int8_t* const* q, const float* const* d, const float* const* sums,
                    int rows, float* dots) {
  DispatchTiles<Avx512Int8ListOp, 1, kMaxRows>(container, 1, rows, packed, tiles, count, q, d, sums,
                                               dots);
}

}  // namespace

const TileKernels& Avx512VnniTileKernels() {
  static const TileKernels kernels = {kMaxWeights,      kMaxRows,         &Avx512FloatTiles,
                                      &Avx512Int8Tiles, &Avx512FloatList, &Avx512Int8List};
  return kernels;
}

}  // namespace mc::runtime::internal

#endif  // defined(__x86_64__)
