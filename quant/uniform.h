// File: uniform.h
// Uniform (min-max) quantization of a tensor to integer levels, the arithmetic every uniform
// weight quantizer shares (DiffQ, QAT, quantized distillation's bucketed quantizer).
//
// The tensor is flattened row-major. Consecutive runs of `bit_group_size` elements share a
// bit width b (one entry of `bits`), consecutive runs of `scale_group_size` elements share a
// range [min, max] (a short last run is allowed). With steps = 2^b - 1:
//   level = rounding((x - min) / (max - min) * steps)   in [0, steps]
//   value = min + level * ((max - min) / steps)
// A constant run (max == min) quantizes to level 0, i.e. to its value.
//
// Example:
//   UniformQuantized q = UniformQuantize(weight, at::full({}, 4, at::kLong), UniformLayout());
//   at::Tensor w4 = UniformUnquantize(q, at::full({}, 4, at::kLong), UniformLayout());
#ifndef MC_QUANT_UNIFORM_H_
#define MC_QUANT_UNIFORM_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>
#include <utility>

namespace mc::quant {

/// How scaled values are rounded to levels.
enum class Rounding {
  kHalfToEven,        ///< nearest level, ties to even (torch.round; DiffQ)
  kHalfAwayFromZero,  ///< floor(s + 0.5) (PyTorch 0.3's round; quantized distillation)
  kStochastic,        ///< floor(s) + [u <= frac(s)], u ~ U[0, 1): unbiased (Gupta et al. 2015)
};

/// How elements are grouped; 0 means one group for the whole tensor.
struct UniformLayout {
  int64_t bit_group_size = 0;    ///< elements sharing one bit width
  int64_t scale_group_size = 0;  ///< elements sharing one (min, max)
};

/// Integer levels and ranges of a quantized tensor.
struct UniformQuantized {
  at::Tensor levels;  ///< int32, the input's shape, each in [0, 2^b - 1]
  at::Tensor min;     ///< float32 (S), S = number of scale groups
  at::Tensor max;     ///< float32 (S)
};

/// `bits` as an integer width, checked to be an integer in [min_bits, max_bits]. Quantizers
/// take a fixed width as a double, as the reference does, so that a fractional width is
/// refused instead of silently truncated (the reference stores 9.6 bits as 776 levels packed
/// at 9 bits, which corrupts the state). Throws c10::Error naming `quantizer` otherwise.
int64_t IntegerBits(double bits, int64_t min_bits, int64_t max_bits, const char* quantizer);

/// Number of groups of `group_size` elements covering `numel` (1 when group_size is 0).
int64_t NumGroups(int64_t numel, int64_t group_size);

/// Min and max of each group of `group_size` consecutive elements of the flat tensor `flat`
/// (a short last group is allowed; group_size 0: one group): two float (G) tensors.
std::pair<at::Tensor, at::Tensor> GroupMinMax(const at::Tensor& flat, int64_t group_size);

/// One value per group (G) expanded to each of `numel` elements, in groups of `group_size`.
at::Tensor ExpandGroups(const at::Tensor& per_group, int64_t numel, int64_t group_size);

/// Bit width of every element: `bits` (int64, one per bit group, or a single width for the
/// whole tensor) expanded to (numel). Throws c10::Error if `bits` has the wrong length or a
/// width outside [1, 16].
at::Tensor ElementBits(const at::Tensor& bits, int64_t numel, int64_t bit_group_size);

/// Quantizes `x` (any float dtype and shape). `generator` is used by kStochastic only.
UniformQuantized UniformQuantize(const at::Tensor& x, const at::Tensor& bits,
                                 const UniformLayout& layout, Rounding rounding,
                                 c10::optional<at::Generator> generator = c10::nullopt);

/// Values of quantized levels: float32, the shape of q.levels.
at::Tensor UniformUnquantize(const UniformQuantized& q, const at::Tensor& bits,
                             const UniformLayout& layout);

}  // namespace mc::quant

#endif  // MC_QUANT_UNIFORM_H_
