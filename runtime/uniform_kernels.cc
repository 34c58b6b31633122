// File: uniform_kernels.cc
// Activation quantization, the portable (scalar) kernels, and the driver of the SIMD paths:
// it cuts each weight row into runs of tiles of one container and affine map for the tile
// kernels of the selected instruction set, and adds the rest (tiles whose blocks differ, a
// partial last tile) block by block with the scalar code.
//
// Per weight row and activation row, the SIMD paths add scale * dot(x, levels) per run and
// the offset term offset * sum(x) from prefix sums of x over tiles (in double), so a row of
// one affine map costs one tile kernel call per group of activation rows. Weight rows go by
// chunks of kRowChunk (their bytes stay in cache while every group of activation rows passes
// over them), and with several activation rows, two weight rows of the same tile layout share
// one kernel call: each activation load then feeds twice the multiply-adds, which doubles the
// speed of batched products (loads, not arithmetic, limit the single-row loop).
//
// Rows whose width or affine group changes every few blocks would make many short runs; their
// tiles go instead to tile lists, one per container, each tile with its own affine map.
#include "runtime/uniform_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "runtime/blocked_levels.h"
#include "runtime/cpu_features.h"
#include "runtime/uniform_kernels_internal.h"

namespace mc::runtime {
namespace {

using internal::kMaxTileRows;
using internal::kMaxWeightRows;
using internal::kTile;
using internal::TileKernels;
using internal::TileRef;

// Weight rows whose packed bytes stay in cache while every group of activation rows passes.
constexpr int64_t kRowChunk = 16;

int64_t BlockBytes(int block, int width) { return block * ContainerBits(width) / 8; }

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Index 0..3 of container 1, 2, 4, 8.
int ContainerSlot(int container) { return __builtin_ctz(static_cast<unsigned>(container)); }

// Adds blocks [block_begin, block_end) of `row` (packed from `bytes`) times `rows` float
// activation rows (x[k * x_stride + c]) to totals[k].
void AddBlocksFloat(const BlockedLevels& w, int64_t row, int64_t block_begin, int64_t block_end,
                    const uint8_t* bytes, const float* x, int64_t x_stride, int64_t rows,
                    double* totals) {
  uint8_t levels[kTile];
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int width = w.BlockWidth(row, b);
    const int64_t affine = w.AffineIndex(row, b);
    const int count = static_cast<int>(std::min<int64_t>(w.block, w.cols - b * w.block));
    UnpackBlockLevels(bytes, ContainerBits(width), count, levels);
    for (int64_t k = 0; k < rows; ++k) {
      const float* xb = x + k * x_stride + b * w.block;
      float dot = 0.0f;
      float sum = 0.0f;
      for (int i = 0; i < count; ++i) {
        dot += xb[i] * levels[i];
        sum += xb[i];
      }
      totals[k] += static_cast<double>(w.affine_offset[affine]) * sum +
                   static_cast<double>(w.affine_scale[affine]) * dot;
    }
    bytes += BlockBytes(w.block, width);
  }
}

// Adds blocks [block_begin, block_end) of `row` (packed from `bytes`) times the quantized
// activation rows [first, first + rows) of xq to totals[k].
void AddBlocksInt8(const BlockedLevels& w, int64_t row, int64_t block_begin, int64_t block_end,
                   const uint8_t* bytes, const QuantizedActivations& xq, int64_t first,
                   int64_t rows, double* totals) {
  uint8_t levels[kTile];
  const int64_t sums_per_row = xq.padded_cols / 8;
  const int64_t scales_per_row = xq.padded_cols / kActivationBlock;
  for (int64_t b = block_begin; b < block_end; ++b) {
    const int width = w.BlockWidth(row, b);
    const int64_t affine = w.AffineIndex(row, b);
    const int64_t col = b * w.block;
    UnpackBlockLevels(bytes, ContainerBits(width), w.block, levels);
    for (int64_t k = 0; k < rows; ++k) {
      const int8_t* q = xq.q.data() + (first + k) * xq.padded_cols + col;
      int32_t dot = 0;
      for (int i = 0; i < w.block; ++i) dot += q[i] * levels[i];
      const int32_t* sums = xq.sums8.data() + (first + k) * sums_per_row + col / 8;
      const int32_t sum = std::accumulate(sums, sums + w.block / 8, 0);
      const double d = xq.scale[(first + k) * scales_per_row + col / kActivationBlock];
      totals[k] += d * (static_cast<double>(w.affine_scale[affine]) * dot +
                        static_cast<double>(w.affine_offset[affine]) * sum);
    }
    bytes += BlockBytes(w.block, width);
  }
}

void ScalarGemmFloat(const BlockedLevels& w, const float* x, int64_t batch, int64_t x_stride,
                     float* y, int64_t y_stride, int64_t row_begin, int64_t row_end) {
  std::vector<double> totals(batch);
  for (int64_t r = row_begin; r < row_end; ++r) {
    std::fill(totals.begin(), totals.end(), 0.0);
    AddBlocksFloat(w, r, 0, w.blocks_per_row, w.packed.data() + w.row_offsets[r], x, x_stride,
                   batch, totals.data());
    for (int64_t b = 0; b < batch; ++b) y[b * y_stride + r] = static_cast<float>(totals[b]);
  }
}

void ScalarGemmInt8(const BlockedLevels& w, const QuantizedActivations& xq, float* y,
                    int64_t y_stride, int64_t row_begin, int64_t row_end) {
  std::vector<double> totals(xq.batch);
  for (int64_t r = row_begin; r < row_end; ++r) {
    std::fill(totals.begin(), totals.end(), 0.0);
    AddBlocksInt8(w, r, 0, w.blocks_per_row, w.packed.data() + w.row_offsets[r], xq, 0, xq.batch,
                  totals.data());
    for (int64_t b = 0; b < xq.batch; ++b) y[b * y_stride + r] = static_cast<float>(totals[b]);
  }
}

// A run of tiles of one row: whole tiles sharing one container and affine map (container > 0)
// for a tile kernel, or one tile added block by block (container 0) because its blocks differ
// or it is the partial last tile of the row.
struct Segment {
  int64_t tile_begin = 0;
  int64_t tile_end = 0;
  int64_t byte_offset = 0;  // Into BlockedLevels::packed.
  int container = 0;
  int64_t affine = 0;
};

// Appends the segments of `row`, in column order, to `segments`.
void AppendRowSegments(const BlockedLevels& w, int64_t row, std::vector<Segment>* segments) {
  const int64_t blocks_per_tile = kTile / w.block;
  const int64_t tiles = CeilDiv(w.blocks_per_row, blocks_per_tile);
  int64_t offset = w.row_offsets[row];
  if (w.block_bits.empty() && w.block_group.empty()) {
    const int64_t whole = w.blocks_per_row / blocks_per_tile;
    const int container = ContainerBits(w.bits);
    if (whole > 0) segments->push_back({0, whole, offset, container, w.bits});
    if (whole < tiles) segments->push_back({whole, tiles, offset + whole * 4 * container, 0, 0});
    return;
  }
  const size_t row_first = segments->size();
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t first = t * blocks_per_tile;
    const int64_t last = std::min(first + blocks_per_tile, w.blocks_per_row);
    const int64_t affine = w.AffineIndex(row, first);
    bool uniform = last - first == blocks_per_tile;
    int64_t bytes = 0;
    for (int64_t b = first; b < last; ++b) {
      bytes += BlockBytes(w.block, w.BlockWidth(row, b));
      uniform = uniform && w.AffineIndex(row, b) == affine;
    }
    const int container = uniform ? ContainerBits(w.BlockWidth(row, first)) : 0;
    if (container > 0 && segments->size() > row_first && segments->back().container == container &&
        segments->back().affine == affine) {
      segments->back().tile_end = t + 1;
    } else {
      segments->push_back({t, t + 1, offset, container, affine});
    }
    offset += bytes;
  }
}

// Bit ContainerSlot(c) is set for each container c used by rows [row_begin, row_end).
unsigned UsedContainers(const BlockedLevels& w, int64_t row_begin, int64_t row_end) {
  if (w.block_bits.empty()) return 1u << ContainerSlot(ContainerBits(w.bits));
  unsigned used = 0;
  for (int64_t i = row_begin * w.blocks_per_row; i < row_end * w.blocks_per_row; ++i) {
    used |= 1u << ContainerSlot(ContainerBits(w.block_bits[i]));
  }
  return used;
}

// Activation rows rearranged in tile order for each container used, and prefix sums over
// tiles of each row's offset factor (sum of x, or d * sum of q).
template <typename T>
struct ActivationPanel {
  int64_t tiles = 0;
  std::vector<T> tile_order[4];  // By ContainerSlot: rows x tiles * kTile.
  std::vector<double> prefix;    // rows x (tiles + 1).

  const T* Row(int container, int64_t row, int64_t tile) const {
    return tile_order[ContainerSlot(container)].data() + (row * tiles + tile) * kTile;
  }
  double OffsetFactor(int64_t row, const Segment& segment) const {
    const double* row_prefix = prefix.data() + row * (tiles + 1);
    return row_prefix[segment.tile_end] - row_prefix[segment.tile_begin];
  }
};

// Fills panel->tile_order for the containers in `used` from `rows` rows of `cols` values
// (row k at natural + k * stride); columns past cols read as 0.
template <typename T>
void RearrangeRows(const T* natural, int64_t rows, int64_t stride, int64_t cols, unsigned used,
                   ActivationPanel<T>* panel) {
  for (int slot = 0; slot < 4; ++slot) {
    if ((used >> slot & 1) == 0) continue;
    int column_of[kTile];
    for (int p = 0; p < kTile; ++p) column_of[p] = internal::TileColumn(1 << slot, p);
    std::vector<T>& out = panel->tile_order[slot];
    out.assign(rows * panel->tiles * kTile, T{0});
    for (int64_t k = 0; k < rows; ++k) {
      for (int64_t t = 0; t < panel->tiles; ++t) {
        T* tile = out.data() + (k * panel->tiles + t) * kTile;
        for (int p = 0; p < kTile; ++p) {
          const int64_t col = t * kTile + column_of[p];
          if (col < cols) tile[p] = natural[k * stride + col];
        }
      }
    }
  }
}

ActivationPanel<float> FloatPanel(const BlockedLevels& w, const float* x, int64_t batch,
                                  int64_t x_stride, unsigned used) {
  ActivationPanel<float> panel;
  panel.tiles = CeilDiv(w.cols, kTile);
  RearrangeRows(x, batch, x_stride, w.cols, used, &panel);
  panel.prefix.assign(batch * (panel.tiles + 1), 0.0);
  for (int64_t b = 0; b < batch; ++b) {
    double* prefix = panel.prefix.data() + b * (panel.tiles + 1);
    for (int64_t t = 0; t < panel.tiles; ++t) {
      const int64_t end = std::min<int64_t>((t + 1) * kTile, w.cols);
      double sum = 0.0;
      for (int64_t c = t * kTile; c < end; ++c) sum += x[b * x_stride + c];
      prefix[t + 1] = prefix[t] + sum;
    }
  }
  return panel;
}

ActivationPanel<int8_t> Int8Panel(const QuantizedActivations& xq, unsigned used) {
  ActivationPanel<int8_t> panel;
  panel.tiles = xq.padded_cols / kTile;
  RearrangeRows(xq.q.data(), xq.batch, xq.padded_cols, xq.padded_cols, used, &panel);
  panel.prefix.assign(xq.batch * (panel.tiles + 1), 0.0);
  for (int64_t b = 0; b < xq.batch; ++b) {
    double* prefix = panel.prefix.data() + b * (panel.tiles + 1);
    for (int64_t t = 0; t < panel.tiles; ++t) {
      const int32_t* sums = xq.sums8.data() + (b * panel.tiles + t) * (kTile / 8);
      const int32_t sum = std::accumulate(sums, sums + kTile / 8, 0);
      prefix[t + 1] = prefix[t] + static_cast<double>(xq.scale[b * panel.tiles + t]) * sum;
    }
  }
  return panel;
}

// Blocks [first, last) covered by `segment`.
std::pair<int64_t, int64_t> SegmentBlocks(const BlockedLevels& w, const Segment& segment) {
  const int64_t blocks_per_tile = kTile / w.block;
  return {segment.tile_begin * blocks_per_tile,
          std::min(segment.tile_end * blocks_per_tile, w.blocks_per_row)};
}

// Adds scale * dots + offset * (the panel's offset factor) of parts[j] to totals[j][k] (j:
// weight row, k: activation row first + k).
template <typename T>
void AddAffine(const BlockedLevels& w, const Segment* parts, int weight_rows,
               const ActivationPanel<T>& panel, int64_t first, int rows, const float* dots,
               double (*totals)[kMaxTileRows]) {
  for (int j = 0; j < weight_rows; ++j) {
    const double scale = w.affine_scale[parts[j].affine];
    const double offset = w.affine_offset[parts[j].affine];
    for (int k = 0; k < rows; ++k) {
      totals[j][k] += scale * dots[j * rows + k] + offset * panel.OffsetFactor(first + k, parts[j]);
    }
  }
}

// Float activations for the segment driver.
class FloatMode {
 public:
  // Two weight rows share each activation load from this many activation rows on.
  static constexpr int kMinRowsToPair = 2;

  FloatMode(const BlockedLevels& w, const float* x, int64_t batch, int64_t x_stride, unsigned used,
            const TileKernels& kernels)
      : w_(w),
        x_(x),
        x_stride_(x_stride),
        panel_(FloatPanel(w, x, batch, x_stride, used)),
        kernels_(kernels) {}

  const TileKernels& kernels() const { return kernels_; }

  // Adds parts[j] (the same tiles of weight rows row + j, j < weight_rows) times activation
  // rows [first, first + rows) to totals[j][k].
  void AddSegment(int64_t row, int weight_rows, const Segment* parts, int64_t first, int rows,
                  double (*totals)[kMaxTileRows]) const {
    if (parts[0].container == 0) {
      for (int j = 0; j < weight_rows; ++j) {
        const auto [block_begin, block_end] = SegmentBlocks(w_, parts[j]);
        AddBlocksFloat(w_, row + j, block_begin, block_end, w_.packed.data() + parts[j].byte_offset,
                       x_ + first * x_stride_, x_stride_, rows, totals[j]);
      }
      return;
    }
    const float* x[kMaxTileRows];
    for (int k = 0; k < rows; ++k) {
      x[k] = panel_.Row(parts[0].container, first + k, parts[0].tile_begin);
    }
    const uint8_t* bytes[kMaxWeightRows];
    for (int j = 0; j < weight_rows; ++j) bytes[j] = w_.packed.data() + parts[j].byte_offset;
    float dots[kMaxWeightRows * kMaxTileRows];
    kernels_.float_tiles(parts[0].container, bytes, weight_rows,
                         parts[0].tile_end - parts[0].tile_begin, x, rows, dots);
    AddAffine(w_, parts, weight_rows, panel_, first, rows, dots, totals);
  }

  // Adds the `count` listed tiles of `container` of one weight row times activation rows
  // [first, first + rows) to totals[k].
  void AddList(int container, const TileRef* tiles, size_t count, int64_t first, int rows,
               double* totals) const {
    const float* x[kMaxTileRows];
    for (int k = 0; k < rows; ++k) x[k] = panel_.Row(container, first + k, 0);
    float dots[kMaxTileRows];
    kernels_.float_list(container, w_.packed.data(), tiles, count, x, rows, dots);
    for (int k = 0; k < rows; ++k) totals[k] += dots[k];
  }

 private:
  const BlockedLevels& w_;
  const float* x_;
  int64_t x_stride_;
  ActivationPanel<float> panel_;
  const TileKernels& kernels_;
};

// Int8 activations for the segment driver.
class Int8Mode {
 public:
  // Two weight rows share each activation load from this many activation rows on (below, the
  // two weight streams cost more memory bandwidth than the loads they save).
  static constexpr int kMinRowsToPair = 3;

  Int8Mode(const BlockedLevels& w, const QuantizedActivations& xq, unsigned used,
           const TileKernels& kernels)
      : w_(w), xq_(xq), panel_(Int8Panel(xq, used)), kernels_(kernels) {
    tile_sums_.resize(xq.batch * panel_.tiles);
    for (size_t i = 0; i < tile_sums_.size(); ++i) {
      const int32_t* sums = xq.sums8.data() + i * (kTile / 8);
      tile_sums_[i] = xq.scale[i] * std::accumulate(sums, sums + kTile / 8, 0);
    }
  }

  const TileKernels& kernels() const { return kernels_; }

  // Adds parts[j] (the same tiles of weight rows row + j, j < weight_rows) times activation
  // rows [first, first + rows) to totals[j][k].
  void AddSegment(int64_t row, int weight_rows, const Segment* parts, int64_t first, int rows,
                  double (*totals)[kMaxTileRows]) const {
    if (parts[0].container == 0) {
      for (int j = 0; j < weight_rows; ++j) {
        const auto [block_begin, block_end] = SegmentBlocks(w_, parts[j]);
        AddBlocksInt8(w_, row + j, block_begin, block_end, w_.packed.data() + parts[j].byte_offset,
                      xq_, first, rows, totals[j]);
      }
      return;
    }
    const int8_t* q[kMaxTileRows];
    const float* d[kMaxTileRows];
    for (int k = 0; k < rows; ++k) {
      q[k] = panel_.Row(parts[0].container, first + k, parts[0].tile_begin);
      d[k] = xq_.scale.data() + (first + k) * panel_.tiles + parts[0].tile_begin;
    }
    const uint8_t* bytes[kMaxWeightRows];
    for (int j = 0; j < weight_rows; ++j) bytes[j] = w_.packed.data() + parts[j].byte_offset;
    float dots[kMaxWeightRows * kMaxTileRows];
    kernels_.int8_tiles(parts[0].container, bytes, weight_rows,
                        parts[0].tile_end - parts[0].tile_begin, q, d, rows, dots);
    AddAffine(w_, parts, weight_rows, panel_, first, rows, dots, totals);
  }

  // Adds the `count` listed tiles of `container` of one weight row times activation rows
  // [first, first + rows) to totals[k].
  void AddList(int container, const TileRef* tiles, size_t count, int64_t first, int rows,
               double* totals) const {
    const int8_t* q[kMaxTileRows];
    const float* d[kMaxTileRows];
    const float* sums[kMaxTileRows];
    for (int k = 0; k < rows; ++k) {
      q[k] = panel_.Row(container, first + k, 0);
      d[k] = xq_.scale.data() + (first + k) * panel_.tiles;
      sums[k] = tile_sums_.data() + (first + k) * panel_.tiles;
    }
    float dots[kMaxTileRows];
    kernels_.int8_list(container, w_.packed.data(), tiles, count, q, d, sums, rows, dots);
    for (int k = 0; k < rows; ++k) totals[k] += dots[k];
  }

 private:
  const BlockedLevels& w_;
  const QuantizedActivations& xq_;
  ActivationPanel<int8_t> panel_;
  std::vector<float> tile_sums_;  // batch x tiles: d * sum of q over each tile (tile lists).
  const TileKernels& kernels_;
};

// Rows whose runs of one affine map average fewer blocks than this (many width or affine
// changes) go to the tile-list kernels: one run's kernel call and reduction cost about as much
// as that many tiles of a list.
constexpr int64_t kMinBlocksPerRun = 16;

// The number of i in [1, count) with values[i] != values[i - 1].
template <typename T>
int64_t CountChanges(const T* values, int64_t count) {
  int64_t changes = 0;
  for (int64_t i = 1; i < count; ++i) changes += values[i] != values[i - 1];
  return changes;
}

// Whether `row` changes width or group so often that tile lists beat runs (counting a block
// where both change twice).
bool PrefersTileLists(const BlockedLevels& w, int64_t row) {
  const int64_t first = row * w.blocks_per_row;
  int64_t runs = 1;
  if (!w.block_bits.empty()) runs += CountChanges(w.block_bits.data() + first, w.blocks_per_row);
  if (!w.block_group.empty()) runs += CountChanges(w.block_group.data() + first, w.blocks_per_row);
  return runs >= 2 && runs * kMinBlocksPerRun > w.blocks_per_row;
}

// The work of the weight rows of one chunk: each row's segments, or for rows of short runs,
// the tiles of each container as tile lists (and block-by-block segments for tiles whose
// blocks differ).
class ChunkSegments {
 public:
  void Build(const BlockedLevels& w, int64_t chunk_begin, int64_t chunk_end) {
    first_row_ = chunk_begin;
    segments_.clear();
    for (std::vector<TileRef>& list : lists_) list.clear();
    rows_.clear();
    for (int64_t r = chunk_begin; r < chunk_end; ++r) {
      RowWork row;
      row.segment_begin = segments_.size();
      row.has_lists = PrefersTileLists(w, r);
      if (row.has_lists) {
        AppendRowLists(w, r, &row);
      } else {
        AppendRowSegments(w, r, &segments_);
      }
      row.segment_end = segments_.size();
      rows_.push_back(row);
    }
  }

  int64_t first_row() const { return first_row_; }
  int64_t rows() const { return static_cast<int64_t>(rows_.size()); }
  const Segment* Segments(int64_t i) const { return segments_.data() + rows_[i].segment_begin; }
  size_t NumSegments(int64_t i) const { return rows_[i].segment_end - rows_[i].segment_begin; }
  bool HasLists(int64_t i) const { return rows_[i].has_lists; }
  // The tiles of container 1 << slot of chunk row i, when it has lists.
  const TileRef* List(int64_t i, int slot) const {
    return lists_[slot].data() + rows_[i].list_begin[slot];
  }
  size_t ListSize(int64_t i, int slot) const {
    return rows_[i].list_end[slot] - rows_[i].list_begin[slot];
  }

  // Whether chunk rows i and i + 1 have segments of the same tiles and containers and no
  // lists, so that one kernel call per segment multiplies both (their affine maps may differ).
  bool SameTiles(int64_t i) const {
    if (i + 1 >= rows() || HasLists(i) || HasLists(i + 1)) return false;
    if (NumSegments(i) != NumSegments(i + 1)) return false;
    const Segment* a = Segments(i);
    const Segment* b = Segments(i + 1);
    for (size_t s = 0; s < NumSegments(i); ++s) {
      if (a[s].tile_begin != b[s].tile_begin || a[s].tile_end != b[s].tile_end ||
          a[s].container != b[s].container) {
        return false;
      }
    }
    return true;
  }

 private:
  struct RowWork {
    size_t segment_begin = 0;
    size_t segment_end = 0;
    bool has_lists = false;
    size_t list_begin[4] = {};  // Into lists_[slot].
    size_t list_end[4] = {};
  };

  // Appends each tile of `row` to the list of its container, or as a block-by-block segment
  // when its blocks differ or it is the partial last tile (blocks of 8 or 16).
  void AppendRowLists(const BlockedLevels& w, int64_t row, RowWork* work) {
    for (int slot = 0; slot < 4; ++slot) work->list_begin[slot] = lists_[slot].size();
    if (w.block == kTile) {
      AppendBlockTiles(w, row);
    } else {
      AppendMixedTiles(w, row);
    }
    for (int slot = 0; slot < 4; ++slot) work->list_end[slot] = lists_[slot].size();
  }

  void AppendTile(int container, int64_t tile, int64_t byte_offset, float scale, float offset) {
    // Fields stored one by one: a braced temporary costs a store-forwarding stall per tile.
    TileRef& ref = lists_[ContainerSlot(container)].emplace_back();
    ref.tile = tile;
    ref.byte_offset = byte_offset;
    ref.scale = scale;
    ref.offset = offset;
  }

  // AppendRowLists for blocks of 32 columns: one block per tile.
  void AppendBlockTiles(const BlockedLevels& w, int64_t row) {
    int64_t offset = w.row_offsets[row];
    for (int64_t b = 0; b < w.blocks_per_row; ++b) {
      const int container = ContainerBits(w.BlockWidth(row, b));
      const int64_t affine = w.AffineIndex(row, b);
      AppendTile(container, b, offset, w.affine_scale[affine], w.affine_offset[affine]);
      offset += 4 * container;
    }
  }

  // AppendRowLists for blocks of 8 or 16 columns.
  void AppendMixedTiles(const BlockedLevels& w, int64_t row) {
    const int64_t blocks_per_tile = kTile / w.block;
    const int64_t tiles = CeilDiv(w.blocks_per_row, blocks_per_tile);
    int64_t offset = w.row_offsets[row];
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t first = t * blocks_per_tile;
      const int64_t last = std::min(first + blocks_per_tile, w.blocks_per_row);
      const int64_t affine = w.AffineIndex(row, first);
      bool uniform = last - first == blocks_per_tile;
      int64_t bytes = 0;
      for (int64_t b = first; b < last; ++b) {
        bytes += BlockBytes(w.block, w.BlockWidth(row, b));
        uniform = uniform && w.AffineIndex(row, b) == affine;
      }
      if (uniform) {
        AppendTile(ContainerBits(w.BlockWidth(row, first)), t, offset, w.affine_scale[affine],
                   w.affine_offset[affine]);
      } else {
        segments_.push_back({t, t + 1, offset, 0, 0});
      }
      offset += bytes;
    }
  }

  int64_t first_row_ = 0;
  std::vector<Segment> segments_;
  std::vector<TileRef> lists_[4];  // By ContainerSlot.
  std::vector<RowWork> rows_;
};

// Computes the chunk's rows of y for activation rows [first, first + rows), by pairs of
// weight rows where the kernels and the rows allow.
template <typename Mode>
void RunChunkGroup(const Mode& mode, const ChunkSegments& chunk, int64_t first, int rows, float* y,
                   int64_t y_stride) {
  const bool pair = mode.kernels().max_weight_rows >= 2 && rows >= Mode::kMinRowsToPair;
  for (int64_t i = 0; i < chunk.rows();) {
    const int weight_rows = pair && chunk.SameTiles(i) ? 2 : 1;
    double totals[kMaxWeightRows][kMaxTileRows] = {};
    for (int slot = 0; slot < 4 && chunk.HasLists(i); ++slot) {
      if (chunk.ListSize(i, slot) == 0) continue;
      mode.AddList(1 << slot, chunk.List(i, slot), chunk.ListSize(i, slot), first, rows, totals[0]);
    }
    for (size_t s = 0; s < chunk.NumSegments(i); ++s) {
      Segment parts[kMaxWeightRows];
      for (int j = 0; j < weight_rows; ++j) parts[j] = chunk.Segments(i + j)[s];
      mode.AddSegment(chunk.first_row() + i, weight_rows, parts, first, rows, totals);
    }
    for (int j = 0; j < weight_rows; ++j) {
      for (int k = 0; k < rows; ++k) {
        y[(first + k) * y_stride + chunk.first_row() + i + j] = static_cast<float>(totals[j][k]);
      }
    }
    i += weight_rows;
  }
}

// Computes rows [row_begin, row_end) of y for `batch` activation rows: chunk of weight rows by
// chunk, each chunk for every group of up to max_rows activation rows.
template <typename Mode>
void RunSegments(const BlockedLevels& w, const Mode& mode, int64_t batch, float* y,
                 int64_t y_stride, int64_t row_begin, int64_t row_end) {
  const int max_rows = mode.kernels().max_rows;
  ChunkSegments chunk;
  for (int64_t chunk_begin = row_begin; chunk_begin < row_end; chunk_begin += kRowChunk) {
    chunk.Build(w, chunk_begin, std::min(chunk_begin + kRowChunk, row_end));
    for (int64_t first = 0; first < batch; first += max_rows) {
      const int rows = static_cast<int>(std::min<int64_t>(max_rows, batch - first));
      RunChunkGroup(mode, chunk, first, rows, y, y_stride);
    }
  }
}

// The tile kernels of `isa`, or null for the scalar path.
const TileKernels* TileKernelsFor(Isa isa) {
#if defined(__x86_64__)
  switch (SupportedIsa(isa)) {
    case Isa::kAvx512Vnni:
      return &internal::Avx512VnniTileKernels();
    case Isa::kAvx2:
      return &internal::Avx2TileKernels();
    case Isa::kScalar:
      break;
  }
#endif
  return nullptr;
}

}  // namespace

QuantizedActivations QuantizeActivations(const float* x, int64_t batch, int64_t x_stride,
                                         int64_t cols) {
  QuantizedActivations xq;
  xq.batch = batch;
  xq.cols = cols;
  xq.padded_cols = CeilDiv(cols, kActivationBlock) * kActivationBlock;
  const int64_t blocks = xq.padded_cols / kActivationBlock;
  xq.q.assign(batch * xq.padded_cols, 0);
  xq.scale.assign(batch * blocks, 0.0f);
  xq.sums8.assign(batch * xq.padded_cols / 8, 0);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t begin = block * kActivationBlock;
      const int64_t end = std::min(begin + kActivationBlock, cols);
      const float* xb = x + b * x_stride;
      float max_abs = 0.0f;
      for (int64_t c = begin; c < end; ++c) max_abs = std::max(max_abs, std::fabs(xb[c]));
      const float d = max_abs / 127.0f;
      xq.scale[b * blocks + block] = d;
      if (d == 0.0f) continue;
      int8_t* q = xq.q.data() + b * xq.padded_cols;
      int32_t* sums = xq.sums8.data() + b * xq.padded_cols / 8;
      for (int64_t c = begin; c < end; ++c) {
        const float level = std::min(127.0f, std::max(-127.0f, std::nearbyint(xb[c] / d)));
        q[c] = static_cast<int8_t>(level);
        sums[c / 8] += q[c];
      }
    }
  }
  return xq;
}

void GemmFloat(const BlockedLevels& w, const float* x, int64_t batch, int64_t x_stride, float* y,
               int64_t y_stride, int64_t row_begin, int64_t row_end, Isa isa) {
  if (batch <= 0 || row_begin >= row_end) return;
  const TileKernels* kernels = TileKernelsFor(isa);
  if (kernels == nullptr) {
    ScalarGemmFloat(w, x, batch, x_stride, y, y_stride, row_begin, row_end);
    return;
  }
  const FloatMode mode(w, x, batch, x_stride, UsedContainers(w, row_begin, row_end), *kernels);
  RunSegments(w, mode, batch, y, y_stride, row_begin, row_end);
}

void GemmInt8(const BlockedLevels& w, const QuantizedActivations& xq, float* y, int64_t y_stride,
              int64_t row_begin, int64_t row_end, Isa isa) {
  if (xq.batch <= 0 || row_begin >= row_end) return;
  const TileKernels* kernels = TileKernelsFor(isa);
  if (kernels == nullptr) {
    ScalarGemmInt8(w, xq, y, y_stride, row_begin, row_end);
    return;
  }
  const Int8Mode mode(w, xq, UsedContainers(w, row_begin, row_end), *kernels);
  RunSegments(w, mode, xq.batch, y, y_stride, row_begin, row_end);
}

}  // namespace mc::runtime
