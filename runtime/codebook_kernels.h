// File: codebook_kernels.h
// Products y = x W^T of a batch of input rows with a product-quantized weight kept in its
// stored encoding (runtime/codebook_matrix.h), without torch. Two methods:
//  - lookup tables (as in LUT-GEMM and T-MAC): for an input row and a block b,
//    T[b][c] = dot(centroid c, x[b*d : (b+1)*d]) for every centroid c, after which
//    y[r] = sum_b T[b][assignment(r, b)] costs one lookup and one add per d weights. Building
//    the tables costs k * cols multiply-adds per input row, so this pays off when the matrix
//    has many more rows than centroids;
//  - decoded tiles: rows x 256 columns at a time decoded to floats and multiplied with FMA,
//    for the other shapes and large batches of small layers.
// CodebookGemm picks the faster one from a cost model (ChooseCodebookGemm).
//
// Every output is summed in a fixed order (lookup method: over the blocks in ascending
// order, one float add at a time; decoded method: over the columns, one FMA at a time), so a
// row's result does not depend on how the rows are split among calls or threads. Within the
// lookup method, it does not depend on the ISA path of the lookups either, only on the ISA
// that built the tables (the AVX paths build them with FMA).
//
// Tables hold up to kMaxLutBatch input rows: one row's tables are [block][centroid] and
// looked up with scalar loads (faster than vector gathers on AMD Zen 5), several rows' are
// lane-interleaved [block][centroid][lane] so that one vector load serves all of them.
//
// Example, one thread (or threads each computing their rows [begin, end) of y):
//   CodebookGemmWorkspace workspace;  // one per thread, reused across calls
//   CodebookGemm(w, x, batch, x_stride, y, y_stride, begin, end, BestCodebookIsa(),
//                &workspace);
// Example, threads sharing the tables of each chunk of input rows:
//   for (int64_t first = 0; first < batch; first += chunk) {
//     chunk = LutChunkRows(w, batch - first, isa);
//     PrepareLutTables(w, chunk, &tables);
//     // each thread: FillLutTables(w, x + first * x_stride, x_stride, its blocks, isa, &tables)
//     // barrier; each thread: GemmFromLutTables(w, tables, y + first * y_stride, y_stride,
//     //                                         its rows, isa, &its_scratch); barrier
//   }
#ifndef MC_RUNTIME_CODEBOOK_KERNELS_H_
#define MC_RUNTIME_CODEBOOK_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "runtime/codebook_matrix.h"

namespace mc::runtime {

/// Instruction set of a kernel path.
enum class CodebookIsa { kScalar, kAvx2, kAvx512 };

/// Whether this CPU runs `isa` (kAvx2 needs AVX2 and FMA; kAvx512 also AVX-512 F/BW/VL).
bool CodebookIsaSupported(CodebookIsa isa);

/// The widest path this CPU runs.
CodebookIsa BestCodebookIsa();

/// Allocator of 64-byte aligned storage, so that vector loads never split cache lines.
template <typename T>
struct CacheAlignedAllocator {
  using value_type = T;
  CacheAlignedAllocator() = default;
  template <typename U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) {}  // NOLINT: allocator rebinding.
  T* allocate(size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64}));
  }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{64}); }
  template <typename U>
  bool operator==(const CacheAlignedAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const CacheAlignedAllocator<U>&) const { return false; }
};

template <typename T>
using CacheAlignedVector = std::vector<T, CacheAlignedAllocator<T>>;

/// Input rows held by one set of lookup tables.
inline constexpr int64_t kMaxLutBatch = 16;

/// Lookup tables of `batch` input rows: values[(b * num_centroids + c) * lanes + l] =
/// dot(centroid c, x[l][b*d : (b+1)*d]), with lanes = 1 for one row, else 8 or 16 (batch
/// rounded up, zeros in the padding lanes).
struct LutTables {
  int64_t batch = 0;
  int64_t lanes = 0;
  int64_t blocks = 0;
  int64_t num_centroids = 0;
  CacheAlignedVector<float> values;
};

/// Per-thread work space of GemmFromLutTables.
struct LutScratch {
  CacheAlignedVector<float> accumulators;
};

/// Work space of GemmLut: the tables of one tile of blocks and the accumulators.
struct LutWorkspace {
  CacheAlignedVector<float> tile_tables;
  LutScratch scratch;
};

/// Work space of GemmDecoded: one decoded panel of rows.
struct DecodedWorkspace {
  CacheAlignedVector<float> panel;
};

/// Work space of CodebookGemm.
struct CodebookGemmWorkspace {
  LutWorkspace lut;
  DecodedWorkspace decoded;
};

/// How many of `remaining` (>= 1) input rows the next set of tables should hold: 1 when
/// separate single-row tables cost less than one set of lane tables for them (always on the
/// scalar path), else min(remaining, kMaxLutBatch). Depends on w's shape, not on a row range.
int64_t LutChunkRows(const CodebookMatrix& w, int64_t remaining, CodebookIsa isa);

/// Sizes `tables` for `batch` (1..kMaxLutBatch) input rows of `w`; FillLutTables then writes
/// the values.
void PrepareLutTables(const CodebookMatrix& w, int64_t batch, LutTables* tables);

/// Computes the tables of blocks [block_begin, block_end) of the input rows
/// x[l * x_stride + c], l < tables->batch, c < w.cols. Threads may fill disjoint block ranges
/// of the same tables concurrently.
void FillLutTables(const CodebookMatrix& w, const float* x, int64_t x_stride,
                   int64_t block_begin, int64_t block_end, CodebookIsa isa, LutTables* tables);

/// PrepareLutTables, then FillLutTables over all blocks.
void BuildLutTables(const CodebookMatrix& w, const float* x, int64_t batch, int64_t x_stride,
                    CodebookIsa isa, LutTables* tables);

/// y[l * y_stride + r] = sum_c x[l][c] * W[r, c] for the tables' input rows l and the rows r
/// in [row_begin, row_end), 0 <= row_begin <= row_end <= w.rows; nothing else of y is
/// written. `tables` are only read, so threads may share them, each with its own scratch.
void GemmFromLutTables(const CodebookMatrix& w, const LutTables& tables, float* y,
                       int64_t y_stride, int64_t row_begin, int64_t row_end, CodebookIsa isa,
                       LutScratch* scratch);

/// y[l * y_stride + r] = sum_c x[l * x_stride + c] * W[r, c] for l < batch and the rows r in
/// [row_begin, row_end), by lookup tables. Takes the input rows in chunks of LutChunkRows and
/// builds their tables one cache-sized tile of blocks at a time, each tile looked up by all
/// the rows before the next is built. Bitwise equal to BuildLutTables + GemmFromLutTables
/// over the same chunks, and faster (the tables never leave the cache).
void GemmLut(const CodebookMatrix& w, const float* x, int64_t batch, int64_t x_stride,
             float* y, int64_t y_stride, int64_t row_begin, int64_t row_end, CodebookIsa isa,
             LutWorkspace* workspace);

/// The same product from decoded tiles of the weight multiplied with FMA: 16 (32 with
/// AVX-512) rows x 256 columns at a time, decoded once per 256 input rows.
void GemmDecoded(const CodebookMatrix& w, const float* x, int64_t batch, int64_t x_stride,
                 float* y, int64_t y_stride, int64_t row_begin, int64_t row_end,
                 CodebookIsa isa, DecodedWorkspace* workspace);

/// A way of computing the product.
enum class CodebookGemmMethod { kLut, kDecoded };

/// The method the cost model expects to be faster for `batch` input rows of `w` on `isa`.
/// Depends on w's shape, not on a row range, so threads splitting the rows agree.
CodebookGemmMethod ChooseCodebookGemm(const CodebookMatrix& w, int64_t batch,
                                      CodebookIsa isa);

/// The product by the method ChooseCodebookGemm picks (arguments as GemmLut's).
void CodebookGemm(const CodebookMatrix& w, const float* x, int64_t batch, int64_t x_stride,
                  float* y, int64_t y_stride, int64_t row_begin, int64_t row_end,
                  CodebookIsa isa, CodebookGemmWorkspace* workspace);

}  // namespace mc::runtime

#endif  // MC_RUNTIME_CODEBOOK_KERNELS_H_
