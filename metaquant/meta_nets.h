// File: meta_nets.h
// The meta networks of MetaQuant (Chen et al. 2019): one small network, shared by every
// quantized layer, maps each weight element's (gradient of the quantized weight g = dL/dŴ,
// pre-quantized weight W~) to the gradient of W~. Elements are independent rows, so a layer
// of N weights is a batch of N:
//   FC-Grad:  M = Linear(H -> 1)(Linear(1 -> H)(g))                     (2H parameters)
//   MultiFC:  M = g * MLP(W~), Linear 1 -> H -> ... -> H -> 1 (num_layers layers)
//   LSTMFC:   M = g * Linear(H -> 1, bias)(LSTM(1 -> H)(W~; state of the layer))
// Linear layers have no bias and no nonlinearity between them (the reference's default, with
// which FC-Grad and MultiFC are over-parameterised linear maps: they are computed as the
// product of their weights, one scalar per call, instead of pushing N rows through H x H
// layers). The LSTM keeps one hidden state per layer from one call to the next (detached:
// truncated backpropagation of length 1).
//
// Example:
//   std::shared_ptr<MetaNet> meta = CreateMetaNet(MetaNetType::kMultiFC);
//   at::Tensor meta_grad = meta->Forward("layer1.0.conv1", grad, pre_quantized);
#ifndef MC_METAQUANT_META_NETS_H_
#define MC_METAQUANT_META_NETS_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

namespace mc::metaquant {

enum class MetaNetType { kFCGrad, kMultiFC, kLSTMFC };

/// "fcgrad", "multifc" or "lstmfc". \error kInvalidArgument naming the accepted names.
absl::StatusOr<MetaNetType> ParseMetaNetType(absl::string_view name);
std::string MetaNetTypeName(MetaNetType type);

class MetaNet : public torch::nn::Module {
 public:
  /// The meta gradient of layer `layer`: `grad` (dL/dŴ) and `pre_quantized` (W~) have the
  /// layer's weight shape and are treated as constants; the result has that shape and is
  /// differentiable in the meta network's parameters.
  virtual at::Tensor Forward(const std::string& layer, const at::Tensor& grad,
                             const at::Tensor& pre_quantized) = 0;
  /// Forgets recurrent state (LSTMFC); the other networks have none.
  virtual void ResetState() {}
  /// Writes the recurrent state, and replaces it with the one read, so that a resumed run
  /// continues exactly (LSTMFC; no-ops for the other networks).
  virtual void SaveState(torch::serialize::OutputArchive& /*archive*/) const {}
  virtual void LoadState(torch::serialize::InputArchive& /*archive*/) {}
};

/// A meta network with hidden size `hidden` (reference 100); `num_layers` linear layers for
/// MultiFC (reference 3: 1 -> 100 -> 100 -> 1). Throws c10::Error if hidden < 1 or
/// num_layers < 2.
std::shared_ptr<MetaNet> CreateMetaNet(MetaNetType type, int64_t hidden = 100,
                                       int64_t num_layers = 3);

}  // namespace mc::metaquant

#endif  // MC_METAQUANT_META_NETS_H_
