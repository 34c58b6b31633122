#include "nn_models/model_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"
#include "nn_models/classifier.h"

namespace mc::nn_models {
namespace {

// Tests that set fields override the defaults and absent or zero ones keep them.
TEST(ModelConfigTest, ConfigOverridesDefaults) {
  serialization::ModelConfig config;
  config.set_name("resnet18");
  config.set_num_classes(7);
  config.set_cifar_stem(false);
  const ModelOptions options =
      ApplyModelConfig(config, ModelOptions().in_channels(1).num_classes(10).image_size(28));
  EXPECT_EQ(options.in_channels(), 1);
  EXPECT_EQ(options.num_classes(), 7);
  EXPECT_EQ(options.image_size(), 28);
  EXPECT_FALSE(options.cifar_stem());
  EXPECT_FALSE(options.dropout().has_value());
}

// Tests that the model is built from the name and options, and an unknown name is kNotFound.
TEST(ModelConfigTest, CreatesTheNamedModel) {
  serialization::ModelConfig config;
  config.set_name("lenet");
  config.set_in_channels(1);
  MC_ASSERT_OK_AND_ASSIGN(std::shared_ptr<Classifier> model,
                          CreateModelFromConfig(config, ModelOptions().image_size(28)));
  EXPECT_EQ(CountParameters(*model), 44426);
  config.set_name("no_such_model");
  EXPECT_THAT(CreateModelFromConfig(config).status(), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace mc::nn_models
