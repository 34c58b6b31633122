// File: forward_quantizers.h
// The weight quantizers MetaQuant (Chen et al. 2019) trains through, with their
// straight-through backward and the calibration factor dW~/dW that MetaQuant multiplies its
// meta gradient by. Each maps the full-precision weight W of a layer to a pre-quantized W~
// and a quantized Ŵ:
//   dorefa, k bits:  W~ = tanh(W) / max|tanh(W)| * 0.5 + 0.5 in [0, 1] (max taken as a
//                    constant), Ŵ = 2 * round(W~ * n) / n - 1 with n = 2^k - 1 (ties to even):
//                    values {-1, -1 + 2/n, ..., 1}; at 1 bit exactly ±1;
//                    calibration (1 - tanh²(W)) / max|tanh(W)|.
//   BWN (1 bit):     W~ = W, Ŵ = α sign(W) with α = mean|W| (a constant); calibration
//                    1{|W| <= 1}, the gate of its straight-through gradient (the reference
//                    takes 1, see metaquant/README.md).
//                    sign(0) is taken as +1 so that Ŵ always takes one of the two stored values.
// Backward (straight-through): dŴ/dW~ is the identity scaled as the forward (2 for dorefa's
// rounding on [0, 1], α for BWN), gated by |W~| <= 1, so the STE gradient of dorefa is
// g (1 - tanh²W) / max|tanh W| and that of BWN is α g 1{|W| <= 1}.
//
// Example:
//   QuantizedWeight q = Quantize(ForwardQuantizer::kDorefa, /*bits=*/1, layer->weight);
//   at::Tensor y = at::conv2d(x, q.quantized, ...);
#ifndef MC_METAQUANT_FORWARD_QUANTIZERS_H_
#define MC_METAQUANT_FORWARD_QUANTIZERS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mc::metaquant {

enum class ForwardQuantizer { kDorefa, kBwn };

/// "dorefa" or "bwn". \error kInvalidArgument naming the accepted names.
absl::StatusOr<ForwardQuantizer> ParseForwardQuantizer(absl::string_view name);
std::string ForwardQuantizerName(ForwardQuantizer quantizer);

struct QuantizedWeight {
  at::Tensor pre_quantized;  ///< W~, differentiable in W
  at::Tensor quantized;      ///< Ŵ, differentiable in W through the straight-through backward
};

/// W~ and Ŵ of `weight` (any shape, float32). `bits` in [1, 16] for dorefa; BWN is 1 bit and
/// refuses other widths. Throws c10::Error on an invalid width or an empty weight.
QuantizedWeight Quantize(ForwardQuantizer quantizer, int64_t bits, const at::Tensor& weight);

/// dW~/dW of `weight` (its shape, no autograd history).
at::Tensor Calibration(ForwardQuantizer quantizer, const at::Tensor& weight);

/// The values a quantized layer can take, for storage: dorefa stores level l in [0, 2^k - 1]
/// as -1 + 2 l / (2^k - 1), BWN level 0 as -α and level 1 as +α.
struct QuantizedLevels {
  at::Tensor levels;  ///< int32, the weight's shape
  float min = 0;      ///< value of level 0
  float max = 0;      ///< value of the top level
};
QuantizedLevels Levels(ForwardQuantizer quantizer, int64_t bits, const at::Tensor& weight);

}  // namespace mc::metaquant

#endif  // MC_METAQUANT_FORWARD_QUANTIZERS_H_
