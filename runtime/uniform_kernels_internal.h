// File: uniform_kernels_internal.h
// What the portable driver of runtime/uniform_kernels.cc shares with its per-ISA SIMD
// kernels (uniform_kernels_avx2.cc, uniform_kernels_avx512.cc): the tile unpack order and
// the tile-run kernels.
//
// The SIMD kernels work on tiles of 32 columns whose blocks share one container width and
// one affine map. Such a tile is 4 * container contiguous bytes, laid out as one block of 32
// levels whatever the block size (blocks start on byte boundaries). A tile is unpacked in
// "tile order": every byte shifted by j * container and masked gives the j-th level of each
// byte, so position p = j * (4 * container) + k holds the level of column
// (8 / container) * k + j. The driver rearranges the activations into the same order once
// per call, so the kernels never shuffle levels back into column order.
#ifndef MC_RUNTIME_UNIFORM_KERNELS_INTERNAL_H_
#define MC_RUNTIME_UNIFORM_KERNELS_INTERNAL_H_

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mc::runtime::internal {

/// Columns per SIMD tile (and per int8 activation block).
inline constexpr int kTile = 32;

/// Most activation rows any tile kernel handles per weight unpack.
inline constexpr int kMaxTileRows = 4;

/// Most weight rows any tile kernel multiplies together, sharing each activation load.
inline constexpr int kMaxWeightRows = 2;

/// The column (within its tile) whose level a tile unpacked at `container` bits holds at
/// `position`.
inline int TileColumn(int container, int position) {
  const int tile_bytes = 4 * container;
  return (8 / container) * (position % tile_bytes) + position / tile_bytes;
}

/// For j < weight_rows and k < rows, sets dots[j * rows + k] = the sum over `tiles`
/// consecutive tiles of sum_p level_j[p] * x[k][p], where weight row j's tiles are packed at
/// `container` bits from bytes[j] and x[k] is in tile order.
using FloatTilesFn = void (*)(int container, const uint8_t* const* bytes, int weight_rows,
                              int64_t tiles, const float* const* x, int rows, float* dots);

/// The same with int8 activations: the sum over tiles t of d[k][t] * sum_p level_j[p] *
/// q[k][p].
using Int8TilesFn = void (*)(int container, const uint8_t* const* bytes, int weight_rows,
                             int64_t tiles, const int8_t* const* q, const float* const* d, int rows,
                             float* dots);

/// One tile of a weight row for the tile-list kernels, which take the tiles of one container
/// of a row whose widths or affine maps change too often for runs of tiles.
struct TileRef {
  int64_t tile = 0;         // Index of the tile in its row.
  int64_t byte_offset = 0;  // Of its levels in BlockedLevels::packed.
  float scale = 0.0f;       // Affine map of its blocks.
  float offset = 0.0f;
};

/// Sets dots[k] = the sum over the `count` tiles of sum_p (tiles[i].offset + tiles[i].scale *
/// level[p]) * x[k][tiles[i].tile * kTile + p] for k < rows, where the levels are at
/// `container` bits from packed + tiles[i].byte_offset and x[k] is a whole row in tile order.
using FloatListFn = void (*)(int container, const uint8_t* packed, const TileRef* tiles,
                             int64_t count, const float* const* x, int rows, float* dots);

/// The same with int8 activations: tile t adds d[k][t] * tiles[i].scale * sum_p level[p] *
/// q[k][t * kTile + p] + tiles[i].offset * sums[k][t], where sums[k][t] = d[k][t] * sum_p
/// q[k][t * kTile + p].
using Int8ListFn = void (*)(int container, const uint8_t* packed, const TileRef* tiles,
                            int64_t count, const int8_t* const* q, const float* const* d,
                            const float* const* sums, int rows, float* dots);

/// The tile kernels of one instruction set. Each output element is computed the same way
/// whatever weight_rows, so pairing weight rows never changes a result.
struct TileKernels {
  int max_weight_rows;  // 1..kMaxWeightRows.
  int max_rows;         // Activation rows per call: 1..kMaxTileRows.
  FloatTilesFn float_tiles;
  Int8TilesFn int8_tiles;
  FloatListFn float_list;
  Int8ListFn int8_list;
};

/// Calls Op<kContainer, kWeightRows, rows>::Run(args...) for rows in kRows..kMaxRows, so that
/// each tile kernel is compiled for constant counts.
template <template <int, int, int> typename Op, int kContainer, int kWeightRows, int kRows,
          int kMaxRows, typename... Args>
void DispatchRows(int rows, Args... args) {
  if constexpr (kRows == kMaxRows) {
    Op<kContainer, kWeightRows, kRows>::Run(args...);
  } else if (rows == kRows) {
    Op<kContainer, kWeightRows, kRows>::Run(args...);
  } else {
    DispatchRows<Op, kContainer, kWeightRows, kRows + 1, kMaxRows>(rows, args...);
  }
}

/// Calls Op<container, kWeightRows, rows>::Run(args...) for container 1, 2, 4 or 8.
template <template <int, int, int> typename Op, int kWeightRows, int kMaxRows, typename... Args>
void DispatchContainer(int container, int rows, Args... args) {
  switch (container) {
    case 1:
      return DispatchRows<Op, 1, kWeightRows, 1, kMaxRows>(rows, args...);
    case 2:
      return DispatchRows<Op, 2, kWeightRows, 1, kMaxRows>(rows, args...);
    case 4:
      return DispatchRows<Op, 4, kWeightRows, 1, kMaxRows>(rows, args...);
    default:
      return DispatchRows<Op, 8, kWeightRows, 1, kMaxRows>(rows, args...);
  }
}

/// Calls Op<container, weight_rows, rows>::Run(args...) for weight_rows 1..kMaxWeights (1 or
/// 2) and rows 1..kMaxRows.
template <template <int, int, int> typename Op, int kMaxWeights, int kMaxRows, typename... Args>
void DispatchTiles(int container, int weight_rows, int rows, Args... args) {
  if constexpr (kMaxWeights == 2) {
    if (weight_rows == 2) return DispatchContainer<Op, 2, kMaxRows>(container, rows, args...);
  }
  DispatchContainer<Op, 1, kMaxRows>(container, rows, args...);
}

#if defined(__x86_64__)

const TileKernels& Avx2TileKernels();
const TileKernels& Avx512VnniTileKernels();

/// The 32 levels of the tile at `bytes`, in tile order, one per byte.
template <int kContainer>
__attribute__((target("avx2,fma"), always_inline)) inline __m256i UnpackTile(const uint8_t* bytes) {
  if constexpr (kContainer == 1) {
    uint32_t word;
    std::memcpy(&word, bytes, sizeof(word));
    const __m256i shifted = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(word)),
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_and_si256(shifted, _mm256_set1_epi8(0x01));
  } else if constexpr (kContainer == 2) {
    uint64_t word;
    std::memcpy(&word, bytes, sizeof(word));
    const __m256i shifted = _mm256_srlv_epi64(_mm256_set1_epi64x(static_cast<int64_t>(word)),
                                              _mm256_setr_epi64x(0, 2, 4, 6));
    return _mm256_and_si256(shifted, _mm256_set1_epi8(0x03));
  } else if constexpr (kContainer == 4) {
    const __m256i both =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes)));
    const __m256i shifted = _mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4));
    return _mm256_and_si256(shifted, _mm256_set1_epi8(0x0f));
  } else {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes));
  }
}

/// The sum of the 8 lanes of v.
__attribute__((target("avx2,fma"), always_inline)) inline float HorizontalSum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

#endif  // defined(__x86_64__)

}  // namespace mc::runtime::internal

#endif  // MC_RUNTIME_UNIFORM_KERNELS_INTERNAL_H_
