// File: codebook_matrix.cc
// Validation and interleaving of a product-quantized matrix's indices, and its decoding.
#include "runtime/codebook_matrix.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace mc::runtime {
namespace {

void CheckShape(int64_t rows, int64_t cols, int64_t block, size_t centroid_values,
                size_t assignment_count) {
  if (rows <= 0 || cols <= 0 || block <= 0) {
    throw std::invalid_argument("codebook matrix: rows (" + std::to_string(rows) +
                                "), cols (" + std::to_string(cols) + ") and block (" +
                                std::to_string(block) + ") must be positive");
  }
  if (cols % block != 0) {
    throw std::invalid_argument("codebook matrix: block " + std::to_string(block) +
                                " does not divide cols " + std::to_string(cols));
  }
  if (centroid_values == 0 || centroid_values % block != 0 ||
      centroid_values / block > static_cast<size_t>(kMaxCentroids)) {
    throw std::invalid_argument(
        "codebook matrix: " + std::to_string(centroid_values) +
        " centroid values are not k x block floats with k in 1.." +
        std::to_string(kMaxCentroids) + " (block " + std::to_string(block) + ")");
  }
  if (rows > std::numeric_limits<int64_t>::max() / cols ||
      assignment_count != static_cast<size_t>(rows * (cols / block))) {
    throw std::invalid_argument("codebook matrix: " + std::to_string(assignment_count) +
                                " assignments, expected rows * cols / block = " +
                                std::to_string(rows) + " * " + std::to_string(cols / block));
  }
}

template <typename Index>
void CheckIndices(const Index* assignments, size_t count, int64_t num_centroids) {
  for (size_t i = 0; i < count; ++i) {
    const int64_t index = static_cast<int64_t>(assignments[i]);
    if (index < 0 || index >= num_centroids) {
      throw std::invalid_argument("codebook matrix: assignment " + std::to_string(i) + " is " +
                                  std::to_string(index) + ", outside [0, " +
                                  std::to_string(num_centroids) + ")");
    }
  }
}

// Copies row-major (row, block) indices into the interleaved layout of `stored`.
template <typename Stored, typename Index>
void Interleave(const Index* assignments, int64_t rows, int64_t blocks, int64_t row_groups,
                std::vector<Stored>* stored) {
  stored->assign(static_cast<size_t>(row_groups * blocks * kRowGroup), 0);
  for (int64_t r = 0; r < rows; ++r) {
    Stored* group = stored->data() + (r / kRowGroup) * blocks * kRowGroup + r % kRowGroup;
    for (int64_t b = 0; b < blocks; ++b) {
      group[b * kRowGroup] = static_cast<Stored>(assignments[r * blocks + b]);
    }
  }
}

template <typename Index>
CodebookMatrix Make(int64_t rows, int64_t cols, int64_t block, const float* centroids,
                    size_t centroid_values, const Index* assignments,
                    size_t assignment_count) {
  CheckShape(rows, cols, block, centroid_values, assignment_count);
  CodebookMatrix w;
  w.rows = rows;
  w.cols = cols;
  w.block = block;
  w.num_centroids = static_cast<int64_t>(centroid_values) / block;
  CheckIndices(assignments, assignment_count, w.num_centroids);
  w.centroids_transposed.resize(centroid_values);
  for (int64_t c = 0; c < w.num_centroids; ++c) {
    for (int64_t j = 0; j < block; ++j) {
      w.centroids_transposed[j * w.num_centroids + c] = centroids[c * block + j];
    }
  }
  if (w.num_centroids <= 256) {
    Interleave(assignments, rows, w.blocks_per_row(), w.row_groups(), &w.assignments8);
  } else {
    Interleave(assignments, rows, w.blocks_per_row(), w.row_groups(), &w.assignments16);
  }
  return w;
}

// Writes `blocks` subvectors of kBlock values (or `block` when kBlock is 0), each the
// centroid its index names times `scale`, from a centroid-major codebook. A block size known
// at compile time makes the copy a few vector moves instead of a call per subvector.
template <int kBlock, typename Stored>
void DecodeRow(const float* centroids, int64_t block, const Stored* indices, int64_t blocks,
               float scale, float* out) {
  const int64_t d = kBlock > 0 ? kBlock : block;
  for (int64_t b = 0; b < blocks; ++b) {
    const float* centroid = centroids + indices[b * kRowGroup] * d;
    for (int64_t j = 0; j < d; ++j) out[b * d + j] = scale * centroid[j];
  }
}

// DecodeRows from the stored indices, through a centroid-major copy of the codebook (k x d
// floats, small next to the rows it serves) so that each block is one contiguous copy.
template <typename Stored>
void DecodeRowsOf(const CodebookMatrix& w, const Stored* indices, int64_t row_begin,
                  int64_t row_end, const float* row_scale, float* out) {
  const int64_t k = w.num_centroids;
  const int64_t d = w.block;
  std::vector<float> centroids(k * d);
  for (int64_t j = 0; j < d; ++j) {
    for (int64_t c = 0; c < k; ++c) centroids[c * d + j] = w.centroids_transposed[j * k + c];
  }
  const int64_t blocks = w.blocks_per_row();
  for (int64_t r = row_begin; r < row_end; ++r) {
    const Stored* row_indices = indices + (r / kRowGroup) * blocks * kRowGroup + r % kRowGroup;
    float* row_out = out + (r - row_begin) * w.cols;
    const float scale = row_scale == nullptr ? 1.0f : row_scale[r - row_begin];
    // The block sizes of product quantization's defaults (9 for 3x3 convolutions, 4 for
    // pointwise and linear layers), of the benchmarks (8) and 16; any other runs generically.
    switch (d) {
      case 4: DecodeRow<4>(centroids.data(), d, row_indices, blocks, scale, row_out); break;
      case 8: DecodeRow<8>(centroids.data(), d, row_indices, blocks, scale, row_out); break;
      case 9: DecodeRow<9>(centroids.data(), d, row_indices, blocks, scale, row_out); break;
      case 16: DecodeRow<16>(centroids.data(), d, row_indices, blocks, scale, row_out); break;
      default: DecodeRow<0>(centroids.data(), d, row_indices, blocks, scale, row_out); break;
    }
  }
}

}  // namespace

uint32_t CodebookMatrix::Assignment(int64_t row, int64_t block_index) const {
  const size_t at = static_cast<size_t>(
      ((row / kRowGroup) * blocks_per_row() + block_index) * kRowGroup + row % kRowGroup);
  return assignments16.empty() ? assignments8[at] : assignments16[at];
}

size_t CodebookMatrix::ResidentBytes() const {
  return sizeof(*this) + centroids_transposed.size() * sizeof(float) +
         assignments8.size() * sizeof(uint8_t) + assignments16.size() * sizeof(uint16_t);
}

CodebookMatrix MakeCodebookMatrix(int64_t rows, int64_t cols, int64_t block,
                                  const float* centroids, size_t centroid_values,
                                  const int64_t* assignments, size_t assignment_count) {
  return Make(rows, cols, block, centroids, centroid_values, assignments, assignment_count);
}

CodebookMatrix MakeCodebookMatrix(int64_t rows, int64_t cols, int64_t block,
                                  const float* centroids, size_t centroid_values,
                                  const uint32_t* assignments, size_t assignment_count) {
  return Make(rows, cols, block, centroids, centroid_values, assignments, assignment_count);
}

void DecodeRows(const CodebookMatrix& w, int64_t row_begin, int64_t row_end,
                const float* row_scale, float* out) {
  if (w.assignments16.empty()) {
    DecodeRowsOf(w, w.assignments8.data(), row_begin, row_end, row_scale, out);
  } else {
    DecodeRowsOf(w, w.assignments16.data(), row_begin, row_end, row_scale, out);
  }
}

void DecodeRows(const CodebookMatrix& w, int64_t row_begin, int64_t row_end, float* out) {
  DecodeRows(w, row_begin, row_end, /*row_scale=*/nullptr, out);
}

}  // namespace mc::runtime
