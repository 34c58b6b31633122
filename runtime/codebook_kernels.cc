// File: codebook_kernels.cc
// Kernels of codebook_kernels.h: a portable scalar path and AVX2 / AVX-512 paths compiled
// with function-level target attributes, chosen at run time by the caller's CodebookIsa.
#include "runtime/codebook_kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#define MC_CODEBOOK_X86 1
#include <immintrin.h>
#define MC_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define MC_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#endif

namespace mc::runtime {
namespace {

// Bytes of tables that all rows look up before the next tile of blocks: L1-sized for single
// input rows, L2-sized for lane-interleaved tables (whose lookups are whole cache lines).
constexpr int64_t kSingleRowTileBytes = 32 * 1024;
constexpr int64_t kLanesTileBytes = 256 * 1024;

// GemmDecoded: input rows per microkernel call, columns per decoded panel, input rows per
// pass over the weight.
constexpr int64_t kMicroBatch = 6;
constexpr int64_t kPanelColumns = 256;
constexpr int64_t kDecodedBatchTile = 256;

// ---------------------------------------------------------------------------------------
// Lookups: one tile of blocks for a run of row groups.

template <typename Index>
struct TileJob {
  const float* table;    // Tables of the tile's first block: [block][centroid][lane].
  const Index* indices;  // Indices of the first group at the tile's first block.
  int64_t group_stride;  // Index elements from one group to the next.
  int64_t groups;
  int64_t tile_blocks;
  int64_t block_stride;  // Floats from one block's tables to the next: k * lanes.
  int64_t lanes;
  float* accumulators;   // [group][row in group][lane], running sums.
};

template <typename Index>
using TileKernel = void (*)(const TileJob<Index>&);

// Any number of lanes.
template <typename Index>
void LanesTileScalar(const TileJob<Index>& job) {
  for (int64_t g = 0; g < job.groups; ++g) {
    const Index* ids = job.indices + g * job.group_stride;
    float* acc = job.accumulators + g * kRowGroup * job.lanes;
    const float* table = job.table;
    for (int64_t b = 0; b < job.tile_blocks; ++b) {
      for (int64_t i = 0; i < kRowGroup; ++i) {
        const float* entry = table + static_cast<int64_t>(ids[i]) * job.lanes;
        float* row_acc = acc + i * job.lanes;
        for (int64_t l = 0; l < job.lanes; ++l) row_acc[l] += entry[l];
      }
      ids += kRowGroup;
      table += job.block_stride;
    }
  }
}

// Single input row: a row group's sums in 16 registers, one scalar load per lookup, on every
// ISA. Vector gathers are slower where they run below the load ports' rate (about half of
// it on AMD Zen 5).
template <typename Index>
void SingleRowTile(const TileJob<Index>& job) {
  for (int64_t g = 0; g < job.groups; ++g) {
    const Index* ids = job.indices + g * job.group_stride;
    float* acc = job.accumulators + g * kRowGroup;
    float sums[kRowGroup];
#pragma GCC unroll 16
    for (int i = 0; i < kRowGroup; ++i) sums[i] = acc[i];
    const float* table = job.table;
    for (int64_t b = 0; b < job.tile_blocks; ++b) {
#pragma GCC unroll 16
      for (int i = 0; i < kRowGroup; ++i) sums[i] += table[ids[i]];
      ids += kRowGroup;
      table += job.block_stride;
    }
#pragma GCC unroll 16
    for (int i = 0; i < kRowGroup; ++i) acc[i] = sums[i];
  }
}

#ifdef MC_CODEBOOK_X86

// kVecs * 8 lanes: 8 / kVecs rows at a time keep their sums in eight registers.
template <typename Index, int kVecs>
MC_TARGET_AVX2 void LanesTileAvx2(const TileJob<Index>& job) {
  constexpr int kRows = 8 / kVecs;
  constexpr int kLanes = 8 * kVecs;
  for (int64_t g = 0; g < job.groups; ++g) {
    for (int part = 0; part < kRowGroup / kRows; ++part) {
      const Index* ids = job.indices + g * job.group_stride + part * kRows;
      float* acc = job.accumulators + (g * kRowGroup + part * kRows) * kLanes;
      __m256 sums[8];
#pragma GCC unroll 8
      for (int v = 0; v < 8; ++v) sums[v] = _mm256_loadu_ps(acc + v * 8);
      const float* table = job.table;
      for (int64_t b = 0; b < job.tile_blocks; ++b) {
#pragma GCC unroll 8
        for (int i = 0; i < kRows; ++i) {
          const float* entry = table + static_cast<int64_t>(ids[i]) * kLanes;
#pragma GCC unroll 2
          for (int v = 0; v < kVecs; ++v) {
            sums[i * kVecs + v] =
                _mm256_add_ps(sums[i * kVecs + v], _mm256_loadu_ps(entry + v * 8));
          }
        }
        ids += kRowGroup;
        table += job.block_stride;
      }
#pragma GCC unroll 8
      for (int v = 0; v < 8; ++v) _mm256_storeu_ps(acc + v * 8, sums[v]);
    }
  }
}

// 16 lanes: a row group's sums in 16 registers.
template <typename Index>
MC_TARGET_AVX512 void LanesTileAvx512(const TileJob<Index>& job) {
  for (int64_t g = 0; g < job.groups; ++g) {
    const Index* ids = job.indices + g * job.group_stride;
    float* acc = job.accumulators + g * kRowGroup * 16;
    __m512 sums[kRowGroup];
#pragma GCC unroll 16
    for (int i = 0; i < kRowGroup; ++i) sums[i] = _mm512_loadu_ps(acc + i * 16);
    const float* table = job.table;
    for (int64_t b = 0; b < job.tile_blocks; ++b) {
#pragma GCC unroll 16
      for (int i = 0; i < kRowGroup; ++i) {
        const float* entry = table + static_cast<int64_t>(ids[i]) * 16;
        sums[i] = _mm512_add_ps(sums[i], _mm512_loadu_ps(entry));
      }
      ids += kRowGroup;
      table += job.block_stride;
    }
#pragma GCC unroll 16
    for (int i = 0; i < kRowGroup; ++i) _mm512_storeu_ps(acc + i * 16, sums[i]);
  }
}

#endif  // MC_CODEBOOK_X86

template <typename Index>
TileKernel<Index> SelectTileKernel(CodebookIsa isa, int64_t lanes) {
  if (lanes == 1) return &SingleRowTile<Index>;
#ifdef MC_CODEBOOK_X86
  if (isa == CodebookIsa::kAvx512) {
    return lanes == 16 ? &LanesTileAvx512<Index> : &LanesTileAvx2<Index, 1>;
  }
  if (isa == CodebookIsa::kAvx2) {
    return lanes == 16 ? &LanesTileAvx2<Index, 2> : &LanesTileAvx2<Index, 1>;
  }
#endif
  return &LanesTileScalar<Index>;
}

// ---------------------------------------------------------------------------------------
// Tables of one block.

struct FillJob {
  const float* centroids_transposed;  // d x k.
  int64_t num_centroids;
  int64_t block;
  const float* x;                     // Single input row: the block's first input.
  const float* x_transposed;          // Lanes: d x lanes inputs, zeros in padding lanes.
  int64_t lanes;
  float* table;                       // k x lanes.
};

using FillKernel = void (*)(const FillJob&);

void FillBlockScalar(const FillJob& job) {
  const int64_t k = job.num_centroids;
  const int64_t lanes = job.lanes;
  std::fill(job.table, job.table + k * lanes, 0.0f);
  if (lanes == 1) {
    for (int64_t j = 0; j < job.block; ++j) {
      const float* centroid_values = job.centroids_transposed + j * k;
      const float input = job.x[j];
      for (int64_t c = 0; c < k; ++c) job.table[c] += centroid_values[c] * input;
    }
    return;
  }
  for (int64_t c = 0; c < k; ++c) {
    for (int64_t j = 0; j < job.block; ++j) {
      const float weight = job.centroids_transposed[j * k + c];
      const float* inputs = job.x_transposed + j * lanes;
      for (int64_t l = 0; l < lanes; ++l) job.table[c * lanes + l] += weight * inputs[l];
    }
  }
}

#ifdef MC_CODEBOOK_X86

// Single input row: 8 centroids at a time from the transposed codebook.
MC_TARGET_AVX2 void FillBlockRowAvx2(const FillJob& job) {
  const int64_t k = job.num_centroids;
  for (int64_t c = 0; c < k; c += 8) {
    const int valid = static_cast<int>(std::min<int64_t>(8, k - c));
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(valid),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 sum = _mm256_setzero_ps();
    for (int64_t j = 0; j < job.block; ++j) {
      const __m256 centroid = _mm256_maskload_ps(job.centroids_transposed + j * k + c, mask);
      sum = _mm256_fmadd_ps(centroid, _mm256_set1_ps(job.x[j]), sum);
    }
    _mm256_maskstore_ps(job.table + c, mask, sum);
  }
}

// kVecs * 8 lanes.
template <int kVecs>
MC_TARGET_AVX2 void FillBlockLanesAvx2(const FillJob& job) {
  for (int64_t c = 0; c < job.num_centroids; ++c) {
    const float* centroid = job.centroids_transposed + c;  // stride num_centroids
    __m256 sums[kVecs];
#pragma GCC unroll 2
    for (int v = 0; v < kVecs; ++v) sums[v] = _mm256_setzero_ps();
    for (int64_t j = 0; j < job.block; ++j) {
      const __m256 weight = _mm256_set1_ps(centroid[j * job.num_centroids]);
#pragma GCC unroll 2
      for (int v = 0; v < kVecs; ++v) {
        sums[v] = _mm256_fmadd_ps(
            weight, _mm256_loadu_ps(job.x_transposed + (j * kVecs + v) * 8), sums[v]);
      }
    }
#pragma GCC unroll 2
    for (int v = 0; v < kVecs; ++v) _mm256_storeu_ps(job.table + (c * kVecs + v) * 8, sums[v]);
  }
}

// Single input row: 16 centroids at a time from the transposed codebook.
MC_TARGET_AVX512 void FillBlockRowAvx512(const FillJob& job) {
  const int64_t k = job.num_centroids;
  for (int64_t c = 0; c < k; c += 16) {
    const int valid = static_cast<int>(std::min<int64_t>(16, k - c));
    const __mmask16 mask = _cvtu32_mask16(0xFFFFu >> (16 - valid));
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < job.block; ++j) {
      const __m512 centroid =
          _mm512_maskz_loadu_ps(mask, job.centroids_transposed + j * k + c);
      sum = _mm512_fmadd_ps(centroid, _mm512_set1_ps(job.x[j]), sum);
    }
    _mm512_mask_storeu_ps(job.table + c, mask, sum);
  }
}

// 16 lanes.
MC_TARGET_AVX512 void FillBlockLanesAvx512(const FillJob& job) {
  for (int64_t c = 0; c < job.num_centroids; ++c) {
    const float* centroid = job.centroids_transposed + c;  // stride num_centroids
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < job.block; ++j) {
      sum = _mm512_fmadd_ps(_mm512_set1_ps(centroid[j * job.num_centroids]),
                            _mm512_loadu_ps(job.x_transposed + j * 16), sum);
    }
    _mm512_storeu_ps(job.table + c * 16, sum);
  }
}

#endif  // MC_CODEBOOK_X86

FillKernel SelectFillKernel(CodebookIsa isa, int64_t lanes) {
#ifdef MC_CODEBOOK_X86
  if (isa == CodebookIsa::kAvx512) {
    if (lanes == 1) return &FillBlockRowAvx512;
    return lanes == 16 ? &FillBlockLanesAvx512 : &FillBlockLanesAvx2<1>;
  }
  if (isa == CodebookIsa::kAvx2) {
    if (lanes == 1) return &FillBlockRowAvx2;
    return lanes == 16 ? &FillBlockLanesAvx2<2> : &FillBlockLanesAvx2<1>;
  }
#endif
  return &FillBlockScalar;
}

// ---------------------------------------------------------------------------------------
// Lookup-table GEMM driver.

int64_t LanesForBatch(int64_t batch) { return batch == 1 ? 1 : batch <= 8 ? 8 : 16; }

// Blocks whose tables all rows look up before the next tile.
int64_t TileBlocks(int64_t num_centroids, int64_t lanes) {
  const int64_t budget = lanes == 1 ? kSingleRowTileBytes : kLanesTileBytes;
  return std::max<int64_t>(1, budget / (num_centroids * lanes * int64_t{sizeof(float)}));
}

// Writes the tables of blocks [block_begin, block_end) of `batch` input rows to `table`
// (block_begin's first).
void FillBlocks(const CodebookMatrix& w, const float* x, int64_t x_stride, int64_t batch,
                int64_t lanes, int64_t block_begin, int64_t block_end, CodebookIsa isa,
                float* table) {
  std::vector<float> x_transposed(lanes > 1 ? static_cast<size_t>(w.block * lanes) : 0, 0.0f);
  FillJob job;
  job.centroids_transposed = w.centroids_transposed.data();
  job.num_centroids = w.num_centroids;
  job.block = w.block;
  job.x_transposed = x_transposed.data();
  job.lanes = lanes;
  const FillKernel kernel = SelectFillKernel(isa, lanes);
  for (int64_t b = block_begin; b < block_end; ++b) {
    job.x = x + b * w.block;
    if (lanes > 1) {
      for (int64_t l = 0; l < batch; ++l) {
        const float* inputs = job.x + l * x_stride;
        for (int64_t j = 0; j < w.block; ++j) x_transposed[j * lanes + l] = inputs[j];
      }
    }
    job.table = table + (b - block_begin) * w.num_centroids * lanes;
    kernel(job);
  }
}

// Rows [row_begin, row_end) as seen by the accumulators: whole row groups.
struct RowGroups {
  int64_t first;
  int64_t count;
};

RowGroups GroupsOf(int64_t row_begin, int64_t row_end) {
  const int64_t first = row_begin / kRowGroup;
  return {first, (row_end + kRowGroup - 1) / kRowGroup - first};
}

// Adds the lookups of blocks [block_begin, block_begin + tile_blocks), whose tables start at
// `table`, to the accumulators of `groups`.
template <typename Index>
void AccumulateTile(const CodebookMatrix& w, const Index* indices, const float* table,
                    int64_t lanes, int64_t block_begin, int64_t tile_blocks, RowGroups groups,
                    CodebookIsa isa, float* accumulators) {
  const int64_t blocks = w.blocks_per_row();
  TileJob<Index> job;
  job.table = table;
  job.indices = indices + (groups.first * blocks + block_begin) * kRowGroup;
  job.group_stride = blocks * kRowGroup;
  job.groups = groups.count;
  job.tile_blocks = tile_blocks;
  job.block_stride = w.num_centroids * lanes;
  job.lanes = lanes;
  job.accumulators = accumulators;
  SelectTileKernel<Index>(isa, lanes)(job);
}

void AccumulateTile(const CodebookMatrix& w, const float* table, int64_t lanes,
                    int64_t block_begin, int64_t tile_blocks, RowGroups groups,
                    CodebookIsa isa, float* accumulators) {
  if (w.assignments16.empty()) {
    AccumulateTile(w, w.assignments8.data(), table, lanes, block_begin, tile_blocks, groups,
                   isa, accumulators);
  } else {
    AccumulateTile(w, w.assignments16.data(), table, lanes, block_begin, tile_blocks, groups,
                   isa, accumulators);
  }
}

// Copies the accumulators of input rows l < batch and rows [row_begin, row_end) to y.
void StoreRows(const float* accumulators, int64_t lanes, int64_t batch, int64_t row_begin,
               int64_t row_end, float* y, int64_t y_stride) {
  const int64_t first_row = row_begin / kRowGroup * kRowGroup;
  for (int64_t l = 0; l < batch; ++l) {
    float* y_row = y + l * y_stride;
    for (int64_t r = row_begin; r < row_end; ++r) {
      y_row[r] = accumulators[(r - first_row) * lanes + l];
    }
  }
}

// ---------------------------------------------------------------------------------------
// Decoded GEMM: a panel of rows x columns decoded to floats, column-major with panel_rows
// floats per column, times up to kMicroBatch input rows.

struct PanelJob {
  const float* panel;
  int64_t columns;
  int64_t rows;        // Valid rows of the panel; the others are zero.
  int64_t batch;       // Input rows: 1..kMicroBatch.
  const float* x;      // The input rows at the panel's first column.
  int64_t x_stride;
  float* y;            // The outputs at the panel's first row.
  int64_t y_stride;
  bool accumulate;     // Add to y (a later panel of columns) instead of overwriting it.
};

using PanelKernel = void (*)(const PanelJob&);

// 16 panel rows.
void PanelScalar(const PanelJob& job) {
  for (int64_t l = 0; l < job.batch; ++l) {
    float sums[16] = {};
    const float* x = job.x + l * job.x_stride;
    float* y = job.y + l * job.y_stride;
    if (job.accumulate) std::copy(y, y + job.rows, sums);
    for (int64_t c = 0; c < job.columns; ++c) {
      for (int i = 0; i < 16; ++i) sums[i] += job.panel[c * 16 + i] * x[c];
    }
    for (int64_t i = 0; i < job.rows; ++i) y[i] = sums[i];
  }
}

#ifdef MC_CODEBOOK_X86

// kBatch input rows, 16 panel rows.
template <int kBatch>
MC_TARGET_AVX2 void PanelAvx2(const PanelJob& job) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int rows = static_cast<int>(job.rows);
  const __m256i masks[2] = {_mm256_cmpgt_epi32(_mm256_set1_epi32(rows), lane),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(rows - 8), lane)};
  __m256 sums[kBatch][2];
#pragma GCC unroll 6
  for (int l = 0; l < kBatch; ++l) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      sums[l][h] = job.accumulate ? _mm256_maskload_ps(job.y + l * job.y_stride + h * 8, masks[h])
                                  : _mm256_setzero_ps();
    }
  }
  for (int64_t c = 0; c < job.columns; ++c) {
    const __m256 low = _mm256_loadu_ps(job.panel + c * 16);
    const __m256 high = _mm256_loadu_ps(job.panel + c * 16 + 8);
#pragma GCC unroll 6
    for (int l = 0; l < kBatch; ++l) {
      const __m256 input = _mm256_broadcast_ss(job.x + l * job.x_stride + c);
      sums[l][0] = _mm256_fmadd_ps(low, input, sums[l][0]);
      sums[l][1] = _mm256_fmadd_ps(high, input, sums[l][1]);
    }
  }
#pragma GCC unroll 6
  for (int l = 0; l < kBatch; ++l) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      _mm256_maskstore_ps(job.y + l * job.y_stride + h * 8, masks[h], sums[l][h]);
    }
  }
}

// kBatch input rows, 32 panel rows.
template <int kBatch>
MC_TARGET_AVX512 void PanelAvx512(const PanelJob& job) {
  const uint32_t valid_rows = job.rows >= 32 ? ~0u : (1u << job.rows) - 1;
  const __mmask16 masks[2] = {_cvtu32_mask16(valid_rows & 0xFFFFu),
                              _cvtu32_mask16(valid_rows >> 16)};
  __m512 sums[kBatch][2];
#pragma GCC unroll 6
  for (int l = 0; l < kBatch; ++l) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      sums[l][h] = job.accumulate
                       ? _mm512_maskz_loadu_ps(masks[h], job.y + l * job.y_stride + h * 16)
                       : _mm512_setzero_ps();
    }
  }
  for (int64_t c = 0; c < job.columns; ++c) {
    const __m512 low = _mm512_loadu_ps(job.panel + c * 32);
    const __m512 high = _mm512_loadu_ps(job.panel + c * 32 + 16);
#pragma GCC unroll 6
    for (int l = 0; l < kBatch; ++l) {
      const __m512 input = _mm512_set1_ps(job.x[l * job.x_stride + c]);
      sums[l][0] = _mm512_fmadd_ps(low, input, sums[l][0]);
      sums[l][1] = _mm512_fmadd_ps(high, input, sums[l][1]);
    }
  }
#pragma GCC unroll 6
  for (int l = 0; l < kBatch; ++l) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      _mm512_mask_storeu_ps(job.y + l * job.y_stride + h * 16, masks[h], sums[l][h]);
    }
  }
}

#endif  // MC_CODEBOOK_X86

int64_t PanelRows(CodebookIsa isa) { return isa == CodebookIsa::kAvx512 ? 32 : 16; }

// The kernel for `batch` (1..kMicroBatch) input rows.
PanelKernel SelectPanelKernel(CodebookIsa isa, int64_t batch) {
#ifdef MC_CODEBOOK_X86
  static constexpr PanelKernel kAvx512[] = {&PanelAvx512<1>, &PanelAvx512<2>, &PanelAvx512<3>,
                                            &PanelAvx512<4>, &PanelAvx512<5>, &PanelAvx512<6>};
  static constexpr PanelKernel kAvx2[] = {&PanelAvx2<1>, &PanelAvx2<2>, &PanelAvx2<3>,
                                          &PanelAvx2<4>, &PanelAvx2<5>, &PanelAvx2<6>};
  if (isa == CodebookIsa::kAvx512) return kAvx512[batch - 1];
  if (isa == CodebookIsa::kAvx2) return kAvx2[batch - 1];
#endif
  return &PanelScalar;
}

// Decodes rows [row_begin, row_begin + rows) and columns [col_begin, col_begin + columns)
// (whole blocks) of W into `panel`, column-major with panel_rows floats per column.
template <typename Index>
void DecodePanel(const CodebookMatrix& w, const Index* indices, int64_t row_begin,
                 int64_t rows, int64_t col_begin, int64_t columns, int64_t panel_rows,
                 float* panel) {
  std::fill(panel, panel + columns * panel_rows, 0.0f);
  const int64_t d = w.block;
  const int64_t first_block = col_begin / d;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t r = row_begin + i;
    const Index* row_indices =
        indices + ((r / kRowGroup) * w.blocks_per_row() + first_block) * kRowGroup + r % kRowGroup;
    for (int64_t b = 0; b < columns / d; ++b) {
      const float* centroid = w.centroids_transposed.data() + row_indices[b * kRowGroup];
      float* out = panel + b * d * panel_rows + i;
      for (int64_t j = 0; j < d; ++j) out[j * panel_rows] = centroid[j * w.num_centroids];
    }
  }
}

void DecodePanel(const CodebookMatrix& w, int64_t row_begin, int64_t rows, int64_t col_begin,
                 int64_t columns, int64_t panel_rows, float* panel) {
  if (w.assignments16.empty()) {
    DecodePanel(w, w.assignments8.data(), row_begin, rows, col_begin, columns, panel_rows, panel);
  } else {
    DecodePanel(w, w.assignments16.data(), row_begin, rows, col_begin, columns, panel_rows,
                panel);
  }
}

// ---------------------------------------------------------------------------------------
// Cost model of the two methods, in nanoseconds of one core. The constants were measured on
// AMD Zen 5 with AVX-512; narrower ISAs need more vector FMAs for the same work.

constexpr double kScalarLookupNs = 0.21;  // A single-row lookup.
constexpr double kRowFillNs = 0.67;       // A vector FMA filling a single row's tables.
constexpr double kLanesStepNs = 0.55;     // A vector lookup or FMA of lane tables.
constexpr double kDecodeNs = 0.35;        // A decoded weight.
constexpr double kPanelFmaNs = 0.17;      // A vector FMA of the decoded product.

double VectorWidth(CodebookIsa isa) {
  return isa == CodebookIsa::kAvx512 ? 16.0 : isa == CodebookIsa::kAvx2 ? 8.0 : 4.0;
}

// One input row on its own tables.
double SingleRowCost(const CodebookMatrix& w, CodebookIsa isa) {
  const double fill = static_cast<double>(w.num_centroids) * w.cols / VectorWidth(isa);
  return fill * kRowFillNs + static_cast<double>(w.rows) * w.blocks_per_row() * kScalarLookupNs;
}

// Up to `lanes` input rows on lane-interleaved tables. A lookup costs about one cache line
// whatever the vector width.
double LanesCost(const CodebookMatrix& w, int64_t lanes, CodebookIsa isa) {
  const double fill = static_cast<double>(w.num_centroids) * w.cols *
                      std::ceil(lanes / VectorWidth(isa));
  return (fill + static_cast<double>(w.rows) * w.blocks_per_row()) * kLanesStepNs;
}

double DecodedCost(const CodebookMatrix& w, int64_t batch, CodebookIsa isa) {
  const double weights = static_cast<double>(w.rows) * w.cols;
  const double passes = static_cast<double>((batch + kDecodedBatchTile - 1) / kDecodedBatchTile);
  return weights * (passes * kDecodeNs + batch / VectorWidth(isa) * kPanelFmaNs);
}

}  // namespace

bool CodebookIsaSupported(CodebookIsa isa) {
#ifdef MC_CODEBOOK_X86
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  switch (isa) {
    case CodebookIsa::kScalar:
      return true;
    case CodebookIsa::kAvx2:
      return avx2;
    case CodebookIsa::kAvx512:
      return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == CodebookIsa::kScalar;
#endif
}

CodebookIsa BestCodebookIsa() {
  if (CodebookIsaSupported(CodebookIsa::kAvx512)) return CodebookIsa::kAvx512;
  if (CodebookIsaSupported(CodebookIsa::kAvx2)) return CodebookIsa::kAvx2;
  return CodebookIsa::kScalar;
}

int64_t LutChunkRows(const CodebookMatrix& w, int64_t remaining, CodebookIsa isa) {
  const int64_t rows = std::min(remaining, kMaxLutBatch);
  if (isa == CodebookIsa::kScalar || rows == 1) return 1;
  const bool single_rows_cheaper =
      rows * SingleRowCost(w, isa) <= LanesCost(w, LanesForBatch(rows), isa);
  return single_rows_cheaper ? 1 : rows;
}

CodebookGemmMethod ChooseCodebookGemm(const CodebookMatrix& w, int64_t batch,
                                      CodebookIsa isa) {
  double lut_cost = 0.0;
  for (int64_t first = 0; first < batch;) {
    const int64_t chunk = LutChunkRows(w, batch - first, isa);
    lut_cost += chunk == 1 ? SingleRowCost(w, isa) : LanesCost(w, LanesForBatch(chunk), isa);
    first += chunk;
  }
  return lut_cost <= DecodedCost(w, batch, isa) ? CodebookGemmMethod::kLut
                                                : CodebookGemmMethod::kDecoded;
}

void PrepareLutTables(const CodebookMatrix& w, int64_t batch, LutTables* tables) {
  tables->batch = batch;
  tables->lanes = LanesForBatch(batch);
  tables->blocks = w.blocks_per_row();
  tables->num_centroids = w.num_centroids;
  tables->values.resize(
      static_cast<size_t>(tables->blocks * tables->num_centroids * tables->lanes));
}

void FillLutTables(const CodebookMatrix& w, const float* x, int64_t x_stride,
                   int64_t block_begin, int64_t block_end, CodebookIsa isa, LutTables* tables) {
  FillBlocks(w, x, x_stride, tables->batch, tables->lanes, block_begin, block_end, isa,
             tables->values.data() + block_begin * w.num_centroids * tables->lanes);
}

void BuildLutTables(const CodebookMatrix& w, const float* x, int64_t batch, int64_t x_stride,
                    CodebookIsa isa, LutTables* tables) {
  PrepareLutTables(w, batch, tables);
  FillLutTables(w, x, x_stride, 0, tables->blocks, isa, tables);
}

void GemmFromLutTables(const CodebookMatrix& w, const LutTables& tables, float* y,
                       int64_t y_stride, int64_t row_begin, int64_t row_end, CodebookIsa isa,
                       LutScratch* scratch) {
  if (row_begin >= row_end) return;
  const RowGroups groups = GroupsOf(row_begin, row_end);
  const int64_t lanes = tables.lanes;
  scratch->accumulators.assign(static_cast<size_t>(groups.count * kRowGroup * lanes), 0.0f);
  const int64_t tile_blocks = TileBlocks(w.num_centroids, lanes);
  for (int64_t b0 = 0; b0 < tables.blocks; b0 += tile_blocks) {
    AccumulateTile(w, tables.values.data() + b0 * w.num_centroids * lanes, lanes, b0,
                   std::min(tile_blocks, tables.blocks - b0), groups, isa,
                   scratch->accumulators.data());
  }
  StoreRows(scratch->accumulators.data(), lanes, tables.batch, row_begin, row_end, y, y_stride);
}

void GemmLut(const CodebookMatrix& w, const float* x, int64_t batch, int64_t x_stride,
             float* y, int64_t y_stride, int64_t row_begin, int64_t row_end, CodebookIsa isa,
             LutWorkspace* workspace) {
  if (row_begin >= row_end) return;
  const RowGroups groups = GroupsOf(row_begin, row_end);
  const int64_t blocks = w.blocks_per_row();
  CacheAlignedVector<float>& accumulators = workspace->scratch.accumulators;
  for (int64_t first = 0; first < batch;) {
    const int64_t chunk = LutChunkRows(w, batch - first, isa);
    const int64_t lanes = LanesForBatch(chunk);
    const int64_t tile_blocks = std::min(blocks, TileBlocks(w.num_centroids, lanes));
    workspace->tile_tables.resize(static_cast<size_t>(tile_blocks * w.num_centroids * lanes));
    accumulators.assign(static_cast<size_t>(groups.count * kRowGroup * lanes), 0.0f);
    for (int64_t b0 = 0; b0 < blocks; b0 += tile_blocks) {
      const int64_t b1 = std::min(blocks, b0 + tile_blocks);
      FillBlocks(w, x + first * x_stride, x_stride, chunk, lanes, b0, b1, isa,
                 workspace->tile_tables.data());
      AccumulateTile(w, workspace->tile_tables.data(), lanes, b0, b1 - b0, groups, isa,
                     accumulators.data());
    }
    StoreRows(accumulators.data(), lanes, chunk, row_begin, row_end, y + first * y_stride,
              y_stride);
    first += chunk;
  }
}

void GemmDecoded(const CodebookMatrix& w, const float* x, int64_t batch, int64_t x_stride,
                 float* y, int64_t y_stride, int64_t row_begin, int64_t row_end,
                 CodebookIsa isa, DecodedWorkspace* workspace) {
  const int64_t panel_rows = PanelRows(isa);
  const int64_t max_columns = std::max<int64_t>(1, kPanelColumns / w.block) * w.block;
  workspace->panel.resize(static_cast<size_t>(panel_rows * max_columns));
  for (int64_t l0 = 0; l0 < batch; l0 += kDecodedBatchTile) {
    const int64_t l1 = std::min(batch, l0 + kDecodedBatchTile);
    for (int64_t c0 = 0; c0 < w.cols; c0 += max_columns) {
      PanelJob job;
      job.panel = workspace->panel.data();
      job.columns = std::min(max_columns, w.cols - c0);
      job.x_stride = x_stride;
      job.y_stride = y_stride;
      job.accumulate = c0 > 0;
      for (int64_t r0 = row_begin; r0 < row_end; r0 += panel_rows) {
        job.rows = std::min(panel_rows, row_end - r0);
        DecodePanel(w, r0, job.rows, c0, job.columns, panel_rows, workspace->panel.data());
        for (int64_t l = l0; l < l1; l += kMicroBatch) {
          job.batch = std::min(kMicroBatch, l1 - l);
          job.x = x + l * x_stride + c0;
          job.y = y + l * y_stride + r0;
          SelectPanelKernel(isa, job.batch)(job);
        }
      }
    }
  }
}

void CodebookGemm(const CodebookMatrix& w, const float* x, int64_t batch, int64_t x_stride,
                  float* y, int64_t y_stride, int64_t row_begin, int64_t row_end,
                  CodebookIsa isa, CodebookGemmWorkspace* workspace) {
  if (ChooseCodebookGemm(w, batch, isa) == CodebookGemmMethod::kLut) {
    GemmLut(w, x, batch, x_stride, y, y_stride, row_begin, row_end, isa, &workspace->lut);
  } else {
    GemmDecoded(w, x, batch, x_stride, y, y_stride, row_begin, row_end, isa,
                &workspace->decoded);
  }
}

}  // namespace mc::runtime
