#include "quant/lsq.h"

#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "quant/uniform.h"
#include "quant/uniform_codec.h"

namespace mc::quant {
namespace {

ParamSelection Selection(const LSQOptions& options) {
  return {options.min_size(), options.float16(), options.exclude(), options.detect_bound()};
}

// 2^(b-1): minus the lowest index, and the level that stores index 0.
int64_t ZeroLevel(int64_t bits) { return int64_t{1} << (bits - 1); }

}  // namespace

LSQ::LSQ(std::shared_ptr<torch::nn::Module> model, const LSQOptions& options)
    : BaseQuantizer(std::move(model), Selection(options), "lsq"),
      options_(options),
      bits_(IntegerBits(options.bits(), 2, 15, "LSQ")) {
  // The reference's initial step; the paper divides by sqrt(2^(b-1) - 1) instead.
  const double divisor = std::sqrt(static_cast<double>(ZeroLevel(bits_)));
  for (const QuantizedParam& param : quantized_params()) {
    steps_.push_back((param.param.detach().abs().mean() * 2 / divisor).set_requires_grad(true));
  }
}

void LSQ::setup_optimizer(torch::optim::Optimizer& optimizer) {
  TORCH_CHECK(!optimizer_set_up_, "LSQ: setup_optimizer called twice");
  optimizer.add_param_group(
      torch::optim::OptimizerParamGroup(steps_, optimizer.defaults().clone()));
  optimizer_set_up_ = true;
  mark_optimizer_ready();
}

void LSQ::no_optimizer() { mark_optimizer_ready(); }

at::Tensor LSQ::CheckedStep(size_t index) const {
  const at::Tensor step = steps_[index].detach();
  const float value = step.item<float>();
  TORCH_CHECK(std::isfinite(value) && value != 0, "LSQ: the step of ",
              quantized_params()[index].name, " is ", value,
              "; it must be finite and non-zero (a tensor of zeros starts at step 0)");
  return step;
}

at::Tensor LSQ::TrainingWeight(size_t index, const at::Tensor& weight) {
  CheckedStep(index);
  const double low = -static_cast<double>(ZeroLevel(bits_));
  const double high = static_cast<double>(ZeroLevel(bits_) - 1);
  // gradscale(s, g) and roundpass(x) of the paper, written as value.detach() + (y - y.detach())
  // (y - y.detach() is exactly 0): the values are exactly s and round(x), so that the
  // training value idx * s is bit for bit what evaluation and the state hold. The reference's
  // (x - x * g).detach() + x * g can be one ulp off x.
  const at::Tensor& step = steps_[index];
  const at::Tensor scaled_step = step * (1 / std::sqrt(static_cast<double>(weight.numel()) * high));
  const at::Tensor s = step.detach() + (scaled_step - scaled_step.detach());
  const at::Tensor scaled = (weight / s).clamp(low, high);
  const at::Tensor idx = scaled.detach().round() + (scaled - scaled.detach());
  return idx * s;
}

serialization::CompressedTensor LSQ::EncodeParam(size_t index, const at::Tensor& weight) const {
  const at::Tensor step = CheckedStep(index);
  const int64_t zero_level = ZeroLevel(bits_);
  // The same operations as TrainingWeight, so the same indices.
  const at::Tensor idx =
      (weight.detach() / step)
          .clamp(-static_cast<double>(zero_level), static_cast<double>(zero_level - 1))
          .round();
  serialization::CompressedTensor tensor;
  *tensor.mutable_uniform() = EncodeUniformStep(
      (idx + static_cast<double>(zero_level)).to(at::kInt), bits_, zero_level, step.item<float>());
  return tensor;
}

absl::StatusOr<at::Tensor> LSQ::DecodeParam(size_t /*index*/,
                                            const serialization::CompressedTensor& stored) const {
  if (stored.has_uniform() && stored.uniform().step().empty()) {
    return absl::InvalidArgumentError("stored with a (min, max) range, LSQ stores a step");
  }
  if (stored.has_uniform() && stored.uniform().bits() != bits_) {
    return absl::InvalidArgumentError(absl::StrCat("stored with bits = ", stored.uniform().bits(),
                                                   ", this quantizer uses ", bits_));
  }
  return DecodeUniform(stored);
}

std::map<std::string, std::string> LSQ::MethodOptions() const {
  return {{"bits", absl::StrCat(bits_)}};
}

std::vector<double> LSQ::quantized_param_bits() const {
  std::vector<double> bits;
  for (const QuantizedParam& param : quantized_params()) {
    bits.push_back(static_cast<double>(bits_) * param.param.numel() + 32);  // + the float32 step
  }
  return bits;
}

}  // namespace mc::quant
