#include "model_io/compressed_classifier.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <cstdlib>
#include <string>

#include "common/status_matchers.h"
#include "nn_models/classifier.h"
#include "nn_models/registry.h"
#include "serialization/model_file.h"
#include "serialization/tensor_codec.h"

namespace mc::model_io {
namespace {

using ::testing::HasSubstr;

// Tests that a file with the recorded architecture and data set loads into a model in eval
// mode that gives the logits of the model written.
TEST(CompressedClassifierTest, LoadsTheRecordedArchitecture) {
  at::manual_seed(4);
  auto written = nn_models::CreateModel("lenet", nn_models::ModelOptions().in_channels(1).image_size(28)).value();
  written->eval();
  serialization::CompressedModel model;
  model.set_dataset("fashion_mnist");
  model.mutable_model()->set_name("lenet");
  for (const auto& item : written->named_parameters()) {
    *model.add_tensors() = serialization::EncodePassthrough(item.key(), item.value(), serialization::FLOAT32);
  }
  for (const auto& item : written->named_buffers()) {
    *model.add_tensors() = serialization::EncodePassthrough(item.key(), item.value(), serialization::FLOAT32);
  }
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/lenet.mcm";
  ASSERT_THAT(serialization::WriteModelFile(path, model), IsOk());

  MC_ASSERT_OK_AND_ASSIGN(const CompressedClassifier loaded, CompressedClassifier::Load(path));
  EXPECT_EQ(loaded.config().name(), "lenet");
  EXPECT_FALSE(loaded.model()->is_training());
  torch::NoGradGuard no_grad;
  const at::Tensor images = at::randn({4, 1, 28, 28});
  EXPECT_TRUE(loaded.Forward(images).equal(written->forward(images)));
}

// Tests that a missing model file is an error naming it.
TEST(CompressedClassifierTest, MissingFileIsAnErrorNamingIt) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/absent.mcm";
  EXPECT_THAT(CompressedClassifier::Load(path).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent.mcm")));
}

}  // namespace
}  // namespace mc::model_io
