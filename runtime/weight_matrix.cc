#include "runtime/weight_matrix.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <utility>

#include "runtime/codebook_kernels.h"
#include "runtime/cpu_features.h"
#include "runtime/uniform_kernels.h"

namespace mc::runtime {
namespace {

// Output rows per task when rows are split over threads: at least kMinRowsPerTask, and
// enough for kMinMultipliesPerTask multiply-adds (some 10 us of work), so that a small
// product runs on the calling thread rather than pay for waking another. Each wake-up is
// a chance to wait for a core that another process holds: on a loaded 2-core machine a small
// LSTM generated 25 tokens/s at two threads when its gate products were split too, against
// 1,250 on one (runtime/README.md).
constexpr int64_t kMinRowsPerTask = 64;
constexpr int64_t kMinMultipliesPerTask = int64_t{1} << 18;

int64_t RowGrain(int64_t batch, int64_t cols) {
  return std::max(kMinRowsPerTask, kMinMultipliesPerTask / std::max<int64_t>(1, batch * cols));
}
// Floats in one decoded tile of the decode-then-multiply path: about 1 MB.
constexpr int64_t kTileFloats = int64_t{1} << 18;

// Largest batch that ByteLevels' kernel multiplies; larger ones decode tiles for sgemm. The
// kernel reads every level once per activation row: on Linear 8192 x 8192 with DiffQ's widths,
// 10-13 ms per activation row, against 77-100 ms at batch 1 and 170-270 ms at batch 64 through
// tiles (//benchmarks:runtime_benchmark, one thread, beside other work).
constexpr int64_t kMaxByteLevelsBatch = 8;

template <typename Matrix>
std::pair<int64_t, int64_t> ShapeOf(const Matrix& matrix) {
  return {matrix.rows, matrix.cols};
}

std::pair<int64_t, int64_t> ShapeOf(const WideLevels& matrix) { return ShapeOf(matrix.low); }

// y (batch x rows) = x (batch x cols) W^T with W given as float32 rows.
void MultiplyFloatRows(const float* x, int64_t batch, int64_t cols, const float* rows_values,
                       int64_t rows, float* y, int64_t y_stride) {
  const at::Tensor input = at::from_blob(const_cast<float*>(x), {batch, cols});
  const at::Tensor weight = at::from_blob(const_cast<float*>(rows_values), {rows, cols});
  at::Tensor output = at::from_blob(y, {batch, rows}, {y_stride, 1});
  if (y_stride == rows) {
    at::mm_out(output, input, weight.t());
  } else {
    output.copy_(at::mm(input, weight.t()));
  }
}

void MultiplyDense(const DenseMatrix& w, const float* x, int64_t batch, float* y) {
  MultiplyFloatRows(x, batch, w.cols, w.values.data(), w.rows, y, w.rows);
}

void MultiplyBlocked(const BlockedLevels& w, const float* x, int64_t batch, float* y,
                     Activations activations) {
  if (activations == Activations::kInt8) {
    const QuantizedActivations xq = QuantizeActivations(x, batch, w.cols, w.cols);
    at::parallel_for(0, w.rows, RowGrain(batch, w.cols), [&](int64_t begin, int64_t end) {
      GemmInt8(w, xq, y, w.rows, begin, end);
    });
    return;
  }
  at::parallel_for(0, w.rows, RowGrain(batch, w.cols), [&](int64_t begin, int64_t end) {
    GemmFloat(w, x, batch, w.cols, y, w.rows, begin, end);
  });
}

// The low plane's product, then the high plane's rows added to theirs.
void MultiplyWide(const WideLevels& w, const float* x, int64_t batch, float* y,
                  Activations activations) {
  MultiplyBlocked(w.low, x, batch, y, activations);
  if (w.high_rows.empty()) return;
  const int64_t high_rows = w.high.rows;
  std::vector<float> high(batch * high_rows);
  MultiplyBlocked(w.high, x, batch, high.data(), activations);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < high_rows; ++i) {
      y[b * w.low.rows + w.high_rows[i]] += high[b * high_rows + i];
    }
  }
}

void MultiplyBytes(const ByteLevels& w, const float* x, int64_t batch, float* y) {
  const WidthScaledActivations xs = ScaleActivations(w, x, batch);
  at::parallel_for(0, w.rows, RowGrain(batch, w.cols), [&](int64_t begin, int64_t end) {
    GemmByteLevels(w, xs, y, w.rows, begin, end);
  });
}

// The codebook kernels' name for the instruction set cpu_features chose.
CodebookIsa ActiveCodebookIsa() {
  switch (ActiveIsa()) {
    case Isa::kAvx512Vnni:
      return CodebookIsa::kAvx512;
    case Isa::kAvx2:
      return CodebookIsa::kAvx2;
    case Isa::kScalar:
      break;
  }
  return CodebookIsa::kScalar;
}

void MultiplyCodebook(const CodebookMatrix& w, const float* x, int64_t batch, float* y) {
  const CodebookIsa isa = ActiveCodebookIsa();
  at::parallel_for(0, w.rows, RowGrain(batch, w.cols), [&](int64_t begin, int64_t end) {
    thread_local CodebookGemmWorkspace workspace;  // tables and panels, reused across calls
    CodebookGemm(w, x, batch, w.cols, y, w.rows, begin, end, isa, &workspace);
  });
}

// Decodes tiles of rows and multiplies each with ATen's matrix product.
void MultiplyByTiles(const WeightMatrix& w, const float* x, int64_t batch, float* y) {
  const int64_t tile_rows = std::max<int64_t>(1, kTileFloats / std::max<int64_t>(1, w.cols()));
  std::vector<float> tile(std::min(tile_rows, w.rows()) * w.cols());
  for (int64_t begin = 0; begin < w.rows(); begin += tile_rows) {
    const int64_t end = std::min(w.rows(), begin + tile_rows);
    w.DecodeRows(begin, end, tile.data());
    MultiplyFloatRows(x, batch, w.cols(), tile.data(), end - begin, y + begin, w.rows());
  }
}

}  // namespace

WeightMatrix::WeightMatrix(WeightStorage storage) : storage_(std::move(storage)) {
  std::tie(rows_, cols_) = std::visit([](const auto& matrix) { return ShapeOf(matrix); }, storage_);
}

size_t WeightMatrix::ResidentBytes() const {
  return std::visit(
      [](const auto& matrix) -> size_t {
        using Matrix = std::decay_t<decltype(matrix)>;
        if constexpr (std::is_same_v<Matrix, DenseMatrix>) {
          return matrix.values.size() * sizeof(float);
        } else {
          return matrix.ResidentBytes();
        }
      },
      storage_);
}

const char* WeightMatrix::FormName() const {
  static constexpr const char* kNames[] = {"float",         "uniform",  "wide uniform",
                                           "uniform bytes", "codebook", "codes"};
  static_assert(std::size(kNames) == std::variant_size_v<WeightStorage>);
  return kNames[storage_.index()];
}

void WeightMatrix::DecodeRows(int64_t row_begin, int64_t row_end, float* out,
                              const float* row_scale) const {
  TORCH_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= rows_,
              "WeightMatrix::DecodeRows: rows [", row_begin, ", ", row_end, ") of ", rows_);
  std::visit(
      [&](const auto& matrix) {
        using Matrix = std::decay_t<decltype(matrix)>;
        if constexpr (std::is_same_v<Matrix, BlockedLevels> || std::is_same_v<Matrix, WideLevels> ||
                      std::is_same_v<Matrix, ByteLevels> || std::is_same_v<Matrix, CodebookMatrix>) {
          // These apply the scales as they decode.
          return runtime::DecodeRows(matrix, row_begin, row_end, row_scale, out);
        } else if constexpr (std::is_same_v<Matrix, DenseMatrix>) {
          std::copy(matrix.values.begin() + row_begin * cols_,
                    matrix.values.begin() + row_end * cols_, out);
        } else {
          runtime::DecodeRows(matrix, row_begin, row_end, out);
        }
        if (row_scale == nullptr) return;
        for (int64_t r = 0; r < row_end - row_begin; ++r) {
          float* row = out + r * cols_;
          std::transform(row, row + cols_, row, [&](float v) { return v * row_scale[r]; });
        }
      },
      storage_);
}

void WeightMatrix::Multiply(const float* x, int64_t batch, float* y,
                            Activations activations) const {
  if (batch == 0 || rows_ == 0) return;
  if (const auto* dense = std::get_if<DenseMatrix>(&storage_)) return MultiplyDense(*dense, x, batch, y);
  if (const auto* levels = std::get_if<BlockedLevels>(&storage_)) {
    return MultiplyBlocked(*levels, x, batch, y, activations);
  }
  if (const auto* levels = std::get_if<WideLevels>(&storage_)) {
    return MultiplyWide(*levels, x, batch, y, activations);
  }
  const auto* bytes = std::get_if<ByteLevels>(&storage_);
  if (bytes != nullptr && batch <= kMaxByteLevelsBatch) {
    return MultiplyBytes(*bytes, x, batch, y);  // exact in both modes
  }
  if (const auto* codebook = std::get_if<CodebookMatrix>(&storage_)) {
    return MultiplyCodebook(*codebook, x, batch, y);
  }
  MultiplyByTiles(*this, x, batch, y);
}

}  // namespace mc::runtime
