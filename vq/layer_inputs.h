// File: layer_inputs.h
// Samples the inputs one convolution or linear layer sees while a model runs, as rows that
// multiply the layer's flattened weight: the activations "And the bit goes down" (Stock et al.
// 2020, section 3.1) weights its k-means with. LibTorch modules have no forward hooks, so the
// layer is recognised by its weight tensor among the arguments of the ATen calls made while
// `forward` runs (an ATen RecordFunction observer on the calling thread): aten::conv2d for a
// convolution (or the aten::_convolution that a TorchScript trace records); for torch::nn::Linear, aten::t of the weight followed by the aten::addmm or
// aten::matmul that LibTorch's linear() computes with it. Any model of the zoo works unchanged.
//
// Convolutions are not unfolded whole (the reference materialises the full im2col, about
// 7 GB for ResNet-18's layer1 on ImageNet): output positions (image, y, x) are drawn without
// replacement and only their patches are cut, each a row ordered (c_in, kh, kw) like
// weight.view(out, -1). With groups > 1 the patch of each group is a row of its own.
//
// Language models: an LSTM weight is found among the parameters of aten::lstm; weight_ih_l{k}
// multiplies the inputs of layer k, weight_hh_l{k} its hidden states one step behind, both
// recomputed over the recorded sequence. An embedding table only looked up (aten::embedding,
// never multiplied) has rows that count alike in every coordinate: its "inputs" are the
// identity, so its k-means is unweighted, as fairseq's iPQ does. A tied embedding is also
// the decoder's weight: the decoder's inputs are then its rows.
//
// Example:
//   MC_ASSIGN_OR_RETURN(at::Tensor rows, SampleLayerInputs(conv->weight,
//       [&] { model->forward(images); }, /*max_rows=*/4096, /*seed=*/1));
//   // rows: (<= 4096, in * kh * kw); rows.matmul(conv->weight.view({out, -1}).t()) are
//   // outputs of the convolution (bias excluded) at the sampled positions.
#ifndef MC_VQ_LAYER_INPUTS_H_
#define MC_VQ_LAYER_INPUTS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"

namespace mc::vq {

/// Runs `forward` and returns up to `max_rows` input rows of the layer whose weight is
/// `weight` (the same tensor, not a copy), taken from its first call:
///  - convolution (aten::conv2d, zero padding given as numbers): im2col patches at output
///    positions drawn uniformly without replacement, (rows * groups, in / groups * kh * kw);
///  - linear (torch::nn::Linear, or at::linear with the weight): the input's rows (..., in)
///    flattened, all of them when there are at most max_rows, otherwise a draw without
///    replacement;
///  - LSTM weight matrix (torch::nn::LSTM, unidirectional): the rows of x_t (weight_ih) or
///    h_{t-1} (weight_hh) of its layer over the call's sequence, drawn likewise;
///  - embedding table looked up but never multiplied: the identity (width, width).
/// Draws come from a generator seeded with `seed`. Returned rows are float32, detached.
/// \error kInvalidArgument if max_rows < 1; kNotFound if `forward` never calls the layer;
///   kUnimplemented for a convolution with string padding ("same"), a transposed one or a
///   bidirectional LSTM.
absl::StatusOr<at::Tensor> SampleLayerInputs(const at::Tensor& weight,
                                             const std::function<void()>& forward,
                                             int64_t max_rows, uint64_t seed);

}  // namespace mc::vq

#endif  // MC_VQ_LAYER_INPUTS_H_
