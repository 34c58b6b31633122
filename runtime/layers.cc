#include "runtime/layers.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace mc::runtime {
namespace {

// Floats in one decoded tile of convolution weights: about 1 MB, within L2.
constexpr int64_t kTileFloats = int64_t{1} << 18;

// Output channels oneDNN's blocked layouts group together on AVX-512.
constexpr int64_t kChannelBlock = 16;

// Output positions (batch x height x width) up to which a convolution in int8 mode runs the
// integer kernels on its patches. Beyond, the product is compute-bound and the decoded tiles
// through oneDNN's convolution are faster (a DiffQ ResNet-20 on 28x28 images at batch 1:
// 24.5 ms per image through the patches, 2.3 ms through the tiles).
constexpr int64_t kMaxIntegerPositions = 8;

std::vector<int64_t> ChannelShape(const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = -1;
  return shape;
}

// A convolution by oneDNN when LibTorch has it, on channels-last tensors (its native layout:
// no reordering of activations around each call; the graph's activations stay channels-last
// from the first convolution on). For a small input at batch 1 with kernels of at most 3x3
// and no groups, ATen's conv2d picks its im2col + BLAS kernel instead, which is slower on such
// shapes (a DiffQ ResNet-20 on 28x28 images: 1.28 ms per image against 1.01 through oneDNN);
// and channels-last took a 4-bit ResNet-18 at 224x224 from 1.11x LibTorch's float forward to
// 0.93x, a MobileNetV2 from 0.67x to 0.49x (batch 1, one thread).
at::Tensor Convolve(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                    const ConvGeometry& g, int64_t groups) {
  if (at::hasMKLDNN()) {
    return at::mkldnn_convolution(x.contiguous(at::MemoryFormat::ChannelsLast),
                                  weight.contiguous(at::MemoryFormat::ChannelsLast), bias,
                                  {g.padding, g.padding}, {g.stride, g.stride},
                                  {g.dilation, g.dilation}, groups);
  }
  return at::conv2d(x, weight, bias, {g.stride, g.stride}, {g.padding, g.padding},
                    {g.dilation, g.dilation}, groups);
}

// Output channels of a convolution's weight decoded per tile: as many as fit in kTileFloats,
// rounded down to a multiple of oneDNN's channel block when more than one block fits (a
// partial block is computed padded), and whole groups for a grouped convolution (one group
// even when it holds more than kTileFloats).
int64_t TileRows(const ConvGeometry& g, int64_t cols) {
  const int64_t fitting_rows = std::max<int64_t>(1, kTileFloats / cols);
  if (g.groups == 1) {
    const int64_t rows = fitting_rows >= kChannelBlock
                             ? fitting_rows / kChannelBlock * kChannelBlock
                             : fitting_rows;
    return std::min(g.out_channels, rows);
  }
  const int64_t rows_per_group = g.out_channels / g.groups;
  return std::max(rows_per_group, fitting_rows / rows_per_group * rows_per_group);
}

// This thread's buffer for decoded tiles, at least `floats` long. Kept from call to call: a
// fresh megabyte per tile is memory touched for the first time whenever the allocator returns
// large blocks to the kernel (glibc's does), and page faults then cost more than the
// convolution (a PQ ResNet-18 on 28x28 images: 234 ms per image, 18 ms with the memory kept).
float* TileBuffer(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(floats);
  return buffer.data();
}

void Activate(at::Tensor& x, Activation activation) {
  if (activation == Activation::kRelu) x.relu_();
  if (activation == Activation::kRelu6) x.clamp_(0.0, 6.0);
}

}  // namespace

void ChannelEpilogue::ApplyInPlace(at::Tensor& x) const {
  if (scale.defined()) x.mul_(scale.view(ChannelShape(x)));
  if (shift.defined()) x.add_(shift.view(ChannelShape(x)));
  Activate(x, activation);
}

void ChannelEpilogue::Compose(const at::Tensor& s, const at::Tensor& t) {
  TORCH_CHECK(activation == Activation::kNone,
              "ChannelEpilogue::Compose: an affine map cannot follow the activation");
  shift = shift.defined() ? shift * s + t : t;
  scale = scale.defined() ? scale * s : s;
}

ConvLayer::ConvLayer(WeightMatrix weight, ConvGeometry geometry, ChannelEpilogue epilogue)
    : weight_(std::move(weight)), geometry_(geometry), epilogue_(std::move(epilogue)) {}

size_t ConvLayer::WeightBytes() const {
  return weight_.ResidentBytes() +
         sizeof(float) * (epilogue_.scale.defined() ? epilogue_.scale.numel() : 0) +
         sizeof(float) * (epilogue_.shift.defined() ? epilogue_.shift.numel() : 0);
}

at::Tensor ConvLayer::Forward(const std::vector<at::Tensor>& inputs,
                              Activations activations) const {
  const at::Tensor& x = inputs.at(0);
  TORCH_CHECK(x.dim() == 4 && x.size(1) == geometry_.in_channels, "convolution expects (B, ",
              geometry_.in_channels, ", H, W) input, got ", x.sizes());
  const int64_t positions = x.size(0) * OutputSize(x.size(2), geometry_.kernel_h) *
                            OutputSize(x.size(3), geometry_.kernel_w);
  if (activations == Activations::kInt8 && geometry_.groups == 1 &&
      positions <= kMaxIntegerPositions) {
    return ForwardByPatches(x, activations);
  }
  return ForwardByTiles(x);
}

int64_t ConvLayer::OutputSize(int64_t input_size, int64_t kernel_size) const {
  const ConvGeometry& g = geometry_;
  return (input_size + 2 * g.padding - g.dilation * (kernel_size - 1) - 1) / g.stride + 1;
}

at::Tensor ConvLayer::ForwardByTiles(const at::Tensor& x) const {
  const ConvGeometry& g = geometry_;
  const int64_t rows_per_group = g.out_channels / g.groups;
  const int64_t inputs_per_group = g.in_channels / g.groups;
  const int64_t tile_rows = TileRows(g, weight_.cols());
  std::vector<at::Tensor> outputs;
  for (int64_t begin = 0; begin < g.out_channels; begin += tile_rows) {
    const int64_t end = std::min(g.out_channels, begin + tile_rows);
    const at::Tensor tile = at::from_blob(TileBuffer((end - begin) * weight_.cols()),
                                          {end - begin, inputs_per_group, g.kernel_h, g.kernel_w});
    const float* row_scale =
        epilogue_.scale.defined() ? epilogue_.scale.data_ptr<float>() + begin : nullptr;
    weight_.DecodeRows(begin, end, tile.data_ptr<float>(), row_scale);
    at::Tensor bias;
    if (epilogue_.shift.defined()) bias = epilogue_.shift.slice(0, begin, end);
    const int64_t first_group = begin / rows_per_group;
    // A tile of a dense convolution may hold part of its one group.
    const int64_t tile_groups = g.groups == 1 ? 1 : (end - begin) / rows_per_group;
    const at::Tensor input =
        g.groups == 1 ? x : x.narrow(1, first_group * inputs_per_group, tile_groups * inputs_per_group);
    outputs.push_back(Convolve(input, tile, bias, g, tile_groups));
  }
  at::Tensor y = outputs.size() == 1 ? outputs[0] : at::cat(outputs, 1);
  Activate(y, epilogue_.activation);
  return y;
}

at::Tensor ConvLayer::ForwardByPatches(const at::Tensor& x, Activations activations) const {
  const ConvGeometry& g = geometry_;
  const int64_t batch = x.size(0);
  const int64_t out_h = OutputSize(x.size(2), g.kernel_h);
  const int64_t out_w = OutputSize(x.size(3), g.kernel_w);
  // (B, C * kh * kw, L) with rows in the weight's (c, i, j) order, then one patch per row.
  const at::Tensor patches =
      at::im2col(x.contiguous(), {g.kernel_h, g.kernel_w}, {g.dilation, g.dilation},
                 {g.padding, g.padding}, {g.stride, g.stride})
          .transpose(1, 2)
          .contiguous();
  const int64_t positions = batch * out_h * out_w;
  at::Tensor y = at::empty({positions, g.out_channels});
  weight_.Multiply(patches.data_ptr<float>(), positions, y.data_ptr<float>(), activations);
  y = y.view({batch, out_h, out_w, g.out_channels}).permute({0, 3, 1, 2}).contiguous();
  epilogue_.ApplyInPlace(y);
  return y;
}

LinearLayer::LinearLayer(WeightMatrix weight, ChannelEpilogue epilogue)
    : weight_(std::move(weight)), epilogue_(std::move(epilogue)) {}

size_t LinearLayer::WeightBytes() const {
  return weight_.ResidentBytes() +
         sizeof(float) * (epilogue_.scale.defined() ? epilogue_.scale.numel() : 0) +
         sizeof(float) * (epilogue_.shift.defined() ? epilogue_.shift.numel() : 0);
}

at::Tensor LinearLayer::Forward(const std::vector<at::Tensor>& inputs,
                                Activations activations) const {
  const at::Tensor x = inputs.at(0).contiguous();
  TORCH_CHECK(x.dim() == 2 && x.size(1) == weight_.cols(), "linear layer expects (B, ",
              weight_.cols(), ") input, got ", x.sizes());
  at::Tensor y = at::empty({x.size(0), weight_.rows()});
  weight_.Multiply(x.data_ptr<float>(), x.size(0), y.data_ptr<float>(), activations);
  epilogue_.ApplyInPlace(y);
  return y;
}

EpilogueLayer::EpilogueLayer(ChannelEpilogue epilogue) : epilogue_(std::move(epilogue)) {}

size_t EpilogueLayer::WeightBytes() const {
  return sizeof(float) * ((epilogue_.scale.defined() ? epilogue_.scale.numel() : 0) +
                          (epilogue_.shift.defined() ? epilogue_.shift.numel() : 0));
}

at::Tensor EpilogueLayer::Forward(const std::vector<at::Tensor>& inputs, Activations) const {
  at::Tensor y = inputs.at(0).clone();
  epilogue_.ApplyInPlace(y);
  return y;
}

at::Tensor AddLayer::Forward(const std::vector<at::Tensor>& inputs, Activations) const {
  at::Tensor y = inputs.at(0) + inputs.at(1);
  Activate(y, activation_);
  return y;
}

MaxPoolLayer::MaxPoolLayer(int64_t kernel_size, int64_t stride, int64_t padding)
    : kernel_size_(kernel_size), stride_(stride), padding_(padding) {}

at::Tensor MaxPoolLayer::Forward(const std::vector<at::Tensor>& inputs, Activations) const {
  return at::max_pool2d(inputs.at(0), kernel_size_, stride_, padding_);
}

at::Tensor GlobalAveragePoolLayer::Forward(const std::vector<at::Tensor>& inputs,
                                           Activations) const {
  return inputs.at(0).mean({2, 3});
}

at::Tensor FlattenLayer::Forward(const std::vector<at::Tensor>& inputs, Activations) const {
  return inputs.at(0).flatten(1);
}

}  // namespace mc::runtime
