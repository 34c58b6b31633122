// File: group_noise.h
// DiffQ's pseudo-quantization noise on a flattened weight, in one differentiable operation:
//   out[i] = weight[i] + ((max(weight) - min(weight)) * step[i / group_size]) * eps[i]
// with one step (the quantization step of the group's bit width) per group of group_size
// consecutive weights, a short last group allowed. Autograd over the plain expression runs a
// dozen passes over the weight and reduces the step's gradient over groups of a few
// elements, which together cost as much as a tenth of a small network's training step; here
// the forward is two passes (range, then output) and the backward two (the step's and
// range's gradients, then the weight's). Values are those of the plain expression evaluated
// in that order; gradients equal its gradients up to the summation order, the range's
// gradient shared evenly by tied extremes as autograd's max() and min() share it.
//
// Example (quant/diffq.cc):
//   at::Tensor noisy = AddGroupNoise(flat, step, eps, 8);
#ifndef MC_QUANT_GROUP_NOISE_H_
#define MC_QUANT_GROUP_NOISE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace mc::quant {

/// `weight` and `eps`: 1-D float32 of N >= 1 elements; `step`: 1-D float32 of
/// ceil(N / group_size) groups, or of 1 (one step for every element, whatever group_size).
/// Differentiable in weight (also through its range) and step; eps is a constant.
/// Throws c10::Error on other shapes or types.
at::Tensor AddGroupNoise(const at::Tensor& weight, const at::Tensor& step, const at::Tensor& eps,
                         int64_t group_size);

}  // namespace mc::quant

#endif  // MC_QUANT_GROUP_NOISE_H_
