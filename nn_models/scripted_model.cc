#include "nn_models/scripted_model.h"

#include <ATen/core/function_schema.h>
#include <ATen/core/jit_type.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <caffe2/serialize/inline_container.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/passes/tensorexpr_fuser.h>
#include <torch/csrc/jit/serialization/import.h>

#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "serialization/atomic_file.h"

namespace mc::nn_models {
namespace {

// A node of the mirror tree: one submodule of the script, holding its parameters and
// buffers (the script's own tensors) under their local names.
class ScriptSubmodule : public torch::nn::Module {
 public:
  explicit ScriptSubmodule(std::string script_class) : Module(std::move(script_class)) {}
};

std::string ClassName(const torch::jit::Module& script) {
  return script.type()->name() ? script.type()->name()->qualifiedName() : "<unnamed>";
}

// A tensor whose elements share memory (SaveCodeArchive's placeholders): its own zeros.
at::Tensor OwnMemory(torch::jit::Module& script, const std::string& name,
                     const at::Tensor& tensor) {
  if (tensor.storage().nbytes() >= static_cast<size_t>(tensor.numel()) * tensor.itemsize()) {
    return tensor;
  }
  at::Tensor filled = at::zeros(tensor.sizes(), tensor.options());
  filled.set_requires_grad(tensor.requires_grad());
  script.setattr(name, filled);
  return filled;
}

void Mirror(torch::jit::Module& script, torch::nn::Module& mirror) {
  for (const torch::jit::NameTensor& parameter : script.named_parameters(/*recurse=*/false)) {
    const at::Tensor value = OwnMemory(script, parameter.name, parameter.value);
    mirror.register_parameter(parameter.name, value, value.requires_grad());
  }
  for (const torch::jit::NameTensor& buffer : script.named_buffers(/*recurse=*/false)) {
    mirror.register_buffer(buffer.name, OwnMemory(script, buffer.name, buffer.value));
  }
  for (torch::jit::NameModule child : script.named_children()) {
    auto node = std::make_shared<ScriptSubmodule>(ClassName(child.value));
    Mirror(child.value, *node);
    mirror.register_module(child.name, std::move(node));
  }
}

// The first line of a LibTorch error, without its C++ backtrace.
std::string FirstLine(const c10::Error& error) {
  const std::string message = error.what_without_backtrace();
  return message.substr(0, message.find('\n'));
}

// Tells a TorchScript archive from a file torch.save wrote, or from no PyTorch archive.
absl::Status CheckIsTorchScript(const std::string& archive, const std::string& source) {
  std::istringstream stream(archive);
  try {
    caffe2::serialize::PyTorchStreamReader reader(&stream);
    if (reader.hasRecord("data.pkl") && !reader.hasRecord("constants.pkl")) {
      return absl::InvalidArgumentError(absl::StrCat(
          source,
          " was written by torch.save (a pickled module or a state dict), which keeps no "
          "code: save the model with torch.jit.save(torch.jit.script(model), path) or "
          "torch.jit.save(torch.jit.trace(model, example), path)"));
    }
  } catch (const c10::Error& error) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, " is not a TorchScript archive (torch.jit.save writes one), or it is truncated: ",
        FirstLine(error)));
  }
  return absl::OkStatus();
}

// A classifier's forward: (self, one tensor) -> one tensor.
absl::Status CheckForwardSignature(const torch::jit::Module& script, const std::string& source) {
  const c10::optional<torch::jit::Method> forward = script.find_method("forward");
  if (!forward.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": the script has no forward"));
  }
  const c10::FunctionSchema& schema = forward->function().getSchema();
  const c10::TypePtr tensor = c10::TensorType::get();
  const bool takes_one_tensor =
      schema.arguments().size() == 2 && schema.arguments()[1].type()->isSubtypeOf(*tensor);
  const bool returns_one_tensor =
      schema.returns().size() == 1 && schema.returns()[0].type()->isSubtypeOf(*tensor);
  if (!takes_one_tensor || !returns_one_tensor) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the script's forward must take one tensor and return one tensor, ",
                     "its signature is ", c10::toString(schema)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<ScriptedModelImpl>> ScriptedModelImpl::Load(
    const std::string& path) {
  MC_ASSIGN_OR_RETURN(const std::string archive, serialization::ReadFileToString(path));
  return FromArchive(archive, path);
}

absl::StatusOr<std::shared_ptr<ScriptedModelImpl>> ScriptedModelImpl::FromArchive(
    const std::string& archive, const std::string& source) {
  // The TensorExpr fuser compiles parts of a script into kernels of its own (depthwise
  // convolutions among them): their layers then make no ATen call that the methods see.
  torch::jit::setTensorExprFuserEnabled(false);
  MC_RETURN_IF_ERROR(CheckIsTorchScript(archive, source));
  auto script = std::make_unique<torch::jit::Module>();
  try {
    std::istringstream stream(archive);
    *script = torch::jit::load(stream);
  } catch (const c10::Error& error) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the TorchScript archive does not load: ", FirstLine(error)));
  }
  MC_RETURN_IF_ERROR(CheckForwardSignature(*script, source));
  return std::shared_ptr<ScriptedModelImpl>(new ScriptedModelImpl(std::move(script)));
}

ScriptedModelImpl::ScriptedModelImpl(std::unique_ptr<torch::jit::Module> script)
    : torch::nn::Module("ScriptedModel"), script_(std::move(script)) {
  Mirror(*script_, *this);
  torch::nn::Module::train(script_->is_training());
}

ScriptedModelImpl::~ScriptedModelImpl() = default;

at::Tensor ScriptedModelImpl::forward(const at::Tensor& input) {
  const c10::IValue output = script_->forward({input});
  TORCH_CHECK(output.isTensor(), ScriptClassName(), "'s forward returned ", output.tagKind(),
              ", not a tensor");
  return output.toTensor();
}

ForwardGraphBuilder::Value ScriptedModelImpl::DescribeForward(ForwardGraphBuilder&) const {
  TORCH_CHECK(false, "the compressed runtime does not run scripted models (",
              ScriptClassName(), ") yet");
}

void ScriptedModelImpl::train(bool on) {
  torch::nn::Module::train(on);
  script_->train(on);
}

std::shared_ptr<torch::nn::Module> ScriptedModelImpl::clone(
    const c10::optional<c10::Device>& device) const {
  std::unique_ptr<torch::jit::Module> script;
  {
    // deepcopy clones every tensor; with autograd on, each parameter's copy would be a
    // non-leaf result of the original, which gets no gradient of its own.
    torch::NoGradGuard no_grad;
    script = std::make_unique<torch::jit::Module>(script_->deepcopy());
  }
  const torch::jit::named_parameter_list originals = script_->named_parameters();
  auto original = originals.begin();
  for (const torch::jit::NameTensor& parameter : script->named_parameters()) {
    parameter.value.requires_grad_((*original).value.requires_grad());
    ++original;
  }
  if (device.has_value()) script->to(*device);
  std::shared_ptr<ScriptedModelImpl> copy(new ScriptedModelImpl(std::move(script)));
  copy->train(is_training());
  return copy;
}

void ScriptedModelImpl::pretty_print(std::ostream& stream) const {
  stream << "ScriptedModel(" << ScriptClassName() << ")";
}

std::string ScriptedModelImpl::SaveArchive() const {
  std::ostringstream stream;
  script_->save(stream);
  return stream.str();
}

std::string ScriptedModelImpl::SaveCodeArchive() const {
  torch::jit::Module code = script_->deepcopy();
  for (torch::jit::Module module : code.modules()) {
    std::vector<torch::jit::NameTensor> tensors;
    for (const auto& parameter : module.named_parameters(/*recurse=*/false)) tensors.push_back(parameter);
    for (const auto& buffer : module.named_buffers(/*recurse=*/false)) tensors.push_back(buffer);
    for (const torch::jit::NameTensor& tensor : tensors) {
      at::Tensor placeholder = at::empty({0}, tensor.value.options());
      placeholder.set_(at::zeros({1}, tensor.value.options()).storage(), /*storage_offset=*/0,
                       tensor.value.sizes(), std::vector<int64_t>(tensor.value.dim(), 0));
      placeholder.set_requires_grad(tensor.value.requires_grad());
      module.setattr(tensor.name, placeholder);
    }
  }
  std::ostringstream stream;
  code.save(stream);
  return stream.str();
}

std::string ScriptedModelImpl::ScriptClassName() const { return ClassName(*script_); }

}  // namespace mc::nn_models
