// Builds a model of the zoo through @model_compression//nn_models:registry.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "common/status_matchers.h"
#include "nn_models/classifier.h"
#include "nn_models/registry.h"

namespace {

using ::mc::StatusIs;

// Tests that a registered model is built for 1-channel 28x28 images and classifies them.
TEST(NnModelsConsumerTest, CreatesResNet20ForFashionMnist) {
  MC_ASSERT_OK_AND_ASSIGN(
      const std::shared_ptr<mc::nn_models::Classifier> model,
      mc::nn_models::CreateModel(
          "resnet20", mc::nn_models::ModelOptions().in_channels(1).num_classes(10).image_size(28)));
  model->eval();
  const at::Tensor logits = model->forward(at::randn({2, 1, 28, 28}));
  EXPECT_EQ(logits.sizes(), (at::IntArrayRef{2, 10}));
  // 272,474 for 3 input channels; one channel has 2 x 9 x 16 = 288 fewer first-conv weights.
  EXPECT_EQ(mc::nn_models::CountParameters(*model), 272474 - 288);
  EXPECT_THAT(mc::nn_models::CreateModel("resnet9000"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
