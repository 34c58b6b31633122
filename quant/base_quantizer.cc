#include "quant/base_quantizer.h"

#include <ATen/ATen.h>
#include <fnmatch.h>
#include <torch/autograd.h>
#include <torch/nn/module.h>
#include <torch/utils.h>
#include <zlib.h>

#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/units.h"
#include "serialization/tensor_codec.h"

namespace mc::quant {
namespace {

// Models that have a quantizer attached: one quantizer per model at a time.
std::mutex attached_mutex;
std::set<const torch::nn::Module*>& AttachedModels() {
  static auto* models = new std::set<const torch::nn::Module*>();
  return *models;
}

bool Excluded(const std::vector<std::string>& patterns, const std::string& full_name,
              const std::string& local_name) {
  for (const std::string& pattern : patterns) {
    if (fnmatch(pattern.c_str(), full_name.c_str(), 0) == 0 ||
        fnmatch(pattern.c_str(), local_name.c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

TrainingStep::TrainingStep(BaseQuantizer* quantizer) : quantizer_(quantizer) {
  torch::NoGradGuard no_grad;
  const size_t count = quantizer_->params_.size();
  originals_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const at::Tensor& param = quantizer_->params_[i].param;
    // A separate leaf: the small graph must not see the in-place write below. Contiguous
    // whatever the parameter's layout (a channels-last convolution's), so that methods
    // flatten it for free.
    originals_.push_back(param.detach().clone(at::MemoryFormat::Contiguous));
  }
  for (at::Tensor& leaf : originals_) leaf.set_requires_grad(true);
  try {
    {
      at::AutoGradMode enable_grad(true);
      training_values_ = quantizer_->TrainingWeights(originals_);
    }
    TORCH_CHECK(training_values_.size() == count, "TrainingWeights gave ",
                training_values_.size(), " values for ", count, " parameters");
    for (size_t i = 0; i < count; ++i) {
      quantizer_->params_[i].param.detach().copy_(training_values_[i].detach());
    }
  } catch (...) {
    Restore();
    throw;
  }
}

TrainingStep::TrainingStep(TrainingStep&& other) noexcept
    : quantizer_(other.quantizer_),
      originals_(std::move(other.originals_)),
      training_values_(std::move(other.training_values_)),
      backward_done_(other.backward_done_) {
  other.quantizer_ = nullptr;
}

TrainingStep::~TrainingStep() { Restore(); }

void TrainingStep::Restore() {
  if (quantizer_ == nullptr) return;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < originals_.size(); ++i) {
    quantizer_->params_[i].param.detach().copy_(originals_[i].detach());
  }
  quantizer_ = nullptr;
}

void TrainingStep::backward() {
  TORCH_CHECK(quantizer_ != nullptr, "TrainingStep::backward on a finished step");
  TORCH_CHECK(!backward_done_, "TrainingStep::backward called twice");
  backward_done_ = true;
  std::vector<at::Tensor> roots;
  std::vector<at::Tensor> grads;
  std::vector<size_t> indices;
  for (size_t i = 0; i < training_values_.size(); ++i) {
    const at::Tensor grad = quantizer_->params_[i].param.grad();
    if (!grad.defined() || !training_values_[i].requires_grad()) continue;
    roots.push_back(training_values_[i]);
    grads.push_back(grad.detach().clone(at::MemoryFormat::Contiguous));  // as the leaf
    indices.push_back(i);
  }
  if (roots.empty()) return;
  torch::autograd::backward(roots, grads);
  torch::NoGradGuard no_grad;
  for (size_t i : indices) {
    at::Tensor weight_grad = originals_[i].grad();
    at::Tensor param_grad = quantizer_->params_[i].param.mutable_grad();
    if (weight_grad.defined()) {
      param_grad.copy_(weight_grad);
    } else {
      param_grad.zero_();  // w' does not depend on w
    }
  }
}

BaseQuantizer::BaseQuantizer(std::shared_ptr<torch::nn::Module> model,
                             const ParamSelection& selection, std::string method)
    : model_(std::move(model)), method_(std::move(method)), selection_(selection) {
  TORCH_CHECK(model_ != nullptr, "quantizer: the model is null");
  TORCH_CHECK(selection_.min_size >= 0, "quantizer: min_size must be >= 0, got ",
              selection_.min_size);
  {
    std::lock_guard<std::mutex> lock(attached_mutex);
    TORCH_CHECK(AttachedModels().insert(model_.get()).second,
                "a quantizer is already attached to this model; detach() it first");
  }
  const int64_t min_params = static_cast<int64_t>(selection_.min_size * kBytesPerMb / 4);
  std::unordered_set<const void*> seen;
  for (const auto& module : model_->named_modules()) {
    for (const auto& item : module.value()->named_parameters(/*recurse=*/false)) {
      const std::string& local = item.key();
      const std::string full = module.key().empty() ? local : module.key() + "." + local;
      const at::Tensor& param = item.value();
      const bool first = seen.insert(param.unsafeGetTensorImpl()).second;
      if (selection_.detect_bound && !first) continue;
      if (param.numel() > min_params && !Excluded(selection_.exclude, full, local)) {
        params_.push_back({full, param});
      } else {
        passthrough_.push_back({full, param, /*is_buffer=*/false});
      }
    }
  }
  for (const auto& item : model_->named_buffers()) {
    passthrough_.push_back({item.key(), item.value(), /*is_buffer=*/true});
  }
}

BaseQuantizer::~BaseQuantizer() {
  if (!detached_) detach();
}

void BaseQuantizer::detach() {
  if (detached_) return;
  unquantize();
  detached_ = true;
  std::lock_guard<std::mutex> lock(attached_mutex);
  AttachedModels().erase(model_.get());
}

TrainingStep BaseQuantizer::training_step() {
  TORCH_CHECK(!detached_, method_, " quantizer: training_step after detach()");
  TORCH_CHECK(!has_learnable_parameters() || optimizer_ready_, method_,
              " quantizer: call setup_optimizer() (or no_optimizer()) before training");
  unquantize();
  return TrainingStep(this);
}

std::vector<at::Tensor> BaseQuantizer::TrainingWeights(const std::vector<at::Tensor>& weights) {
  std::vector<at::Tensor> values;
  values.reserve(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) values.push_back(TrainingWeight(i, weights[i]));
  return values;
}

at::Tensor BaseQuantizer::float_weight(size_t index) const {
  return quantized_ ? saved_[index] : params_[index].param.detach();
}

void BaseQuantizer::quantize() {
  TORCH_CHECK(!detached_, method_, " quantizer: quantize after detach()");
  if (quantized_) return;
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> values;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor weight = params_[i].param.detach();
    // Through the stored form, so that evaluation sees exactly what a restored file holds.
    absl::StatusOr<at::Tensor> decoded = DecodeParam(i, EncodeQuantized(i, weight));
    TORCH_CHECK(decoded.ok(), "quantizing ", params_[i].name, ": ", decoded.status().message());
    values.push_back(*decoded);
  }
  saved_.clear();
  for (size_t i = 0; i < params_.size(); ++i) {
    saved_.push_back(params_[i].param.detach().clone());
    params_[i].param.detach().copy_(values[i]);
  }
  if (selection_.float16) {
    for (const Passthrough& other : passthrough_) {
      if (other.is_buffer) continue;
      saved_.push_back(other.tensor.detach().clone());
      other.tensor.detach().copy_(other.tensor.detach().to(at::kHalf));
    }
  }
  quantized_ = true;
}

void BaseQuantizer::unquantize() {
  if (!quantized_) return;
  torch::NoGradGuard no_grad;
  size_t next = 0;
  for (const QuantizedParam& param : params_) param.param.detach().copy_(saved_[next++]);
  if (selection_.float16) {
    for (const Passthrough& other : passthrough_) {
      if (!other.is_buffer) other.tensor.detach().copy_(saved_[next++]);
    }
  }
  saved_.clear();
  quantized_ = false;
}

serialization::CompressedTensor BaseQuantizer::EncodeQuantized(size_t index,
                                                               const at::Tensor& weight) const {
  serialization::CompressedTensor tensor = EncodeParam(index, weight);
  tensor.set_name(params_[index].name);
  tensor.clear_shape();
  for (const int64_t size : params_[index].param.sizes()) tensor.add_shape(size);
  return tensor;
}

double BaseQuantizer::unquantized_bits() const {
  double bits = 0;
  for (const Passthrough& other : passthrough_) {
    if (!other.is_buffer) bits += (selection_.float16 ? 16.0 : 32.0) * other.tensor.numel();
  }
  return bits;
}

at::Tensor BaseQuantizer::model_size() const {
  return at::scalar_tensor(true_model_size(), at::kFloat);
}

double BaseQuantizer::true_model_size() const {
  double bits = unquantized_bits();
  for (const double param_bits : quantized_param_bits()) bits += param_bits;
  return bits / 8 / kBytesPerMb;
}

serialization::CompressedModel BaseQuantizer::get_quantized_state() const {
  serialization::CompressedModel state;
  state.set_method(method_);
  for (const auto& [key, value] : MethodOptions()) (*state.mutable_method_options())[key] = value;
  (*state.mutable_method_options())["min_size"] = absl::StrCat(selection_.min_size);
  (*state.mutable_method_options())["float16"] = selection_.float16 ? "true" : "false";
  for (size_t i = 0; i < params_.size(); ++i) {
    *state.add_tensors() = EncodeQuantized(i, float_weight(i));
  }
  size_t next_saved = params_.size();
  for (const Passthrough& other : passthrough_) {
    at::Tensor value = other.tensor;
    serialization::DataType dtype = serialization::FLOAT32;
    if (other.is_buffer) {
      if (!at::isFloatingType(value.scalar_type())) dtype = serialization::INT64;
    } else if (selection_.float16) {
      dtype = serialization::FLOAT16;
      if (quantized_) value = saved_[next_saved++];
    }
    *state.add_tensors() = serialization::EncodePassthrough(other.name, value, dtype);
  }
  return state;
}

absl::Status BaseQuantizer::restore_quantized_state(const serialization::CompressedModel& state) {
  if (state.method() != method_) {
    return absl::InvalidArgumentError(absl::StrCat("the state was written by method \"",
                                                   state.method(), "\", this quantizer is ",
                                                   method_));
  }
  std::unordered_map<std::string, const serialization::CompressedTensor*> stored;
  for (const serialization::CompressedTensor& tensor : state.tensors()) {
    stored[tensor.name()] = &tensor;
  }
  std::vector<std::string> problems;
  std::vector<std::pair<at::Tensor, at::Tensor>> assignments;  // (target, value)
  const auto expect = [&](const std::string& name, const at::Tensor& target,
                          const std::function<absl::StatusOr<at::Tensor>(
                              const serialization::CompressedTensor&)>& decode) {
    auto found = stored.find(name);
    if (found == stored.end()) {
      problems.push_back(absl::StrCat("missing ", name));
      return;
    }
    const serialization::CompressedTensor& tensor = *found->second;
    stored.erase(found);
    const std::vector<int64_t> shape(tensor.shape().begin(), tensor.shape().end());
    if (at::IntArrayRef(shape) != target.sizes()) {
      problems.push_back(absl::StrCat(name, " has shape [", absl::StrJoin(shape, ", "),
                                      "], the model's is [", absl::StrJoin(target.sizes(), ", "),
                                      "]"));
      return;
    }
    absl::StatusOr<at::Tensor> value = decode(tensor);
    if (!value.ok()) {
      problems.push_back(absl::StrCat(name, ": ", value.status().message()));
      return;
    }
    assignments.emplace_back(target, *value);
  };
  for (size_t i = 0; i < params_.size(); ++i) {
    expect(params_[i].name, params_[i].param,
           [&](const serialization::CompressedTensor& tensor) { return DecodeParam(i, tensor); });
  }
  for (const Passthrough& other : passthrough_) {
    expect(other.name, other.tensor, &serialization::DecodePassthrough);
  }
  for (const auto& [name, tensor] : stored) problems.push_back(absl::StrCat("unexpected ", name));
  if (!problems.empty()) {
    std::sort(problems.begin(), problems.end());
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot restore the quantized state: ", absl::StrJoin(problems, "; ")));
  }
  unquantize();
  torch::NoGradGuard no_grad;
  for (auto& [target, value] : assignments) target.detach().copy_(value);
  return absl::OkStatus();
}

double BaseQuantizer::compressed_model_size(int level) const {
  const std::string bytes = get_quantized_state().SerializeAsString();
  uLongf compressed_size = compressBound(bytes.size());
  std::string compressed(compressed_size, '\0');
  const int result =
      compress2(reinterpret_cast<Bytef*>(compressed.data()), &compressed_size,
                reinterpret_cast<const Bytef*>(bytes.data()), bytes.size(), level);
  TORCH_CHECK(result == Z_OK, "zlib compress2 failed with code ", result);
  return static_cast<double>(compressed_size) / kBytesPerMb;
}

}  // namespace mc::quant
