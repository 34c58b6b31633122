// Writes the seed corpus of the model_file harness: one small model file per tensor encoding,
// each made by the library's own encoders. Run by `tools/fuzz.sh seeds`.
//
// Usage: make_model_file_seeds <directory>
#include <ATen/ATen.h>

#include <string>

#include "absl/status/statusor.h"
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

CompressedModel Model(const std::string& method) {
  CompressedModel model;
  model.set_method(method);
  model.set_dataset("fashion_mnist");
  model.mutable_model()->set_name("lenet");
  model.mutable_model()->set_num_classes(10);
  return model;
}

CompressedTensor Uniform(const std::string& name, const at::Tensor& x, const at::Tensor& bits,
                         const mc::quant::UniformLayout& layout) {
  CompressedTensor tensor;
  tensor.set_name(name);
  for (const int64_t size : x.sizes()) tensor.add_shape(size);
  *tensor.mutable_uniform() = mc::quant::EncodeUniform(
      mc::quant::UniformQuantize(x, bits, layout, mc::quant::Rounding::kHalfToEven), bits,
      layout);
  return tensor;
}

CompressedModel Passthrough() {
  CompressedModel model = Model("float");
  (*model.mutable_method_options())["note"] = "every passthrough dtype";
  (*model.mutable_metrics())["test_accuracy"] = 0.5;
  *model.add_tensors() = mc::serialization::EncodePassthrough(
      "fc.weight", at::linspace(-1, 1, 6).view({2, 3}), mc::serialization::FLOAT32);
  *model.add_tensors() = mc::serialization::EncodePassthrough(
      "fc.bias", at::tensor({0.25f, -0.5f}), mc::serialization::FLOAT16);
  *model.add_tensors() = mc::serialization::EncodePassthrough(
      "bn.num_batches_tracked", at::scalar_tensor(7, at::kLong), mc::serialization::INT64);
  return model;
}

CompressedModel UniformWidths() {
  CompressedModel model = Model("diffq");
  *model.add_tensors() =
      Uniform("conv.weight", at::linspace(-1, 1, 16).view({2, 2, 2, 2}),
              at::full({}, 4, at::kLong), {});
  mc::quant::UniformLayout layout;
  layout.bit_group_size = 6;
  layout.scale_group_size = 8;
  *model.add_tensors() = Uniform("fc.weight", at::linspace(-2, 3, 20).view({4, 5}),
                                 at::tensor({2, 3, 8, 16}, at::kLong), layout);
  CompressedTensor step;
  step.set_name("fc.bias");
  step.add_shape(4);
  *step.mutable_uniform() =
      mc::quant::EncodeUniformStep(at::tensor({0, 3, 5, 7}, at::kInt), 3, 4, 0.125f);
  *model.add_tensors() = step;
  return model;
}

CompressedModel LearnedPoints() {
  CompressedModel model = Model("differentiable_quantization");
  const at::Tensor x = at::linspace(-1, 1, 10).view({2, 5});
  const at::Tensor points = at::tensor({0.f, 0.5f, 1.f});
  const mc::quant::BucketScaling scaling = mc::quant::LinearBucketScaling(x, 4);
  CompressedTensor tensor;
  tensor.set_name("fc.weight");
  tensor.add_shape(2);
  tensor.add_shape(5);
  *tensor.mutable_learned_points() = mc::quant::EncodeLearnedPoints(
      mc::quant::NearestPoint(mc::quant::ScaleDown(x, scaling), points), points, scaling);
  *model.add_tensors() = tensor;
  return model;
}

CompressedModel Codebook() {
  CompressedModel model = Model("vq");
  const at::Tensor centroids = at::tensor({0.f, 1.f, -1.f, 0.5f, 2.f, -2.f}).view({3, 2});
  absl::StatusOr<CompressedTensor> linear = mc::vq::EncodeCodebook(
      "fc.weight", {2, 4}, centroids, at::tensor({0, 1, 2, 1}, at::kLong));
  absl::StatusOr<CompressedTensor> conv = mc::vq::EncodeCodebook(
      "conv.weight", {2, 1, 2, 2}, centroids, at::tensor({2, 0, 1, 1}, at::kLong));
  TORCH_CHECK(linear.ok() && conv.ok(), "the codebook seeds encode");
  *model.add_tensors() = *linear;
  *model.add_tensors() = *conv;
  return model;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = mc::fuzz::SeedDirectory(argc, argv);
  if (dir.empty()) return 2;
  const bool ok = WriteSeed(dir + "/passthrough.mcm", Passthrough()) &&
                  WriteSeed(dir + "/uniform.mcm", UniformWidths()) &&
                  WriteSeed(dir + "/learned_points.mcm", LearnedPoints()) &&
                  WriteSeed(dir + "/codebook.mcm", Codebook());
  return ok ? 0 : 1;
}
