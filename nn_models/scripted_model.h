// File: scripted_model.h
// A model written in Python, as a Classifier: the TorchScript module that
// `torch.jit.save(torch.jit.script(model))` or `torch.jit.save(torch.jit.trace(model, x))`
// writes, loaded with its code. The script's parameters and buffers are registered, under the
// dotted names Python gives them ("features.0.0.weight"), in a tree of torch::nn::Modules
// that mirrors the script's submodules and shares its tensors. So the runner, the data sets
// and the methods, which read and write a model through the Module API (in place, as
// quant/base_quantizer.h does), train and compress a scripted model unchanged, and the
// script's forward sees every change. Loading a script turns TorchScript's TensorExpr fuser
// off for the process: the fuser compiles parts of a script (depthwise convolutions among
// them) into kernels of its own, whose layers then make no ATen call that product
// quantization can observe (vq/layer_inputs.h).
//
// Example:
//   MC_ASSIGN_OR_RETURN(std::shared_ptr<ScriptedModelImpl> model,
//                       ScriptedModelImpl::Load("mobilenet_v2.pt"));
//   at::Tensor logits = model->forward(images);           // whatever the script computes
//   for (const auto& p : model->named_parameters()) ...  // p.key(): "features.0.0.weight"
#ifndef MC_NN_MODELS_SCRIPTED_MODEL_H_
#define MC_NN_MODELS_SCRIPTED_MODEL_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/util/Optional.h>
#include <torch/nn/module.h>

#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "nn_models/classifier.h"

namespace torch::jit {
struct Module;
}

namespace mc::nn_models {

class ScriptedModelImpl : public Classifier {
 public:
  /// Loads the TorchScript file at `path`.
  /// \error kNotFound if the file does not exist; kInvalidArgument naming the file if it is
  ///   not a TorchScript archive (a pickled module or a state dict saved with torch.save, a
  ///   truncated file) or if its forward does not take one tensor and return one tensor.
  static absl::StatusOr<std::shared_ptr<ScriptedModelImpl>> Load(const std::string& path);

  /// The same from the bytes of a TorchScript archive; `source` names them in errors.
  static absl::StatusOr<std::shared_ptr<ScriptedModelImpl>> FromArchive(
      const std::string& archive, const std::string& source);

  ~ScriptedModelImpl() override;

  /// The script's forward on one tensor (images, or token windows for a language model),
  /// in the mode train() last set. Throws c10::Error if it does not return a tensor.
  at::Tensor forward(const at::Tensor& input) override;

  /// Scripted models have no forward graph for the compressed runtime yet: throws c10::Error.
  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder) const override;

  /// Sets the training mode of the mirror tree and of the script's modules.
  void train(bool on = true) override;

  /// An independent deep copy: the script and its tensors, with a mirror tree of its own.
  std::shared_ptr<torch::nn::Module> clone(
      const c10::optional<c10::Device>& device = c10::nullopt) const override;

  void pretty_print(std::ostream& stream) const override;

  /// The script with its current parameters and buffers as a TorchScript archive, which
  /// `torch.jit.load` reads in Python and FromArchive here.
  std::string SaveArchive() const;

  /// The script with tensors of one element broadcast to the shapes of its parameters and
  /// buffers: its code and structure in a few kilobytes, for files that store the tensors
  /// themselves. FromArchive fills such tensors with zeros, in their own memory.
  std::string SaveCodeArchive() const;

  /// The TorchScript class name of the scripted module, e.g.
  /// "__torch__.torchvision.models.mobilenetv2.MobileNetV2".
  std::string ScriptClassName() const;

 private:
  explicit ScriptedModelImpl(std::unique_ptr<torch::jit::Module> script);

  std::unique_ptr<torch::jit::Module> script_;
};

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_SCRIPTED_MODEL_H_
