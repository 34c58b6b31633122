// File: meta_nets.h
// The meta networks of MetaQuant (Chen et al. 2019): one small network, shared by every
// quantized layer, maps each weight element's (gradient of the quantized weight g = dL/dŴ,
// pre-quantized weight W~) to the gradient of W~. Elements are independent rows, so a layer
// of N weights is a batch of N:
//   FC-Grad:  M = Linear(H -> 1)(Linear(1 -> H)(g))                     (2H parameters)
//   MultiFC:  M = g * MLP(W~), Linear 1 -> H -> ... -> H -> 1 (num_layers layers)
//   LSTMFC:   M = g * Linear(H -> 1, bias)(LSTM(1 -> H)(W~; state of the layer))
// There is no nonlinearity between the linear layers (the reference's default), so FC-Grad
// and MultiFC are over-parameterised affine maps: they are computed as one scale (the
// product of the weights) and one offset per call, instead of pushing N rows through H x H
// layers. FC-Grad's layers have no bias (the reference's), so M = s * g. MultiFC's have
// biases by default, M = g * (s * W~ + b), where the reference has none: without b, M is
// proportional to W~, and with BWN (W~ = W) the step W - lr * M = W * (1 - lr * s * g)
// cannot change a weight's sign unless it overshoots zero, so the binary weights stay those
// of the float model (metaquant/README.md). The LSTM keeps one hidden state per layer from
// one call to the next (detached: truncated backpropagation of length 1).
//
// Example:
//   std::shared_ptr<MetaNet> meta = CreateMetaNet(MetaNetType::kMultiFC, MetaNetOptions());
//   at::Tensor meta_grad = meta->Forward("layer1.0.conv1", grad, pre_quantized);
#ifndef MC_METAQUANT_META_NETS_H_
#define MC_METAQUANT_META_NETS_H_

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
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

struct MetaNetOptions {
  /// Hidden size. Default 100 (reference).
  TORCH_ARG(int64_t, hidden) = 100;
  /// Linear layers of MultiFC. Default 3 (reference: 1 -> 100 -> 100 -> 1).
  TORCH_ARG(int64_t, num_layers) = 3;
  /// Whether MultiFC's linear layers have biases (file comment). Default true; the
  /// reference: false.
  TORCH_ARG(bool, multifc_bias) = true;
};

/// A meta network of `type`. Throws c10::Error if options.hidden() < 1 or
/// options.num_layers() < 2.
std::shared_ptr<MetaNet> CreateMetaNet(MetaNetType type, const MetaNetOptions& options);

}  // namespace mc::metaquant

#endif  // MC_METAQUANT_META_NETS_H_
