// File: classifier.h
// The interface every model of the zoo implements: an image classifier mapping a batch of
// images to logits. Compression methods work against this interface (and the Module API it
// inherits), so any model of the zoo can be quantized, distilled or serialized by name.
//
// Example:
//   std::shared_ptr<Classifier> model = ...;             // e.g. from CreateModel
//   at::Tensor logits = model->forward(images);           // (B, C, H, W) -> (B, num_classes)
//   std::shared_ptr<Classifier> copy = Clone(*model);     // independent deep copy
#ifndef MC_NN_MODELS_CLASSIFIER_H_
#define MC_NN_MODELS_CLASSIFIER_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>

#include "nn_models/forward_graph.h"

namespace mc::nn_models {

/// Base of every model in the zoo. Module is a virtual base, as in torch::nn::Cloneable, so a
/// model derives from both `torch::nn::Cloneable<ModelImpl>` and `Classifier` and is cloneable.
class Classifier : public virtual torch::nn::Module {
 public:
  /// images: (B, in_channels, H, W), float32. Returns logits (B, num_classes), float32.
  virtual at::Tensor forward(const at::Tensor& images) = 0;

  /// forward() in eval mode spelled out on `builder` (nn_models/forward_graph.h), for engines
  /// that run the model from other weights; returns the logits' value.
  virtual ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder) const = 0;

  /// Forgets any state carried from one forward to the next (a recurrent language model's
  /// hidden state, nn_models/language_model.h); nothing for stateless models. Callers that
  /// compare forwards on fixed inputs (e.g. a probe batch) reset it first.
  virtual void ResetState() {}
};

/// Deep copy of `model`: same architecture, parameters and buffers (BatchNorm statistics),
/// sharing no storage with the original. Every model of the zoo supports it.
/// Throws c10::Error if the model is not cloneable (not derived from torch::nn::Cloneable).
std::shared_ptr<Classifier> Clone(const Classifier& model);

/// Number of scalar parameters of `module` and its descendants (buffers such as BatchNorm
/// running statistics are not counted), the figure papers report as a model's size.
int64_t CountParameters(const torch::nn::Module& module);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_CLASSIFIER_H_
