// File: layers.h
// The layers of a runtime Graph. Convolutions and linear layers compute from their weights'
// stored encodings (runtime/weight_matrix.h) and apply, in one pass over their output, a
// per-channel affine map (a BatchNorm folded into them, and the bias) and an activation.
// Activations are float32 NCHW tensors between layers.
#ifndef MC_RUNTIME_LAYERS_H_
#define MC_RUNTIME_LAYERS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "runtime/graph.h"
#include "runtime/weight_matrix.h"

namespace mc::runtime {

enum class Activation { kNone, kRelu, kRelu6 };

/// y = activation(scale * x + shift) per channel (dimension 1); scale and shift may be
/// undefined (1 and 0). Applied in place.
struct ChannelEpilogue {
  at::Tensor scale;  ///< float32 (C) or undefined
  at::Tensor shift;  ///< float32 (C) or undefined
  Activation activation = Activation::kNone;

  void ApplyInPlace(at::Tensor& x) const;
  /// Composes a later per-channel map into this one: scale' = scale * s, shift' = shift * s + t.
  /// Only valid while `activation` is kNone.
  void Compose(const at::Tensor& s, const at::Tensor& t);
};

struct ConvGeometry {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_h = 1;
  int64_t kernel_w = 1;
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
};

/// A 2-D convolution. It decodes tiles of output channels, at most about 1 MB of float32 at a
/// time, and convolves each with oneDNN's kernel (ATen's where LibTorch lacks oneDNN); in int8 mode a dense convolution with few
/// output positions (a matrix-vector-like product) instead cuts its input into patches and
/// runs the weight's integer kernels.
class ConvLayer : public Layer {
 public:
  ConvLayer(WeightMatrix weight, ConvGeometry geometry, ChannelEpilogue epilogue);
  at::Tensor Forward(const std::vector<at::Tensor>& inputs, Activations activations) const override;
  size_t WeightBytes() const override;
  ChannelEpilogue& epilogue() { return epilogue_; }

 private:
  int64_t OutputSize(int64_t input_size, int64_t kernel_size) const;
  at::Tensor ForwardByTiles(const at::Tensor& x) const;
  at::Tensor ForwardByPatches(const at::Tensor& x, Activations activations) const;

  WeightMatrix weight_;
  ConvGeometry geometry_;
  ChannelEpilogue epilogue_;
};

/// y = x W^T, (B, in) -> (B, out), then the epilogue.
class LinearLayer : public Layer {
 public:
  LinearLayer(WeightMatrix weight, ChannelEpilogue epilogue);
  at::Tensor Forward(const std::vector<at::Tensor>& inputs, Activations activations) const override;
  size_t WeightBytes() const override;
  ChannelEpilogue& epilogue() { return epilogue_; }

 private:
  WeightMatrix weight_;
  ChannelEpilogue epilogue_;
};

/// A BatchNorm that could not be folded into the layer before it, or an activation alone.
class EpilogueLayer : public Layer {
 public:
  explicit EpilogueLayer(ChannelEpilogue epilogue);
  at::Tensor Forward(const std::vector<at::Tensor>& inputs, Activations activations) const override;
  size_t WeightBytes() const override;
  ChannelEpilogue& epilogue() { return epilogue_; }

 private:
  ChannelEpilogue epilogue_;
};

/// activation(a + b).
class AddLayer : public Layer {
 public:
  AddLayer() = default;
  at::Tensor Forward(const std::vector<at::Tensor>& inputs, Activations activations) const override;
  Activation& activation() { return activation_; }

 private:
  Activation activation_ = Activation::kNone;
};

class MaxPoolLayer : public Layer {
 public:
  MaxPoolLayer(int64_t kernel_size, int64_t stride, int64_t padding);
  at::Tensor Forward(const std::vector<at::Tensor>& inputs, Activations activations) const override;

 private:
  int64_t kernel_size_;
  int64_t stride_;
  int64_t padding_;
};

/// Mean over H and W: (B, C, H, W) -> (B, C).
class GlobalAveragePoolLayer : public Layer {
 public:
  at::Tensor Forward(const std::vector<at::Tensor>& inputs, Activations activations) const override;
};

/// (B, ...) -> (B, product of the rest).
class FlattenLayer : public Layer {
 public:
  at::Tensor Forward(const std::vector<at::Tensor>& inputs, Activations activations) const override;
};

}  // namespace mc::runtime

#endif  // MC_RUNTIME_LAYERS_H_
