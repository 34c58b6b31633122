// The runtime against the decode-to-float path: every family of the zoo, every encoding, in
// exact mode within 1e-4 of the largest logit, and the int8 mode close to it; clear errors for
// files that do not fit the architecture.
#include "runtime/model_graph.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <memory>
#include <string>
#include <tuple>

#include "common/status_matchers.h"
#include "model_io/decoder.h"
#include "nn_models/classifier.h"
#include "nn_models/registry.h"
#include "runtime/testutil.h"

namespace mc::runtime {
namespace {

using ::mc::runtime::testing::EncodeModel;
using ::mc::runtime::testing::EncodingName;
using ::mc::runtime::testing::WeightEncoding;
using ::testing::HasSubstr;
using ::mc::IsOk;
using ::mc::StatusIs;

constexpr int64_t kSide = 32;

// A model of the zoo with BatchNorm statistics that differ from their initial values.
std::shared_ptr<nn_models::Classifier> TrainedModel(const std::string& name) {
  torch::manual_seed(5);
  auto model = nn_models::CreateModel(
      name, nn_models::ModelOptions().in_channels(3).num_classes(10).image_size(kSide));
  EXPECT_THAT(model.status(), IsOk());
  torch::NoGradGuard no_grad;
  (*model)->train();
  (*model)->forward(at::randn({8, 3, kSide, kSide}));
  (*model)->eval();
  return *model;
}

// The decode-to-float path: the file decoded into the model.
at::Tensor FloatPathLogits(nn_models::Classifier& model, const serialization::CompressedModel& stored,
                           const at::Tensor& images) {
  EXPECT_THAT(model_io::LoadCompressedModel(stored, model), IsOk());
  torch::NoGradGuard no_grad;
  return model.forward(images);
}

double RelativeError(const at::Tensor& logits, const at::Tensor& expected) {
  return (logits - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

using Case = std::tuple<std::string, WeightEncoding>;

class RuntimeMatchesFloatPath : public ::testing::TestWithParam<Case> {};

TEST_P(RuntimeMatchesFloatPath, InExactModeAndCloseInInt8Mode) {
  const auto& [name, encoding] = GetParam();
  std::shared_ptr<nn_models::Classifier> model = TrainedModel(name);
  const serialization::CompressedModel stored = EncodeModel(*model, encoding);
  MC_ASSERT_OK_AND_ASSIGN(const Graph graph, BuildGraph(*model, stored));
  const at::Tensor images = at::randn({3, 3, kSide, kSide});
  const at::Tensor expected = FloatPathLogits(*model, stored, images);

  const at::Tensor exact = graph.Run(images, Activations::kFloat);
  ASSERT_EQ(exact.sizes(), expected.sizes());
  EXPECT_LE(RelativeError(exact, expected), 1e-4);
  const at::Tensor fast = graph.Run(images, Activations::kInt8);
  EXPECT_LE(RelativeError(fast, expected), 0.1);
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  return std::get<0>(info.param) + "_" + EncodingName(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(
    EveryEncoding, RuntimeMatchesFloatPath,
    ::testing::Combine(::testing::Values("resnet20"),
                       ::testing::Values(WeightEncoding::kFloat, WeightEncoding::kDiffqWidths,
                                         WeightEncoding::kWideWidths, WeightEncoding::kBuckets,
                                         WeightEncoding::kStep, WeightEncoding::kSigns,
                                         WeightEncoding::kLearnedPoints, WeightEncoding::kCodebook)),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    EveryFamily, RuntimeMatchesFloatPath,
    ::testing::Combine(::testing::Values("lenet", "resnet18", "wrn16_2", "mobilenetv2",
                                         "qd_student1"),
                       ::testing::Values(WeightEncoding::kDiffqWidths, WeightEncoding::kCodebook)),
    CaseName);

TEST(BuildGraphTest, NamesAMissingTensor) {
  std::shared_ptr<nn_models::Classifier> model = TrainedModel("resnet20");
  serialization::CompressedModel stored = EncodeModel(*model, WeightEncoding::kFloat);
  stored.mutable_tensors()->DeleteSubrange(3, 1);
  const std::string name = EncodeModel(*model, WeightEncoding::kFloat).tensors(3).name();
  EXPECT_THAT(BuildGraph(*model, stored), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(name)));
}

TEST(BuildGraphTest, NamesATensorOfTheWrongShape) {
  std::shared_ptr<nn_models::Classifier> model = TrainedModel("resnet20");
  serialization::CompressedModel stored = EncodeModel(*model, WeightEncoding::kDiffqWidths);
  serialization::CompressedTensor* conv = stored.mutable_tensors(0);
  conv->set_shape(0, conv->shape(0) * 2);
  EXPECT_THAT(BuildGraph(*model, stored),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(conv->name())));
}

TEST(BuildGraphTest, NamesATensorWithoutEncoding) {
  std::shared_ptr<nn_models::Classifier> model = TrainedModel("resnet20");
  serialization::CompressedModel stored = EncodeModel(*model, WeightEncoding::kCodebook);
  serialization::CompressedTensor* conv = stored.mutable_tensors(0);
  conv->clear_codebook();
  EXPECT_THAT(BuildGraph(*model, stored), StatusIs(absl::StatusCode::kDataLoss, HasSubstr(conv->name())));
}

TEST(BuildGraphTest, NamesACorruptEncoding) {
  std::shared_ptr<nn_models::Classifier> model = TrainedModel("resnet20");
  serialization::CompressedModel stored = EncodeModel(*model, WeightEncoding::kDiffqWidths);
  serialization::CompressedTensor* conv = stored.mutable_tensors(0);
  conv->mutable_uniform()->mutable_levels()->resize(3);
  EXPECT_THAT(BuildGraph(*model, stored), StatusIs(absl::StatusCode::kDataLoss, HasSubstr(conv->name())));
}

TEST(BuildGraphTest, FoldsBatchNormsIntoConvolutions) {
  std::shared_ptr<nn_models::Classifier> model = TrainedModel("resnet20");
  MC_ASSERT_OK_AND_ASSIGN(const Graph graph, BuildGraph(*model, EncodeModel(*model, WeightEncoding::kFloat)));
  // ResNet-20: 19 convolutions + 2 projection shortcuts, 9 additions, pooling and fc; no
  // BatchNorm or ReLU of its own.
  EXPECT_EQ(graph.size(), 21u + 9u + 2u);
}

}  // namespace
}  // namespace mc::runtime
