#include "vq/layer_inputs.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/record_function.h>
#include <c10/core/GradMode.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mc::vq {
namespace {

// An aten::lstm call that holds the watched weight among its parameters.
struct LstmCall {
  std::vector<at::Tensor> hx;      // (h0, c0), each (num_layers, B, H)
  std::vector<at::Tensor> params;  // per layer: weight_ih, weight_hh[, bias_ih, bias_hh]
  bool has_biases = true;
  bool batch_first = false;
  int64_t layer = 0;               // the weight's layer
  bool hidden_weight = false;      // weight_hh (multiplies h_{t-1}) rather than weight_ih
};

// What the observer records of the first call of the watched layer.
struct Capture {
  const c10::TensorImpl* weight = nullptr;
  bool seen = false;
  bool is_conv = false;
  bool after_transpose = false;  // the last call was aten::t of the weight
  bool embedding_lookup = false;  // aten::embedding read the weight (kept looking for a product)
  std::optional<LstmCall> lstm;
  at::Tensor input;
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups = 1;
  std::string error;
};

// RecordFunction callbacks are plain function pointers: the capture in progress on this
// thread is reached through a thread-local pointer.
thread_local Capture* current_capture = nullptr;

bool IsWeight(const c10::IValue& value, const Capture& capture) {
  return value.isTensor() && value.toTensor().unsafeGetTensorImpl() == capture.weight;
}

// LibTorch's Linear computes addmm(bias, input, weight.t()) for a 2-D input with a bias and
// matmul(input, weight.t()) otherwise (torch/nn/functional/linear.h), so a linear layer shows
// up as aten::t of its weight followed by that product; its input is the product's left factor.
void ObserveLinear(const at::RecordFunction& call, Capture& capture) {
  const c10::ArrayRef<const c10::IValue> inputs = call.inputs();
  if (std::strcmp(call.name(), "aten::t") == 0) {
    capture.after_transpose = !inputs.empty() && IsWeight(inputs[0], capture);
    return;
  }
  if (!capture.after_transpose) return;
  const bool addmm = std::strcmp(call.name(), "aten::addmm") == 0;
  if (!addmm && std::strcmp(call.name(), "aten::matmul") != 0) return;
  capture.after_transpose = false;
  const size_t left = addmm ? 1 : 0;
  if (inputs.size() < left + 2 || !inputs[left].isTensor()) return;
  const at::Tensor input = inputs[left].toTensor();
  const at::Tensor& weight = inputs[left + 1].toTensor();
  if (input.dim() < 1 || input.size(-1) != weight.size(0)) return;
  capture.seen = true;
  capture.input = input.detach();
}

// aten::lstm(input, hx[], params[], has_biases, num_layers, dropout, train, bidirectional,
// batch_first): the call is recorded before the products it makes inside, so the whole
// sequence is captured rather than one time step of the recurrent product.
void ObserveLstm(const at::RecordFunction& call, Capture& capture) {
  const c10::ArrayRef<const c10::IValue> inputs = call.inputs();
  if (inputs.size() < 9 || !inputs[2].isTensorList()) return;
  const std::vector<at::Tensor> params = inputs[2].toTensorVector();
  size_t index = 0;
  while (index < params.size() && params[index].unsafeGetTensorImpl() != capture.weight) ++index;
  if (index == params.size()) return;
  capture.seen = true;
  if (inputs[7].toBool()) {
    capture.error = "bidirectional LSTM layers are not supported";
    return;
  }
  LstmCall lstm;
  lstm.hx = inputs[1].toTensorVector();
  lstm.params = params;
  lstm.has_biases = inputs[3].toBool();
  lstm.batch_first = inputs[8].toBool();
  const size_t per_layer = lstm.has_biases ? 4 : 2;
  lstm.layer = static_cast<int64_t>(index / per_layer);
  lstm.hidden_weight = index % per_layer == 1;
  if (index % per_layer > 1 || lstm.hx.size() != 2) {
    capture.error = "the weight is not an LSTM weight matrix";
    return;
  }
  capture.input = inputs[0].toTensor().detach();
  capture.lstm = std::move(lstm);
}

// Where an ATen convolution keeps its groups (and its transposed flag): aten::conv2d(input,
// weight, bias, stride, padding, dilation, groups) from modules and scripts, and the
// aten::convolution and aten::_convolution(input, weight, bias, stride, padding, dilation,
// transposed, output_padding, groups, ...) that traces record.
struct ConvolutionArguments {
  size_t groups;
  std::optional<size_t> transposed;
};

std::optional<ConvolutionArguments> AsConvolution(const char* name) {
  if (std::strcmp(name, "aten::conv2d") == 0) return ConvolutionArguments{6, std::nullopt};
  if (std::strcmp(name, "aten::convolution") == 0 || std::strcmp(name, "aten::_convolution") == 0) {
    return ConvolutionArguments{8, 6};
  }
  return std::nullopt;
}

std::unique_ptr<at::ObserverContext> Observe(const at::RecordFunction& call) {
  Capture* capture = current_capture;
  if (capture == nullptr || capture->seen) return nullptr;
  if (std::strcmp(call.name(), "aten::lstm") == 0) {
    ObserveLstm(call, *capture);
    return nullptr;
  }
  if (std::strcmp(call.name(), "aten::embedding") == 0) {
    const c10::ArrayRef<const c10::IValue> inputs = call.inputs();
    if (!inputs.empty() && IsWeight(inputs[0], *capture)) capture->embedding_lookup = true;
    return nullptr;
  }
  const std::optional<ConvolutionArguments> convolution = AsConvolution(call.name());
  if (!convolution.has_value()) {
    ObserveLinear(call, *capture);
    return nullptr;
  }
  const c10::ArrayRef<const c10::IValue> inputs = call.inputs();
  if (inputs.size() < 2 || !IsWeight(inputs[1], *capture)) return nullptr;
  capture->seen = true;
  capture->is_conv = true;
  capture->input = inputs[0].toTensor().detach();
  if (inputs.size() <= convolution->groups || !inputs[4].isIntList()) {
    capture->error = "the convolution's padding is not a list of numbers (\"same\" padding)";
    return nullptr;
  }
  if (convolution->transposed.has_value() && inputs[*convolution->transposed].toBool()) {
    capture->error = "the convolution is transposed";
    return nullptr;
  }
  capture->stride = inputs[3].toIntVector();
  capture->padding = inputs[4].toIntVector();
  capture->dilation = inputs[5].toIntVector();
  capture->groups = inputs[convolution->groups].toInt();
  return nullptr;
}

// Observes `forward` on this thread only, and stops observing even if it throws.
class ObserverScope {
 public:
  explicit ObserverScope(Capture& capture) {
    current_capture = &capture;
    handle_ = at::addThreadLocalCallback(at::RecordFunctionCallback(&Observe)
                                             .needsInputs(true)
                                             .scopes({at::RecordScope::FUNCTION}));
  }
  ~ObserverScope() {
    at::removeCallback(handle_);
    current_capture = nullptr;
  }
  ObserverScope(const ObserverScope&) = delete;
  ObserverScope& operator=(const ObserverScope&) = delete;

 private:
  at::CallbackHandle handle_;
};

// `count` distinct indices in [0, total), or all of them in order when count >= total.
at::Tensor DrawIndices(int64_t total, int64_t count, at::Generator& generator) {
  if (count >= total) return at::arange(total, at::kLong);
  return at::randperm(total, generator, at::kLong).slice(0, 0, count);
}

at::Tensor SamplePatches(const Capture& capture, const at::Tensor& weight, int64_t max_rows,
                         at::Generator& generator) {
  const at::Tensor input = capture.input.to(at::kFloat);
  const int64_t batch = input.size(0), channels = input.size(1);
  const int64_t kh = weight.size(2), kw = weight.size(3);
  const int64_t sy = capture.stride[0], sx = capture.stride.size() > 1 ? capture.stride[1] : sy;
  const int64_t py = capture.padding[0], px = capture.padding.size() > 1 ? capture.padding[1] : py;
  const int64_t dy = capture.dilation[0],
                dx = capture.dilation.size() > 1 ? capture.dilation[1] : dy;
  const at::Tensor padded = at::constant_pad_nd(input, {px, px, py, py}, 0);
  const int64_t out_h = (padded.size(2) - dy * (kh - 1) - 1) / sy + 1;
  const int64_t out_w = (padded.size(3) - dx * (kw - 1) - 1) / sx + 1;
  const at::Tensor position = DrawIndices(batch * out_h * out_w, max_rows, generator);
  const int64_t rows = position.size(0);
  const at::Tensor image = position.div(out_h * out_w, "floor");
  const at::Tensor oy = position.div(out_w, "floor").remainder(out_h);
  const at::Tensor ox = position.remainder(out_w);
  const at::Tensor y = oy.unsqueeze(1) * sy + at::arange(kh, at::kLong).unsqueeze(0) * dy;
  const at::Tensor x = ox.unsqueeze(1) * sx + at::arange(kw, at::kLong).unsqueeze(0) * dx;
  // (rows, channels, kh, kw) by broadcasting the four index tensors.
  const at::Tensor patches = at::index(
      padded, {image.view({rows, 1, 1, 1}), at::arange(channels, at::kLong).view({1, channels, 1, 1}),
               y.view({rows, 1, kh, 1}), x.view({rows, 1, 1, kw})});
  return patches.reshape({rows * capture.groups, channels / capture.groups * kh * kw});
}

// The rows an LSTM weight multiplies over the recorded sequence: the input sequence of its
// layer (weight_ih: x_t) or that layer's hidden states one step behind (weight_hh: h_{t-1},
// from h0). Upper layers' inputs are recomputed from the call's own tensors, layer by layer,
// as in evaluation (no dropout between layers).
at::Tensor LstmRows(const Capture& capture) {
  const LstmCall& lstm = *capture.lstm;
  c10::NoGradGuard no_grad;
  const size_t per_layer = lstm.has_biases ? 4 : 2;
  at::Tensor x = lstm.batch_first ? capture.input.transpose(0, 1) : capture.input;  // (T, B, in)
  const int64_t last = lstm.hidden_weight ? lstm.layer : lstm.layer - 1;
  at::Tensor output;
  for (int64_t l = 0; l <= last; ++l) {
    const std::vector<at::Tensor> params(lstm.params.begin() + l * per_layer,
                                         lstm.params.begin() + (l + 1) * per_layer);
    output = std::get<0>(at::lstm(x, {lstm.hx[0].slice(0, l, l + 1), lstm.hx[1].slice(0, l, l + 1)},
                                  params, lstm.has_biases, /*num_layers=*/1, /*dropout=*/0,
                                  /*train=*/false, /*bidirectional=*/false, /*batch_first=*/false));
    if (l < lstm.layer) x = output;
  }
  if (!lstm.hidden_weight) return x.reshape({-1, x.size(-1)});
  const at::Tensor previous =
      at::cat({lstm.hx[0].slice(0, lstm.layer, lstm.layer + 1), output.slice(0, 0, -1)});
  return previous.reshape({-1, previous.size(-1)});
}

}  // namespace

absl::StatusOr<at::Tensor> SampleLayerInputs(const at::Tensor& weight,
                                             const std::function<void()>& forward,
                                             int64_t max_rows, uint64_t seed) {
  if (max_rows < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_rows must be >= 1, got ", max_rows));
  }
  Capture capture;
  capture.weight = weight.unsafeGetTensorImpl();
  {
    ObserverScope scope(capture);
    forward();
  }
  if (!capture.error.empty()) return absl::UnimplementedError(capture.error);
  if (!capture.seen && capture.embedding_lookup) {
    return at::eye(weight.size(1), at::kFloat);
  }
  if (!capture.seen) {
    return absl::NotFoundError(absl::StrCat("no convolution or linear call with the weight of shape (",
                                            absl::StrJoin(weight.sizes(), ", "),
                                            ") was seen while the model ran"));
  }
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  if (capture.is_conv) return SamplePatches(capture, weight, max_rows, generator);
  const at::Tensor rows = capture.lstm ? LstmRows(capture).to(at::kFloat)
                                       : capture.input.to(at::kFloat).reshape({-1, weight.size(1)});
  return rows.index_select(0, DrawIndices(rows.size(0), max_rows, generator));
}

}  // namespace mc::vq
