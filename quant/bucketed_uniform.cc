#include "quant/bucketed_uniform.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "quant/uniform_codec.h"

namespace mc::quant {
namespace {

at::Tensor Width(int64_t bits) { return at::full({}, bits, at::kLong); }

UniformLayout BucketLayout(int64_t bucket_size) { return {0, bucket_size}; }

ParamSelection Selection(const BucketedUniformOptions& options) {
  TORCH_CHECK(options.bucket_size() >= 0, "BucketedUniformQuantizer: bucket_size must be >= 0, got ",
              options.bucket_size());
  TORCH_CHECK(options.min_size() >= 0, "BucketedUniformQuantizer: min_size must be >= 0, got ",
              options.min_size());
  return {options.min_size(), /*float16=*/false, options.exclude(), /*detect_bound=*/true};
}

}  // namespace

UniformQuantized BucketedUniformQuantize(const at::Tensor& x, int64_t bits, int64_t bucket_size,
                                         Rounding rounding) {
  return UniformQuantize(x, Width(bits), BucketLayout(bucket_size), rounding);
}

at::Tensor BucketedUniformUnquantize(const UniformQuantized& q, int64_t bits, int64_t bucket_size) {
  return UniformUnquantize(q, Width(bits), BucketLayout(bucket_size));
}

BucketedUniformQuantizer::BucketedUniformQuantizer(std::shared_ptr<torch::nn::Module> model,
                                                   const BucketedUniformOptions& options)
    : BaseQuantizer(std::move(model), Selection(options), "bucketed_uniform"),
      options_(options),
      bits_(IntegerBits(options.bits(), 1, 15, "BucketedUniformQuantizer")) {}

int64_t BucketedUniformQuantizer::BucketSize(const at::Tensor& weight) const {
  if (options_.per_channel() && weight.dim() >= 2 && weight.size(0) > 0) {
    return weight.numel() / weight.size(0);
  }
  return options_.bucket_size();
}

at::Tensor BucketedUniformQuantizer::TrainingWeight(size_t /*index*/, const at::Tensor& weight) {
  if (!options_.straight_through()) return weight;
  const Rounding rounding =
      options_.stochastic_rounding() ? Rounding::kStochastic : Rounding::kHalfAwayFromZero;
  const int64_t bucket_size = BucketSize(weight);
  const at::Tensor quantized = BucketedUniformUnquantize(
      BucketedUniformQuantize(weight, bits_, bucket_size, rounding), bits_, bucket_size);
  // Value exactly Q(w), gradient the identity (w - w.detach() is exactly 0).
  return quantized + (weight - weight.detach());
}

serialization::CompressedTensor BucketedUniformQuantizer::EncodeParam(size_t /*index*/,
                                                                      const at::Tensor& weight) const {
  serialization::CompressedTensor tensor;
  const int64_t bucket_size = BucketSize(weight);
  *tensor.mutable_uniform() = EncodeUniform(
      BucketedUniformQuantize(weight, bits_, bucket_size, Rounding::kHalfAwayFromZero),
      Width(bits_), BucketLayout(bucket_size));
  return tensor;
}

absl::StatusOr<at::Tensor> BucketedUniformQuantizer::DecodeParam(
    size_t index, const serialization::CompressedTensor& stored) const {
  if (stored.has_uniform()) {
    const serialization::UniformEncoding& uniform = stored.uniform();
    if (uniform.bits() != bits_ || !uniform.group_bits().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("stored with bits = ", uniform.bits(), ", this quantizer uses ", bits_));
    }
    const int64_t bucket_size = BucketSize(quantized_params()[index].param);
    if (uniform.scale_group_size() != bucket_size) {
      return absl::InvalidArgumentError(absl::StrCat("stored with buckets of ",
                                                     uniform.scale_group_size(),
                                                     ", this quantizer uses ", bucket_size));
    }
  }
  return DecodeUniform(stored);
}

std::map<std::string, std::string> BucketedUniformQuantizer::MethodOptions() const {
  std::map<std::string, std::string> options = {
      {"bits", absl::StrCat(bits_)}, {"bucket_size", absl::StrCat(options_.bucket_size())}};
  if (options_.per_channel()) options["per_channel"] = "true";
  return options;
}

std::vector<double> BucketedUniformQuantizer::quantized_param_bits() const {
  std::vector<double> bits;
  for (const QuantizedParam& param : quantized_params()) {
    const int64_t numel = param.param.numel();
    bits.push_back(static_cast<double>(bits_) * numel +
                   64.0 * NumGroups(numel, BucketSize(param.param)));
  }
  return bits;
}

}  // namespace mc::quant
