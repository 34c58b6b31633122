// File: codebook_matrix.h
// A product-quantized weight matrix kept in its stored encoding, for inference without
// decoding the whole weight: one codebook of k centroids of d values each, and for every
// subvector of d consecutive values of a row the index of its centroid. Row r of a linear
// layer is output feature r; for a convolution the columns run along (in_channels, kh, kw).
//
// The indices are stored interleaved in groups of kRowGroup rows, so that one vector load
// gives the indices of one block for kRowGroup consecutive rows (the lookup kernels of
// runtime/codebook_kernels.h gather across rows). See CodebookMatrix for the exact layout.
//
// Example:
//   CodebookMatrix w = MakeCodebookMatrix(/*rows=*/512, /*cols=*/4608, /*block=*/9,
//                                         centroids.data(), centroids.size(),
//                                         assignments.data(), assignments.size());
//   std::vector<float> tile(16 * w.cols);
//   DecodeRows(w, 0, 16, tile.data());   // rows 0..15 as floats
#ifndef MC_RUNTIME_CODEBOOK_MATRIX_H_
#define MC_RUNTIME_CODEBOOK_MATRIX_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mc::runtime {

/// Rows whose indices are interleaved together (see CodebookMatrix).
inline constexpr int64_t kRowGroup = 16;

/// The largest codebook a CodebookMatrix holds (16-bit indices).
inline constexpr int64_t kMaxCentroids = int64_t{1} << 16;

/// A rows x cols weight W with W[r, b * block + j] = value j of centroid assignment(r, b).
/// The codebook is kept once, transposed (value j of every centroid in a row), the layout the
/// single-row tables load 8 or 16 centroids at a time from.
///
/// Index layout: rows are padded to a multiple of kRowGroup (padding rows use centroid 0)
/// and the index of (row r, block b) is element
///   ((r / kRowGroup) * blocks_per_row() + b) * kRowGroup + r % kRowGroup
/// of `assignments8` when num_centroids <= 256, else of `assignments16` (the other is empty).
struct CodebookMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t block = 0;          // d: values per subvector; divides cols.
  int64_t num_centroids = 0;  // k: 1..kMaxCentroids.
  std::vector<float> centroids_transposed;  // d x k: [j * k + c] = value j of centroid c.
  std::vector<uint8_t> assignments8;        // Interleaved indices when k <= 256.
  std::vector<uint16_t> assignments16;      // Interleaved indices when k > 256.

  /// Subvectors per row: cols / block.
  int64_t blocks_per_row() const { return block == 0 ? 0 : cols / block; }

  /// Row groups, the last one possibly padded: ceil(rows / kRowGroup).
  int64_t row_groups() const { return (rows + kRowGroup - 1) / kRowGroup; }

  /// Centroid index of (row, block_index).
  uint32_t Assignment(int64_t row, int64_t block_index) const;

  /// Bytes held: the struct and its arrays.
  size_t ResidentBytes() const;
};

/// Builds a CodebookMatrix from `centroid_values` floats (k x block, centroid-major; k =
/// centroid_values / block) and `assignment_count` indices in row-major (row, block) order.
/// \throws std::invalid_argument naming the problem if rows, cols or block is not positive,
///   block does not divide cols or centroid_values, k is not in 1..kMaxCentroids,
///   assignment_count is not rows * cols / block, or an index is outside [0, k).
CodebookMatrix MakeCodebookMatrix(int64_t rows, int64_t cols, int64_t block,
                                  const float* centroids, size_t centroid_values,
                                  const int64_t* assignments, size_t assignment_count);

/// The same with 32-bit indices.
CodebookMatrix MakeCodebookMatrix(int64_t rows, int64_t cols, int64_t block,
                                  const float* centroids, size_t centroid_values,
                                  const uint32_t* assignments, size_t assignment_count);

/// Writes rows [row_begin, row_end) of W, row-major, to `out`: (row_end - row_begin) x cols
/// floats. Requires 0 <= row_begin <= row_end <= w.rows.
void DecodeRows(const CodebookMatrix& w, int64_t row_begin, int64_t row_end, float* out);

/// The same with row r multiplied by row_scale[r - row_begin] (a BatchNorm folded into the
/// weight as it is decoded), or by 1 where row_scale is null.
void DecodeRows(const CodebookMatrix& w, int64_t row_begin, int64_t row_end,
                const float* row_scale, float* out);

}  // namespace mc::runtime

#endif  // MC_RUNTIME_CODEBOOK_MATRIX_H_
