#include "metaquant/meta_nets.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace mc::metaquant {
namespace {

torch::nn::Linear MakeLinear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

at::Tensor Column(const at::Tensor& values) { return values.detach().reshape({-1, 1}); }

// The map x -> L_k(...L_1(x)) of linear layers 1 -> H -> ... -> 1 with no nonlinearity is
// x * scale + offset, with scale = W_k···W_1 and offset = the map at x = 0 (0-d tensors,
// differentiable in every parameter). Applying it to a layer's N weights costs N
// multiply-adds instead of N·H² through the layers, with the same values and gradients up to
// float rounding.
struct AffineMap {
  at::Tensor scale;
  at::Tensor offset;  ///< undefined when the layers have no bias
};

AffineMap Compose(const std::vector<torch::nn::Linear>& layers) {
  at::Tensor scale = layers.front()->weight;  // (H, 1)
  for (size_t i = 1; i < layers.size(); ++i) scale = layers[i]->weight.matmul(scale);
  if (!layers.front()->options.bias()) return {scale.squeeze(), at::Tensor()};
  at::Tensor offset = at::zeros({1, 1}, scale.options());
  for (const torch::nn::Linear& layer : layers) offset = at::linear(offset, layer->weight, layer->bias);
  return {scale.squeeze(), offset.squeeze()};
}

class FCGrad : public MetaNet {
 public:
  explicit FCGrad(int64_t hidden)
      : first_(register_module("fc1", MakeLinear(1, hidden, /*bias=*/false))),
        second_(register_module("fc2", MakeLinear(hidden, 1, /*bias=*/false))) {}

  at::Tensor Forward(const std::string& /*layer*/, const at::Tensor& grad,
                     const at::Tensor& /*pre_quantized*/) override {
    return grad.detach() * Compose({first_, second_}).scale;
  }

 private:
  torch::nn::Linear first_;
  torch::nn::Linear second_;
};

class MultiFC : public MetaNet {
 public:
  MultiFC(int64_t hidden, int64_t num_layers, bool bias) {
    for (int64_t i = 0; i < num_layers; ++i) {
      const int64_t in = i == 0 ? 1 : hidden;
      const int64_t out = i + 1 == num_layers ? 1 : hidden;
      layers_.push_back(register_module(absl::StrCat("fc", i + 1), MakeLinear(in, out, bias)));
    }
  }

  at::Tensor Forward(const std::string& /*layer*/, const at::Tensor& grad,
                     const at::Tensor& pre_quantized) override {
    const AffineMap map = Compose(layers_);
    at::Tensor factor = pre_quantized.detach() * map.scale;
    if (map.offset.defined()) factor = factor + map.offset;
    return grad.detach() * factor;
  }

 private:
  std::vector<torch::nn::Linear> layers_;
};

class LSTMFC : public MetaNet {
 public:
  explicit LSTMFC(int64_t hidden)
      : lstm_(register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(1, hidden)))),
        fc_(register_module("fc", torch::nn::Linear(hidden, 1))) {}

  at::Tensor Forward(const std::string& layer, const at::Tensor& grad,
                     const at::Tensor& pre_quantized) override {
    const at::Tensor input = Column(pre_quantized).unsqueeze(0);  // (seq 1, N, 1)
    std::tuple<at::Tensor, std::tuple<at::Tensor, at::Tensor>> output;
    auto state = states_.find(layer);
    if (state != states_.end() && std::get<0>(state->second).size(1) == input.size(1)) {
      output = lstm_(input, state->second);
    } else {
      output = lstm_(input);
    }
    const auto& [h, c] = std::get<1>(output);
    states_[layer] = {h.detach(), c.detach()};
    return grad.detach() * fc_(std::get<0>(output).squeeze(0)).view(grad.sizes());
  }

  void ResetState() override { states_.clear(); }

  void SaveState(torch::serialize::OutputArchive& archive) const override {
    c10::List<std::string> layers;
    for (const auto& [layer, state] : states_) {
      archive.write(StateKey(layers.size(), "h"), std::get<0>(state));
      archive.write(StateKey(layers.size(), "c"), std::get<1>(state));
      layers.push_back(layer);
    }
    archive.write("layers", c10::IValue(layers));
  }

  void LoadState(torch::serialize::InputArchive& archive) override {
    states_.clear();
    c10::IValue layers;
    archive.read("layers", layers);
    const auto names = layers.to<c10::List<std::string>>();  // throws c10::Error if not
    for (size_t i = 0; i < names.size(); ++i) {
      at::Tensor h, c;
      archive.read(StateKey(i, "h"), h);
      archive.read(StateKey(i, "c"), c);
      states_[names.get(i)] = {h, c};
    }
  }

 private:
  // Archive key of the hidden (h) or cell (c) state of the i-th layer saved.
  static std::string StateKey(size_t i, absl::string_view part) {
    return absl::StrCat("layer_", i, "_", part);
  }

  torch::nn::LSTM lstm_;
  torch::nn::Linear fc_;
  std::map<std::string, std::tuple<at::Tensor, at::Tensor>> states_;
};

}  // namespace

absl::StatusOr<MetaNetType> ParseMetaNetType(absl::string_view name) {
  if (name == "fcgrad") return MetaNetType::kFCGrad;
  if (name == "multifc") return MetaNetType::kMultiFC;
  if (name == "lstmfc") return MetaNetType::kLSTMFC;
  return absl::InvalidArgumentError(
      absl::StrCat("meta network \"", name, "\" is not one of fcgrad, multifc, lstmfc"));
}

std::string MetaNetTypeName(MetaNetType type) {
  switch (type) {
    case MetaNetType::kFCGrad:
      return "fcgrad";
    case MetaNetType::kMultiFC:
      return "multifc";
    case MetaNetType::kLSTMFC:
      return "lstmfc";
  }
  return "";
}

std::shared_ptr<MetaNet> CreateMetaNet(MetaNetType type, const MetaNetOptions& options) {
  const int64_t hidden = options.hidden();
  TORCH_CHECK(hidden >= 1, "meta network: hidden size must be >= 1, got ", hidden);
  TORCH_CHECK(options.num_layers() >= 2, "meta network: MultiFC needs >= 2 layers, got ",
              options.num_layers());
  switch (type) {
    case MetaNetType::kFCGrad:
      return std::make_shared<FCGrad>(hidden);
    case MetaNetType::kMultiFC:
      return std::make_shared<MultiFC>(hidden, options.num_layers(), options.multifc_bias());
    case MetaNetType::kLSTMFC:
      return std::make_shared<LSTMFC>(hidden);
  }
  TORCH_CHECK(false, "unknown meta network type");
}

}  // namespace mc::metaquant
