// Writes the seed corpus of the runtime_model harness: one LeNet model file (Fashion-MNIST,
// the zoo's smallest architecture) per weight encoding the runtime keeps in memory, each made
// by the library's own encoders, so that mutations start from files the runtime loads and
// reach its checks of shapes and encodings against the architecture. Run by
// `tools/fuzz.sh seeds`.
//
// Usage: make_runtime_model_seeds <directory>
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "nn_models/classifier.h"
#include "nn_models/model_config.h"
#include "quant/learned_points.h"
#include "quant/uniform.h"
#include "quant/uniform_codec.h"
#include "serialization/tensor_codec.h"
#include "tests/fuzz/seed_files.h"
#include "vq/codebook_codec.h"

namespace {

using mc::fuzz::WriteSeed;
using mc::serialization::CompressedModel;
using mc::serialization::CompressedTensor;

// Encodes one weight (a tensor of two or more dimensions) of the model.
using WeightEncoder = std::function<CompressedTensor(const std::string&, const at::Tensor&)>;

CompressedTensor WithNameAndShape(const std::string& name, const at::Tensor& x) {
  CompressedTensor tensor;
  tensor.set_name(name);
  for (const int64_t size : x.sizes()) tensor.add_shape(size);
  return tensor;
}

// Uniform levels at `bits` per tensor, or per group of 8 cycling through 2, 3, 4 and 8 bits
// (DiffQ's mixed widths) when bits is 0.
WeightEncoder Uniform(int64_t bits) {
  return [bits](const std::string& name, const at::Tensor& x) {
    mc::quant::UniformLayout layout;
    at::Tensor widths = at::full({}, bits, at::kLong);
    if (bits == 0) {
      layout.bit_group_size = 8;
      const int64_t groups = (x.numel() + 7) / 8;
      widths = at::tensor({2, 3, 4, 8}, at::kLong).repeat({(groups + 3) / 4}).slice(0, 0, groups);
    }
    CompressedTensor tensor = WithNameAndShape(name, x);
    *tensor.mutable_uniform() = mc::quant::EncodeUniform(
        mc::quant::UniformQuantize(x, widths, layout, mc::quant::Rounding::kHalfToEven), widths,
        layout);
    return tensor;
  };
}

CompressedTensor LearnedPoints(const std::string& name, const at::Tensor& x) {
  const at::Tensor points = at::tensor({0.f, 0.3f, 0.7f, 1.f});
  const mc::quant::BucketScaling scaling = mc::quant::LinearBucketScaling(x, 64);
  CompressedTensor tensor = WithNameAndShape(name, x);
  *tensor.mutable_learned_points() = mc::quant::EncodeLearnedPoints(
      mc::quant::NearestPoint(mc::quant::ScaleDown(x, scaling), points), points,
      scaling);
  return tensor;
}

// 16 random centroids of 5 values for convolutions (LeNet's in * kh * kw are 25 and 150),
// of 4 for linear layers.
CompressedTensor Codebook(const std::string& name, const at::Tensor& x) {
  const int64_t block = x.dim() == 4 ? 5 : 4;
  const at::Tensor centroids = at::randn({16, block}) * 0.1;
  const at::Tensor assignments = at::randint(16, {x.numel() / block}, at::kLong);
  absl::StatusOr<CompressedTensor> tensor =
      mc::vq::EncodeCodebook(name, x.sizes(), centroids, assignments);
  TORCH_CHECK(tensor.ok(), "the codebook seed encodes: ", tensor.status().ToString());
  return *tensor;
}

// A freshly initialized LeNet with its weights encoded by `encode`, its biases as float32.
CompressedModel LeNet(const std::string& method, const WeightEncoder& encode) {
  CompressedModel model;
  model.set_method(method);
  model.set_dataset("fashion_mnist");
  model.mutable_model()->set_name("lenet");
  (*model.mutable_metrics())["test_accuracy"] = 0.1;
  absl::StatusOr<std::shared_ptr<mc::nn_models::Classifier>> lenet =
      mc::nn_models::CreateModelFromConfig(
          model.model(),
          mc::nn_models::ModelOptions().in_channels(1).num_classes(10).image_size(28));
  TORCH_CHECK(lenet.ok(), lenet.status().ToString());
  for (const auto& parameter : (*lenet)->named_parameters()) {
    const at::Tensor value = parameter.value().detach();
    *model.add_tensors() =
        value.dim() >= 2 ? encode(parameter.key(), value)
                         : mc::serialization::EncodePassthrough(parameter.key(), value,
                                                                mc::serialization::FLOAT32);
  }
  return model;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = mc::fuzz::SeedDirectory(argc, argv);
  if (dir.empty()) return 2;
  at::manual_seed(0);
  const bool ok =
      WriteSeed(dir + "/lenet_uniform4.mcm", LeNet("quantized", Uniform(4))) &&
      WriteSeed(dir + "/lenet_mixed_widths.mcm", LeNet("diffq", Uniform(0))) &&
      WriteSeed(dir + "/lenet_sign.mcm", LeNet("metaquant", Uniform(1))) &&
      WriteSeed(dir + "/lenet_learned_points.mcm", LeNet("differentiable_quantization", LearnedPoints)) &&
      WriteSeed(dir + "/lenet_codebook.mcm", LeNet("vq", Codebook));
  return ok ? 0 : 1;
}
