#include "metaquant/forward_quantizers.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"

namespace mc::metaquant {
namespace {

void CheckBits(ForwardQuantizer quantizer, int64_t bits) {
  TORCH_CHECK(quantizer != ForwardQuantizer::kBwn || bits == 1, "BWN is 1 bit, got bits = ", bits);
  TORCH_CHECK(bits >= 1 && bits <= 16, "dorefa: bits must be in [1, 16], got ", bits);
}

// Value `forward` with the gradient of `input` gated by |gate_source| <= 1 and scaled by `scale`.
at::Tensor StraightThrough(const at::Tensor& forward, const at::Tensor& input,
                           const at::Tensor& gate_source, const at::Tensor& scale) {
  const at::Tensor gate = (gate_source.detach().abs() <= 1).to(input.scalar_type());
  const at::Tensor path = input * gate * scale;
  // path - path.detach() is exactly 0: the value is exactly `forward` (path + (forward -
  // path).detach() can be one ulp off it).
  return forward.detach() + (path - path.detach());
}

// α = mean|W| as a constant, and sign(W) with sign(0) = +1.
std::pair<at::Tensor, at::Tensor> BwnScaleAndSign(const at::Tensor& weight) {
  const at::Tensor w = weight.detach();
  return {w.abs().mean(), at::where(w >= 0, at::ones_like(w), -at::ones_like(w))};
}

}  // namespace

absl::StatusOr<ForwardQuantizer> ParseForwardQuantizer(absl::string_view name) {
  if (name == "dorefa") return ForwardQuantizer::kDorefa;
  if (name == "bwn") return ForwardQuantizer::kBwn;
  return absl::InvalidArgumentError(
      absl::StrCat("forward quantizer \"", name, "\" is not one of dorefa, bwn"));
}

std::string ForwardQuantizerName(ForwardQuantizer quantizer) {
  return quantizer == ForwardQuantizer::kDorefa ? "dorefa" : "bwn";
}

QuantizedWeight Quantize(ForwardQuantizer quantizer, int64_t bits, const at::Tensor& weight) {
  CheckBits(quantizer, bits);
  TORCH_CHECK(weight.numel() > 0, "cannot quantize an empty weight");
  QuantizedWeight q;
  if (quantizer == ForwardQuantizer::kBwn) {
    q.pre_quantized = weight;
    auto [alpha, sign] = BwnScaleAndSign(weight);
    q.quantized = StraightThrough(alpha * sign, weight, weight, alpha);
    return q;
  }
  const at::Tensor t = at::tanh(weight);
  q.pre_quantized = t / t.detach().abs().max() * 0.5 + 0.5;
  const float n = static_cast<float>((int64_t{1} << bits) - 1);
  const at::Tensor levels = at::round(q.pre_quantized.detach() * n);  // ties to even
  // -1 + level * (2 / n) in float32, exactly as a stored uniform tensor on [-1, 1] decodes.
  const at::Tensor values = levels * (2.0f / n) + -1.0f;
  q.quantized = StraightThrough(values, q.pre_quantized, q.pre_quantized,
                                at::full({}, 2.0, weight.options()));
  return q;
}

at::Tensor Calibration(ForwardQuantizer quantizer, const at::Tensor& weight) {
  const at::Tensor w = weight.detach();
  if (quantizer == ForwardQuantizer::kBwn) return (w.abs() <= 1).to(w.scalar_type());
  const at::Tensor t = at::tanh(w);
  return (1 - t * t) / t.abs().max();
}

QuantizedLevels Levels(ForwardQuantizer quantizer, int64_t bits, const at::Tensor& weight) {
  CheckBits(quantizer, bits);
  QuantizedLevels out;
  if (quantizer == ForwardQuantizer::kBwn) {
    auto [alpha, sign] = BwnScaleAndSign(weight);
    out.levels = (sign > 0).to(at::kInt);
    out.max = alpha.item<float>();
    out.min = -out.max;
    return out;
  }
  const at::Tensor t = at::tanh(weight.detach());
  const at::Tensor pre = t / t.abs().max() * 0.5 + 0.5;
  out.levels = at::round(pre * static_cast<double>((int64_t{1} << bits) - 1)).to(at::kInt);
  out.min = -1;
  out.max = 1;
  return out;
}

}  // namespace mc::metaquant
