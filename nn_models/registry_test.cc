#include "nn_models/registry.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status_matchers.h"
#include "nn_models/classifier.h"
#include "nn_models/testutil.h"

namespace mc::nn_models {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;

// Fashion-MNIST images with an unusual class count, so that every option is seen to reach the
// model.
ModelOptions GrayscaleOptions() {
  return ModelOptions().in_channels(1).num_classes(7).image_size(28);
}

// Tests the registry's central use: a CIFAR ResNet for 1-channel images.
TEST(RegistryTest, CreatesResNet20ForGrayscaleImages) {
  MC_ASSERT_OK_AND_ASSIGN(const std::shared_ptr<Classifier> model,
                          CreateModel("resnet20", ModelOptions().in_channels(1)));
  EXPECT_EQ(CountParameters(*model), 272'474 - 2 * 16 * 9);
  EXPECT_EQ(LogitsShape(*model, {2, 1, 28, 28}), (std::vector<int64_t>{2, 10}));
}

// Tests that every required name is registered and that the list is sorted.
TEST(RegistryTest, ListsRegisteredNames) {
  const std::vector<std::string> names = RegisteredModelNames();
  for (const char* name :
       {"resnet20", "resnet32", "resnet44", "resnet56", "resnet18", "resnet50", "wrn28_10",
        "mobilenetv2", "lenet", "qd_teacher", "qd_student1", "qd_student2", "qd_student3",
        "qd_student1_dropout", "qd_deep_student"}) {
    EXPECT_THAT(names, Contains(name));
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

// Tests that an unknown name is kNotFound and the message lists what is registered.
TEST(RegistryTest, UnknownNameIsNotFound) {
  for (const char* name :
       {"resnet21", "", "ResNet20", "wrn28", "wrn28_x", "wrn_28_10", "wrn28_10_1", "wrn+28_10"}) {
    EXPECT_THAT(
        CreateModel(name, ModelOptions()),
        StatusIs(absl::StatusCode::kNotFound,
                 AllOf(HasSubstr("\"" + std::string(name) + "\""), HasSubstr("lenet, lstm_lm_medium"),
                       HasSubstr("mobilenetv2"),
                       HasSubstr("resnet20"), HasSubstr("wrn<depth>_<k>"))))
        << name;
  }
}

// Tests that any wrn<depth>_<k> builds a wide ResNet and that bad depths are kInvalidArgument.
TEST(RegistryTest, CreatesAnyWideResNet) {
  MC_ASSERT_OK_AND_ASSIGN(const std::shared_ptr<Classifier> model, CreateModel("wrn40_4"));
  EXPECT_EQ(CountParameters(*model), 8'949'210);
  EXPECT_THAT(CreateModel("wrn27_10", ModelOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("wrn27_10"), HasSubstr("6n + 4"))));
}

// Tests that invalid options are kInvalidArgument naming the problem.
TEST(RegistryTest, RejectsInvalidOptions) {
  const struct {
    const char* model;
    ModelOptions options;
    const char* message;
  } kCases[] = {
      {"resnet20", ModelOptions().num_classes(0), "num_classes"},
      {"wrn28_10", ModelOptions().dropout(1.0), "dropout"},
      {"resnet20", ModelOptions().dropout(0.1), "has no dropout option"},
      {"qd_student1", ModelOptions().dropout(0.1), "has no dropout option"},
      {"lenet", ModelOptions().image_size(8), "image_size"},
      {"qd_teacher", ModelOptions().image_size(4), "image_size 4 is too small"},
  };
  for (const auto& test_case : kCases) {
    EXPECT_THAT(CreateModel(test_case.model, test_case.options),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(test_case.message)))
        << test_case.model;
  }
}

// Tests that the dropout option reaches the models that have one.
TEST(RegistryTest, PassesDropoutToModel) {
  torch::NoGradGuard no_grad;
  const at::Tensor images = at::randn({2, 3, 32, 32});
  MC_ASSERT_OK_AND_ASSIGN(const std::shared_ptr<Classifier> dropped,
                          CreateModel("wrn10_1", ModelOptions().dropout(0.5)));
  EXPECT_FALSE(at::equal(dropped->forward(images), dropped->forward(images)));
  MC_ASSERT_OK_AND_ASSIGN(const std::shared_ptr<Classifier> kept,
                          CreateModel("mobilenetv2", ModelOptions().dropout(0.0)));
  EXPECT_TRUE(at::equal(kept->forward(images), kept->forward(images)));
}

class RegisteredModelTest : public ::testing::TestWithParam<std::string> {};

// The registered image classifiers (the language models have their own tests).
std::vector<std::string> ImageClassifierNames() {
  std::vector<std::string> names;
  for (const std::string& name : RegisteredModelNames()) {
    if (name.find("_lm_") == std::string::npos) names.push_back(name);
  }
  return names;
}

// Tests that each registered image classifier builds deterministically for 1x28x28 images and
// 7 classes.
TEST_P(RegisteredModelTest, CreatesDeterministicGrayscaleModel) {
  torch::manual_seed(0);
  MC_ASSERT_OK_AND_ASSIGN(const std::shared_ptr<Classifier> model,
                          CreateModel(GetParam(), GrayscaleOptions()));
  EXPECT_EQ(LogitsShape(*model, {1, 1, 28, 28}), (std::vector<int64_t>{1, 7}));
  torch::manual_seed(0);
  MC_ASSERT_OK_AND_ASSIGN(const std::shared_ptr<Classifier> again,
                          CreateModel(GetParam(), GrayscaleOptions()));
  EXPECT_TRUE(HaveSameState(*model, *again));
}

INSTANTIATE_TEST_SUITE_P(AllModels, RegisteredModelTest,
                         ::testing::ValuesIn(ImageClassifierNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace mc::nn_models
