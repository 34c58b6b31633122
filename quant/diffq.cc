#include "quant/diffq.h"

#include <ATen/ATen.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/units.h"
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
  std::vector<at::Tensor> group_elements;
  for (size_t i = 0; i < quantized_params().size(); ++i) {
    const int64_t numel = quantized_params()[i].param.numel();
    const int64_t groups = NumGroups(numel, options_.group_size());
    logits_.push_back(at::full({groups}, init_logit, at::kFloat).set_requires_grad(true));
    group_counts_.push_back(groups);
    // Elements per group: group_size, except a short last group.
    const int64_t group_size = Layout(i).bit_group_size;
    at::Tensor elements =
        at::full({groups}, static_cast<double>(group_size == 0 ? numel : group_size), at::kDouble);
    if (groups > 1 && groups * group_size != numel) {
      elements[groups - 1] = static_cast<double>(numel - (groups - 1) * group_size);
    }
    group_elements.push_back(elements);
  }
  group_elements_ = group_elements.empty() ? at::empty({0}, at::kDouble) : at::cat(group_elements);
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

at::Tensor DiffQuantizer::bits(size_t index) const { return BitsFromLogits(logits_.at(index)); }

at::Tensor DiffQuantizer::BitsFromLogits(const at::Tensor& logits) const {
  const at::Tensor s = logits.sigmoid();
  const double min_bits = static_cast<double>(options_.min_bits());
  const double max_bits = static_cast<double>(options_.max_bits());
  if (options_.param() == "bits") return s * max_bits + (1 - s) * min_bits;
  return (1 + 1 / NoiseFromSigmoid(s)).log2();
}

at::Tensor DiffQuantizer::NoiseFromSigmoid(const at::Tensor& s) const {
  const double log_min_noise = std::log(1 / (std::exp2(options_.max_bits()) - 1.0));
  const double log_max_noise = std::log(1 / (std::exp2(options_.min_bits()) - 1.0));
  return (s * log_min_noise + (1 - s) * log_max_noise).exp();
}

at::Tensor DiffQuantizer::StepFromLogits(const at::Tensor& logits) const {
  if (options_.param() == "bits") return 1 / (BitsFromLogits(logits).exp2() - 1);
  return NoiseFromSigmoid(logits.sigmoid());
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
  return NoisyWeight(index, weight, StepFromLogits(logits_[index]));
}

std::vector<at::Tensor> DiffQuantizer::TrainingWeights(const std::vector<at::Tensor>& weights) {
  if (weights.empty()) return {};
  // The steps of every parameter in one pass: a handful of operations (and of backward
  // nodes) per training step instead of a handful per layer.
  const std::vector<at::Tensor> steps =
      StepFromLogits(at::cat(logits_)).split_with_sizes(group_counts_);
  std::vector<at::Tensor> values;
  values.reserve(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) values.push_back(NoisyWeight(i, weights[i], steps[i]));
  return values;
}

at::Tensor DiffQuantizer::NoisyWeight(size_t index, const at::Tensor& weight,
                                      const at::Tensor& step) const {
  const at::Tensor flat = weight.reshape({-1});
  const int64_t numel = flat.numel();
  const int64_t group_size = Layout(index).bit_group_size;
  // Gaussian noise is N(0, 1) / 2, drawn as N(0, 0.5): the same numbers in one operation.
  const at::Tensor eps = options_.noise() == "gaussian"
                             ? at::empty({numel}, flat.options()).normal_(0, 0.5)
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

double DiffQuantizer::OverheadBits(size_t index, double widest) const {
  const double table_bits = std::ceil(std::log2(1 + std::round(widest) - options_.min_bits()));
  return 64 + 8 + (std::isfinite(table_bits) ? std::max(table_bits, 0.0) : 0.0) * group_counts_[index];
}

at::Tensor DiffQuantizer::GroupElements(size_t index) const {
  int64_t offset = 0;
  for (size_t i = 0; i < index; ++i) offset += group_counts_[i];
  return group_elements_.narrow(0, offset, group_counts_[index]);
}

at::Tensor DiffQuantizer::ParamBits(size_t index, bool exact) const {
  // In float64: the constant terms are large next to the differentiable one.
  at::Tensor b = bits(index).to(at::kDouble) + static_cast<double>(options_.extra_bits());
  if (exact) b = b.detach().round().clamp(1, 15);
  return (GroupElements(index) * b).sum() + OverheadBits(index, b.detach().max().item<double>());
}

at::Tensor DiffQuantizer::model_size() const {
  double constant_bits = unquantized_bits();
  if (logits_.empty()) return at::scalar_tensor(constant_bits / (8.0 * kBytesPerMb), at::kFloat);
  // Every parameter's widths in one pass, in float64 (see ParamBits).
  const at::Tensor widths = BitsFromLogits(at::cat(logits_)).to(at::kDouble) +
                            static_cast<double>(options_.extra_bits());
  const at::Tensor detached = widths.detach().contiguous();
  const double* width = detached.data_ptr<double>();
  for (size_t i = 0; i < group_counts_.size(); ++i) {
    constant_bits += OverheadBits(i, *std::max_element(width, width + group_counts_[i]));
    width += group_counts_[i];
  }
  return ((at::dot(group_elements_, widths) + constant_bits) / (8.0 * kBytesPerMb)).to(at::kFloat);
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
