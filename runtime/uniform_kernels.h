// File: uniform_kernels.h
// Matrix products with a BlockedLevels weight, computed from its packed levels without
// decoding it: y (batch x rows) = x (batch x cols) W^T.
//
// Two modes:
// - GemmFloat (exact): float activations. Each block's levels are unpacked to floats in
//   registers and multiplied with x; the result equals the product with the decoded weights
//   up to float rounding (within ~1e-5 of the magnitude sum |x| . |w|).
// - GemmInt8 (fast): activations quantized per block of 32 to int8 with a float scale d
//   (QuantizeActivations), integer dot products of the unsigned levels with the int8
//   activations, then y += d * (scale * dot + offset * sum(q)) per block. The weights stay
//   exact; the only error is the rounding of the activations to int8.
//
// Every kernel computes the output rows [row_begin, row_end), so that the caller can split
// rows over threads; each output element is computed the same way whatever the split, so the
// result does not depend on it. Each call allocates its scratch: activations rearranged for
// the SIMD unpack order, O(batch * cols). Kernels take the instruction set last (see
// runtime/cpu_features.h); all paths agree to float rounding.
//
// Example:
//   GemmFloat(w, x, batch, w.cols, y, w.rows, 0, w.rows);
//   QuantizedActivations xq = QuantizeActivations(x, batch, w.cols, w.cols);
//   GemmInt8(w, xq, y, w.rows, 0, w.rows);
#ifndef MC_RUNTIME_UNIFORM_KERNELS_H_
#define MC_RUNTIME_UNIFORM_KERNELS_H_

#include <cstdint>
#include <vector>

#include "runtime/blocked_levels.h"
#include "runtime/cpu_features.h"

namespace mc::runtime {

/// Columns per activation block of QuantizedActivations.
inline constexpr int kActivationBlock = 32;

/// Float activations quantized per block of kActivationBlock columns: x ~= scale * q.
struct QuantizedActivations {
  int64_t batch = 0;
  int64_t cols = 0;
  /// cols rounded up to a multiple of kActivationBlock; q is 0 beyond cols.
  int64_t padded_cols = 0;
  /// batch x padded_cols, row-major: round(x / d), in [-127, 127].
  std::vector<int8_t> q;
  /// batch x padded_cols / 32: each block's d = max |x| / 127 (0 for an all-zero block).
  std::vector<float> scale;
  /// batch x padded_cols / 8: the sum of q over each 8 columns (the offset term of weight
  /// blocks of 8 or 16 columns).
  std::vector<int32_t> sums8;
};

/// Quantizes `batch` rows of `cols` floats (row b starts at x + b * x_stride) per block of 32.
QuantizedActivations QuantizeActivations(const float* x, int64_t batch, int64_t x_stride,
                                         int64_t cols);

/// y[b * y_stride + r] = sum_c x[b * x_stride + c] * W(r, c) for b < batch and r in
/// [row_begin, row_end). Reads the first w.cols floats of each x row (no padding needed).
void GemmFloat(const BlockedLevels& w, const float* x, int64_t batch, int64_t x_stride, float* y,
               int64_t y_stride, int64_t row_begin, int64_t row_end, Isa isa = ActiveIsa());

/// y[b * y_stride + r] = sum_c xq.scale * xq.q(b, c) * W(r, c) for b < xq.batch and r in
/// [row_begin, row_end). Requires xq.cols == w.cols.
void GemmInt8(const BlockedLevels& w, const QuantizedActivations& xq, float* y, int64_t y_stride,
              int64_t row_begin, int64_t row_end, Isa isa = ActiveIsa());

}  // namespace mc::runtime

#endif  // MC_RUNTIME_UNIFORM_KERNELS_H_
