#include "quant/uniform.h"

#include <ATen/ATen.h>

#include <cmath>

namespace mc::quant {

at::Tensor ExpandGroups(const at::Tensor& per_group, int64_t numel, int64_t group_size) {
  if (per_group.numel() == 1) return per_group.reshape({1}).expand({numel});
  return per_group.reshape({-1}).repeat_interleave(group_size).narrow(0, 0, numel);
}

// The last group is padded with the last element, which cannot change its min or max.
std::pair<at::Tensor, at::Tensor> GroupMinMax(const at::Tensor& flat, int64_t group_size) {
  const int64_t numel = flat.numel();
  if (group_size <= 0 || group_size >= numel) {
    return {flat.min().reshape({1}), flat.max().reshape({1})};
  }
  const int64_t groups = NumGroups(numel, group_size);
  at::Tensor padded = flat;
  if (groups * group_size != numel) {
    padded = at::cat({flat, flat.narrow(0, numel - 1, 1).expand({groups * group_size - numel})});
  }
  const at::Tensor rows = padded.view({groups, group_size});
  return {std::get<0>(rows.min(1)), std::get<0>(rows.max(1))};
}

int64_t IntegerBits(double bits, int64_t min_bits, int64_t max_bits, const char* quantizer) {
  TORCH_CHECK(std::trunc(bits) == bits && bits >= min_bits && bits <= max_bits, quantizer,
              ": bits must be an integer in [", min_bits, ", ", max_bits, "], got ", bits);
  return static_cast<int64_t>(bits);
}

int64_t NumGroups(int64_t numel, int64_t group_size) {
  if (group_size <= 0) return 1;
  return (numel + group_size - 1) / group_size;
}

at::Tensor ElementBits(const at::Tensor& bits, int64_t numel, int64_t bit_group_size) {
  const int64_t groups = NumGroups(numel, bit_group_size);
  TORCH_CHECK(bits.numel() == 1 || bits.numel() == groups, "expected 1 or ", groups,
              " bit widths for ", numel, " elements in groups of ", bit_group_size, ", got ",
              bits.numel());
  TORCH_CHECK(bits.numel() == 0 || (bits.min().item<int64_t>() >= 1 && bits.max().item<int64_t>() <= 16),
              "bit widths must be in [1, 16], got [", bits.min().item<int64_t>(), ", ",
              bits.max().item<int64_t>(), "]");
  return ExpandGroups(bits.to(at::kLong), numel, bit_group_size);
}

UniformQuantized UniformQuantize(const at::Tensor& x, const at::Tensor& bits,
                                 const UniformLayout& layout, Rounding rounding,
                                 c10::optional<at::Generator> generator) {
  TORCH_CHECK(x.numel() > 0, "cannot quantize an empty tensor");
  const at::Tensor flat = x.detach().reshape({-1}).to(at::kFloat);
  const int64_t numel = flat.numel();
  const at::Tensor steps =
      ElementBits(bits, numel, layout.bit_group_size).exp2().sub(1).to(at::kFloat);
  auto [min, max] = GroupMinMax(flat, layout.scale_group_size);
  const at::Tensor range = max - min;
  const at::Tensor element_min = ExpandGroups(min, numel, layout.scale_group_size);
  const at::Tensor element_range = ExpandGroups(range, numel, layout.scale_group_size);
  // A constant group has range 0: its elements all map to level 0, which is their value.
  const at::Tensor scaled =
      at::where(element_range > 0, (flat - element_min) / element_range, at::zeros_like(flat))
          .mul(steps);
  at::Tensor levels;
  switch (rounding) {
    case Rounding::kHalfToEven:
      levels = scaled.round();
      break;
    case Rounding::kHalfAwayFromZero:
      levels = scaled.add(0.5).floor();  // scaled >= 0
      break;
    case Rounding::kStochastic: {
      const at::Tensor lower = scaled.floor();
      const at::Tensor u = at::rand({numel}, generator, at::TensorOptions().dtype(at::kFloat));
      levels = lower + (u <= scaled - lower).to(at::kFloat);
      break;
    }
  }
  levels = at::minimum(levels.clamp_min(0), steps).to(at::kInt).view(x.sizes());
  return {levels, min, max};
}

at::Tensor UniformUnquantize(const UniformQuantized& q, const at::Tensor& bits,
                             const UniformLayout& layout) {
  const int64_t numel = q.levels.numel();
  TORCH_CHECK(q.min.numel() == NumGroups(numel, layout.scale_group_size) &&
                  q.max.numel() == q.min.numel(),
              "expected ", NumGroups(numel, layout.scale_group_size), " (min, max) pairs, got ",
              q.min.numel(), " and ", q.max.numel());
  const at::Tensor steps =
      ElementBits(bits, numel, layout.bit_group_size).exp2().sub(1).to(at::kFloat);
  const at::Tensor min = q.min.to(at::kFloat);
  const at::Tensor step = ExpandGroups(q.max.to(at::kFloat) - min, numel, layout.scale_group_size) / steps;
  const at::Tensor values =
      ExpandGroups(min, numel, layout.scale_group_size) + q.levels.reshape({-1}).to(at::kFloat) * step;
  return values.view(q.levels.sizes());
}

}  // namespace mc::quant
