#include "quant/uniform_quantizer.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "quant/uniform.h"
#include "quant/uniform_codec.h"

namespace mc::quant {
namespace {

ParamSelection Selection(const UniformQuantizerOptions& options) {
  return {options.min_size(), options.float16(), options.exclude(), options.detect_bound()};
}

at::Tensor Width(int64_t bits) { return at::full({}, bits, at::kLong); }

}  // namespace

UniformQuantizer::UniformQuantizer(std::shared_ptr<torch::nn::Module> model,
                                   const UniformQuantizerOptions& options)
    : BaseQuantizer(std::move(model), Selection(options), "uniform"),
      options_(options),
      bits_(IntegerBits(options.bits(), 1, 15, "UniformQuantizer")) {}

at::Tensor UniformQuantizer::TrainingWeight(size_t /*index*/, const at::Tensor& weight) {
  if (!options_.qat()) return weight;
  const at::Tensor quantized = UniformUnquantize(
      UniformQuantize(weight, Width(bits_), {}, Rounding::kHalfToEven), Width(bits_), {});
  // Straight-through estimator. The reference writes w + (Q(w) - w).detach(), whose value
  // can be one ulp off Q(w); adding w - w.detach() (exactly 0) keeps the value exactly Q(w),
  // what evaluation and the stored state hold, with the same identity gradient.
  return quantized + (weight - weight.detach());
}

serialization::CompressedTensor UniformQuantizer::EncodeParam(size_t /*index*/,
                                                              const at::Tensor& weight) const {
  serialization::CompressedTensor tensor;
  *tensor.mutable_uniform() = EncodeUniform(
      UniformQuantize(weight, Width(bits_), {}, Rounding::kHalfToEven), Width(bits_), {});
  return tensor;
}

absl::StatusOr<at::Tensor> UniformQuantizer::DecodeParam(
    size_t /*index*/, const serialization::CompressedTensor& stored) const {
  if (stored.has_uniform() && stored.uniform().bits() != bits_) {
    return absl::InvalidArgumentError(absl::StrCat("stored with bits = ", stored.uniform().bits(),
                                                   ", this quantizer uses ", bits_));
  }
  return DecodeUniform(stored);
}

std::map<std::string, std::string> UniformQuantizer::MethodOptions() const {
  return {{"bits", absl::StrCat(bits_)}, {"qat", options_.qat() ? "true" : "false"}};
}

std::vector<double> UniformQuantizer::quantized_param_bits() const {
  std::vector<double> bits;
  for (const QuantizedParam& param : quantized_params()) {
    bits.push_back(static_cast<double>(bits_) * param.param.numel() + 64);  // + two float32 scales
  }
  return bits;
}

}  // namespace mc::quant
