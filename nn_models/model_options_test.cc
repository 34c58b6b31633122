#include "nn_models/model_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "common/status_matchers.h"

namespace mc::nn_models {
namespace {

using ::testing::HasSubstr;

// Tests the defaults (CIFAR-10) and that setters chain.
TEST(ModelOptionsTest, DefaultsAndChaining) {
  const ModelOptions defaults;
  EXPECT_EQ(defaults.in_channels(), 3);
  EXPECT_EQ(defaults.num_classes(), 10);
  EXPECT_EQ(defaults.image_size(), 32);
  EXPECT_TRUE(defaults.cifar_stem());
  EXPECT_FALSE(defaults.dropout().has_value());
  const ModelOptions options =
      ModelOptions().in_channels(1).num_classes(100).image_size(28).cifar_stem(false).dropout(0.3);
  std::ostringstream printed;
  printed << options;
  EXPECT_EQ(printed.str(),
            "in_channels=1, num_classes=100, image_size=28, cifar_stem=false, dropout=0.3");
  EXPECT_THAT(Validate(options), IsOk());
}

// Tests that each out-of-range field is kInvalidArgument naming the field and value.
TEST(ModelOptionsTest, ValidateNamesBadField) {
  const struct {
    ModelOptions options;
    const char* message;
  } kCases[] = {
      {ModelOptions().in_channels(0), "in_channels must be >= 1, got 0"},
      {ModelOptions().num_classes(-2), "num_classes must be >= 1, got -2"},
      {ModelOptions().image_size(0), "image_size must be >= 1, got 0"},
      {ModelOptions().dropout(1.0), "dropout must be in [0, 1), got 1"},
      {ModelOptions().dropout(-0.1), "dropout must be in [0, 1), got -0.1"},
  };
  for (const auto& test_case : kCases) {
    EXPECT_THAT(Validate(test_case.options),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(test_case.message)));
  }
  EXPECT_THAT(Validate(ModelOptions().dropout(0.0)), IsOk());
}

// Tests that CheckValid throws with Validate's message.
TEST(ModelOptionsTest, CheckValidThrows) {
  EXPECT_THAT([] { CheckValid(ModelOptions().num_classes(0)); },
              ::testing::ThrowsMessage<std::exception>(HasSubstr("num_classes must be >= 1")));
  EXPECT_NO_THROW(CheckValid(ModelOptions()));
}

}  // namespace
}  // namespace mc::nn_models
