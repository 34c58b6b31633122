#include "quant/diffq.h"

#include <ATen/ATen.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "quant/group_noise.h"
#include "quant/uniform_codec.h"

namespace mc::quant {
namespace {

ParamSelection Selection(const DiffQuantizerOptions& options) {
  return {options.min_size(), options.float16(), options.exclude(), options.detect_bound()};
}

// Sets weight decay to 0 in the optimizer options of the known LibTorch optimizers.
void DisableWeightDecay(torch::optim::OptimizerOptions& options) {
  if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&options)) sgd->weight_decay(0);
  if (auto* adam = dynamic_cast<torch::optim::AdamOptions*>(&options)) adam->weight_decay(0);
  if (auto* adamw = dynamic_cast<torch::optim::AdamWOptions*>(&options)) adamw->weight_decay(0);
  if (auto* rmsprop = dynamic_cast<torch::optim::RMSpropOptions*>(&options)) rmsprop->weight_decay(0);
  if (auto* adagrad = dynamic_cast<torch::optim::AdagradOptions*>(&options)) adagrad->weight_decay(0);
}

}  // namespace

DiffQuantizer::DiffQuantizer(std::shared_ptr<torch::nn::Module> model,
                             const DiffQuantizerOptions& options)
    : BaseQuantizer(std::move(model), Selection(options), "diffq"), options_(options) {
  TORCH_CHECK(options_.noise() == "gaussian" || options_.noise() == "uniform",
              "DiffQuantizer: noise must be \"gaussian\" or \"uniform\", got \"", options_.noise(),
              "\"");
  TORCH_CHECK(options_.param() == "bits" || options_.param() == "noise",
              "DiffQuantizer: param must be \"bits\" or \"noise\", got \"", options_.param(), "\"");
  TORCH_CHECK(options_.group_size() >= 0, "DiffQuantizer: group_size must be >= 0, got ",
              options_.group_size());
  TORCH_CHECK(options_.min_bits() >= 1 && options_.max_bits() <= 15,
              "DiffQuantizer: min_bits and max_bits must be in [1, 15], got ", options_.min_bits(),
              " and ", options_.max_bits());
  TORCH_CHECK(options_.min_bits() < options_.init_bits() &&
                  options_.init_bits() < options_.max_bits(),
              "DiffQuantizer: need min_bits < init_bits < max_bits, got ", options_.min_bits(),
              ", ", options_.init_bits(), ", ", options_.max_bits());
  TORCH_CHECK(options_.extra_bits() >= 0, "DiffQuantizer: extra_bits must be >= 0");

  const double min_bits = static_cast<double>(options_.min_bits());
  const double max_bits = static_cast<double>(options_.max_bits());
  double t;
  if (options_.param() == "bits") {
    t = (options_.init_bits() - min_bits) / (max_bits - min_bits);
  } else {
    const double min_noise = 1 / (std::exp2(max_bits) - 1);
    const double max_noise = 1 / (std::exp2(min_bits) - 1);
    const double init_noise = 1 / (std::exp2(options_.init_bits()) - 1);
    t = (std::log(init_noise) - std::log(max_noise)) / (std::log(min_noise) - std::log(max_noise));
  }
  const float init_logit = static_cast<float>(std::log(t / (1 - t)));
  for (const QuantizedParam& param : quantized_params()) {
    const int64_t groups = NumGroups(param.param.numel(), options_.group_size());
    logits_.push_back(at::full({groups}, init_logit, at::kFloat).set_requires_grad(true));
  }
}

void DiffQuantizer::setup_optimizer(torch::optim::Optimizer& optimizer, double lr) {
  TORCH_CHECK(!optimizer_set_up_, "DiffQuantizer: setup_optimizer called twice");
  for (const auto& group : optimizer.param_groups()) {
    for (const at::Tensor& param : group.params()) {
      for (const at::Tensor& logit : logits_) {
        TORCH_CHECK(!param.is_same(logit),
                    "DiffQuantizer: the optimizer already holds the bit logits");
      }
    }
  }
  std::unique_ptr<torch::optim::OptimizerOptions> group_options = optimizer.defaults().clone();
  group_options->set_lr(lr);
  DisableWeightDecay(*group_options);
  optimizer.add_param_group(torch::optim::OptimizerParamGroup(logits_, std::move(group_options)));
  optimizer_set_up_ = true;
  mark_optimizer_ready();
}

void DiffQuantizer::no_optimizer() { mark_optimizer_ready(); }

at::Tensor DiffQuantizer::bits(size_t index) const {
  const at::Tensor s = logits_.at(index).sigmoid();
  const double min_bits = static_cast<double>(options_.min_bits());
  const double max_bits = static_cast<double>(options_.max_bits());
  if (options_.param() == "bits") return s * max_bits + (1 - s) * min_bits;
  const double log_min_noise = std::log(1 / (std::exp2(max_bits) - 1));
  const double log_max_noise = std::log(1 / (std::exp2(min_bits) - 1));
  const at::Tensor noise = (s * log_min_noise + (1 - s) * log_max_noise).exp();
  return (1 + 1 / noise).log2();
}

at::Tensor DiffQuantizer::stored_bits(size_t index) const {
  torch::NoGradGuard no_grad;
  return (bits(index) + static_cast<double>(options_.extra_bits())).round().clamp(1, 15).to(at::kLong);
}

UniformLayout DiffQuantizer::Layout(size_t index) const {
  UniformLayout layout;
  const int64_t numel = quantized_params()[index].param.numel();
  layout.bit_group_size = options_.group_size() >= numel ? 0 : options_.group_size();
  layout.scale_group_size = 0;
  return layout;
}

at::Tensor DiffQuantizer::TrainingWeight(size_t index, const at::Tensor& weight) {
  const at::Tensor flat = weight.reshape({-1});
  const int64_t numel = flat.numel();
  const int64_t group_size = Layout(index).bit_group_size;
  at::Tensor step;
  if (options_.param() == "bits") {
    step = 1 / (bits(index).exp2() - 1);
  } else {
    const at::Tensor s = logits_[index].sigmoid();
    const double log_min_noise = std::log(1 / (std::exp2(options_.max_bits()) - 1.0));
    const double log_max_noise = std::log(1 / (std::exp2(options_.min_bits()) - 1.0));
    step = (s * log_min_noise + (1 - s) * log_max_noise).exp();
  }
  const at::Tensor eps = options_.noise() == "gaussian"
                             ? at::randn({numel}, flat.options()).div_(2)
                             : at::rand({numel}, flat.options()).sub_(0.5);
  // One step per group of group_size elements (a short last group is cut). The noise scales
  // with the weight's range, which is not detached: as in the reference, its gradient reaches
  // the extreme weights.
  return AddGroupNoise(flat, step, eps, group_size > 0 ? group_size : numel).view(weight.sizes());
}

serialization::CompressedTensor DiffQuantizer::EncodeParam(size_t index,
                                                           const at::Tensor& weight) const {
  const at::Tensor widths = stored_bits(index);
  const UniformLayout layout = Layout(index);
  serialization::CompressedTensor tensor;
  // Widths are stored relative to min_bits, as the size formula counts them.
  *tensor.mutable_uniform() =
      EncodeUniform(UniformQuantize(weight, widths, layout, Rounding::kHalfToEven), widths, layout,
                    std::min<int64_t>(options_.min_bits(), widths.min().item<int64_t>()));
  return tensor;
}

absl::StatusOr<at::Tensor> DiffQuantizer::DecodeParam(
    size_t index, const serialization::CompressedTensor& stored) const {
  if (stored.has_uniform() && stored.uniform().group_size() != Layout(index).bit_group_size) {
    return absl::InvalidArgumentError(absl::StrCat("stored with group size ",
                                                   stored.uniform().group_size(), ", expected ",
                                                   Layout(index).bit_group_size));
  }
  return DecodeUniform(stored);
}

std::map<std::string, std::string> DiffQuantizer::MethodOptions() const {
  return {{"group_size", absl::StrCat(options_.group_size())},
          {"min_bits", absl::StrCat(options_.min_bits())},
          {"max_bits", absl::StrCat(options_.max_bits())},
          {"init_bits", absl::StrCat(options_.init_bits())},
          {"extra_bits", absl::StrCat(options_.extra_bits())},
          {"noise", options_.noise()},
          {"param", options_.param()}};
}

at::Tensor DiffQuantizer::ParamBits(size_t index, bool exact) const {
  // In float64: the constant terms are large next to the differentiable one.
  const int64_t numel = quantized_params()[index].param.numel();
  const int64_t group_size = Layout(index).bit_group_size;
  const int64_t groups = logits_[index].numel();
  at::Tensor b = bits(index).to(at::kDouble) + static_cast<double>(options_.extra_bits());
  if (exact) b = b.detach().round().clamp(1, 15);
  // Elements per group: group_size, except a short last group.
  at::Tensor elements = at::full(
      {groups}, static_cast<double>(group_size == 0 ? numel : group_size), at::kDouble);
  if (groups > 1 && groups * group_size != numel) {
    elements[groups - 1] = static_cast<double>(numel - (groups - 1) * group_size);
  }
  const double max_width = std::round(b.detach().max().item<double>());
  const double table_bits = std::ceil(std::log2(1 + max_width - options_.min_bits()));
  const double constant_bits =
      64 + 8 + (std::isfinite(table_bits) ? std::max(table_bits, 0.0) : 0.0) * groups;
  return (elements * b).sum() + constant_bits;
}

at::Tensor DiffQuantizer::model_size() const {
  at::Tensor total = at::scalar_tensor(unquantized_bits(), at::kDouble);
  for (size_t i = 0; i < logits_.size(); ++i) total = total + ParamBits(i, /*exact=*/false);
  return (total / (8.0 * (1 << 20))).to(at::kFloat);
}

std::vector<double> DiffQuantizer::quantized_param_bits() const {
  torch::NoGradGuard no_grad;
  std::vector<double> bits_per_param;
  for (size_t i = 0; i < logits_.size(); ++i) {
    bits_per_param.push_back(ParamBits(i, /*exact=*/true).item<double>());
  }
  return bits_per_param;
}

}  // namespace mc::quant
