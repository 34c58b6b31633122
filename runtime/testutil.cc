#include "runtime/testutil.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <map>
#include <utility>

#include "quant/learned_points.h"
#include "quant/uniform.h"
#include "quant/uniform_codec.h"
#include "serialization/module_encoding.h"
#include "serialization/tensor_codec.h"
#include "vq/codebook_codec.h"

namespace mc::runtime::testing {
namespace {

// Levels of `flat` at per-group widths `bits` (one per group of `group` elements, or one) with
// one (min, max) per range group of `scale_group` (0: the tensor).
quant::UniformQuantized Quantize(const at::Tensor& flat, const at::Tensor& bits, int64_t group,
                                 int64_t scale_group) {
  auto [min, max] = quant::GroupMinMax(flat, scale_group);
  const int64_t numel = flat.numel();
  const auto expand = [numel](const at::Tensor& values, int64_t size) {
    return size == 0 ? values.expand({numel}) : values.repeat_interleave(size).slice(0, 0, numel);
  };
  const at::Tensor steps = (at::pow(2.0, expand(bits, bits.numel() == 1 ? 0 : group)) - 1).to(at::kFloat);
  const at::Tensor low = expand(min, scale_group);
  const at::Tensor range = (expand(max, scale_group) - low).clamp_min(1e-8);
  const at::Tensor levels = at::round((flat - low) / range * steps).clamp(at::zeros_like(steps), steps);
  return {levels.to(at::kInt), min, max};
}

serialization::CompressedTensor Uniform(const std::string& name, const at::Tensor& weight,
                                        const at::Tensor& bits, int64_t group, int64_t scale_group) {
  serialization::CompressedTensor tensor;
  tensor.set_name(name);
  for (const int64_t size : weight.sizes()) tensor.add_shape(size);
  const at::Tensor flat = weight.reshape({-1});
  quant::UniformQuantized quantized = Quantize(flat, bits, group, scale_group);
  quantized.levels = quantized.levels.view(weight.sizes());
  *tensor.mutable_uniform() =
      quant::EncodeUniform(quantized, bits, quant::UniformLayout{group, scale_group});
  return tensor;
}

at::Tensor GroupWidths(int64_t numel, int64_t group, int64_t low, int64_t high) {
  return at::randint(low, high + 1, {(numel + group - 1) / group}, at::kLong);
}

serialization::CompressedTensor Step(const std::string& name, const at::Tensor& weight) {
  const float step = weight.abs().max().item<float>() / 3.0f;
  const at::Tensor levels = at::round(weight / step + 4).clamp(0, 7).to(at::kInt);
  serialization::CompressedTensor tensor;
  tensor.set_name(name);
  for (const int64_t size : weight.sizes()) tensor.add_shape(size);
  *tensor.mutable_uniform() = quant::EncodeUniformStep(levels, 3, 4, step);
  return tensor;
}

serialization::CompressedTensor LearnedPoints(const std::string& name, const at::Tensor& weight) {
  const quant::BucketScaling scaling = quant::LinearBucketScaling(weight.reshape({-1}), 64);
  const at::Tensor points = at::linspace(0, 1, 8);
  const at::Tensor indices = quant::NearestPoint(quant::ScaleDown(weight.reshape({-1}), scaling), points);
  serialization::CompressedTensor tensor;
  tensor.set_name(name);
  for (const int64_t size : weight.sizes()) tensor.add_shape(size);
  *tensor.mutable_learned_points() = quant::EncodeLearnedPoints(indices.view(weight.sizes()), points, scaling);
  return tensor;
}

serialization::CompressedTensor Codebook(const std::string& name, const at::Tensor& weight) {
  const int64_t cols = weight.numel() / weight.size(0);
  const int64_t block = weight.dim() == 4 && weight.size(2) * weight.size(3) > 1
                            ? weight.size(2) * weight.size(3)
                            : (cols % 4 == 0 ? 4 : 1);
  return EncodeCodebookWeight(name, weight, block, std::min<int64_t>(16, weight.numel() / block));
}

}  // namespace

serialization::CompressedTensor EncodeUniformWeight(const std::string& name, const at::Tensor& weight,
                                                    int64_t bits) {
  return Uniform(name, weight, at::full({1}, bits, at::kLong), 0, 0);
}

serialization::CompressedTensor EncodeCodebookWeight(const std::string& name,
                                                     const at::Tensor& weight, int64_t block,
                                                     int64_t num_centroids) {
  const int64_t subvectors = weight.numel() / block;
  const at::Tensor centroids = at::randn({num_centroids, block}) * weight.std();
  const at::Tensor assignments = at::randint(0, num_centroids, {subvectors}, at::kLong);
  auto encoded = vq::EncodeCodebook(name, weight.sizes(), centroids, assignments);
  TORCH_CHECK(encoded.ok(), encoded.status().message());
  return *std::move(encoded);
}

serialization::CompressedTensor EncodeWeight(const std::string& name, const at::Tensor& weight,
                                             WeightEncoding encoding) {
  const int64_t numel = weight.numel();
  switch (encoding) {
    case WeightEncoding::kFourBits:
      return EncodeUniformWeight(name, weight, 4);
    case WeightEncoding::kDiffqWidths:
      return Uniform(name, weight, GroupWidths(numel, 16, 1, 8), 16, 0);
    case WeightEncoding::kWideWidths:
      return Uniform(name, weight, GroupWidths(numel, 8, 2, 12), 8, 0);
    case WeightEncoding::kBuckets:
      return Uniform(name, weight, at::full({1}, 4, at::kLong), 0, 256);
    case WeightEncoding::kStep:
      return Step(name, weight);
    case WeightEncoding::kSigns:
      return EncodeUniformWeight(name, weight, 1);
    case WeightEncoding::kLearnedPoints:
      return LearnedPoints(name, weight);
    case WeightEncoding::kCodebook:
      return Codebook(name, weight);
    case WeightEncoding::kFloat:
      break;
  }
  return serialization::EncodePassthrough(name, weight, serialization::FLOAT32);
}

std::string EncodingName(WeightEncoding encoding) {
  static const std::map<WeightEncoding, std::string> kNames = {
      {WeightEncoding::kFloat, "float"},
      {WeightEncoding::kFourBits, "four_bits"},
      {WeightEncoding::kDiffqWidths, "diffq_widths"},
      {WeightEncoding::kWideWidths, "wide_widths"},
      {WeightEncoding::kBuckets, "buckets"},
      {WeightEncoding::kStep, "step"},
      {WeightEncoding::kSigns, "signs"},
      {WeightEncoding::kLearnedPoints, "learned_points"},
      {WeightEncoding::kCodebook, "codebook"}};
  return kNames.at(encoding);
}

serialization::CompressedModel EncodeModel(const nn_models::Classifier& model,
                                           WeightEncoding encoding) {
  at::manual_seed(11);
  std::map<std::string, serialization::CompressedTensor> encoded;
  for (const auto& parameter : model.named_parameters()) {
    const std::string& name = parameter.key();
    const std::string local_name = name.substr(name.find_last_of('.') + 1);
    if (local_name.rfind("weight", 0) == 0 && parameter.value().dim() >= 2) {
      encoded[parameter.key()] = EncodeWeight(parameter.key(), parameter.value().detach(), encoding);
    }
  }
  serialization::CompressedModel stored;
  stored.set_format_version(1);
  serialization::AppendModuleTensors(model, std::move(encoded), stored);
  return stored;
}

}  // namespace mc::runtime::testing
