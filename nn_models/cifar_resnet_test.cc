#include "nn_models/cifar_resnet.h"

#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "nn_models/classifier.h"
#include "nn_models/testutil.h"

namespace mc::nn_models {
namespace {

struct PublishedCount {
  int64_t depth;
  int64_t exact_parameters;     // this implementation, option B shortcuts, 3 channels, 10 classes
  double published_parameters;  // He et al. 2016, Table 6 (option A shortcuts)
};

class CifarResNetCountTest : public ::testing::TestWithParam<PublishedCount> {};

// Tests that each depth has its exact parameter count, within 2% of the paper's option-A figure.
TEST_P(CifarResNetCountTest, MatchesPublishedParameterCount) {
  const PublishedCount& expected = GetParam();
  CifarResNet model(expected.depth, ModelOptions());
  EXPECT_EQ(CountParameters(*model), expected.exact_parameters);
  EXPECT_NEAR(CountParameters(*model), expected.published_parameters,
              0.02 * expected.published_parameters);
}

INSTANTIATE_TEST_SUITE_P(Depths, CifarResNetCountTest,
                         ::testing::Values(PublishedCount{20, 272'474, 0.27e6},
                                           PublishedCount{32, 466'906, 0.46e6},
                                           PublishedCount{44, 661'338, 0.66e6},
                                           PublishedCount{56, 855'770, 0.85e6},
                                           PublishedCount{110, 1'730'714, 1.7e6}));

// Tests that the two projection shortcuts are exactly what option B adds over option A.
TEST(CifarResNetTest, ProjectionsAreTheOnlyExtraParameters) {
  CifarResNet model(20, ModelOptions());
  const auto parameters = model->named_parameters();
  const int64_t projections = parameters["layer2.0.downsample.0.weight"].numel() +
                              parameters["layer2.0.downsample.1.weight"].numel() * 2 +
                              parameters["layer3.0.downsample.0.weight"].numel() +
                              parameters["layer3.0.downsample.1.weight"].numel() * 2;
  EXPECT_EQ(projections, 2'752);
  EXPECT_EQ(CountParameters(*model) - projections, 269'722);  // the option-A count
  EXPECT_EQ(parameters.find("layer1.0.downsample.0.weight"), nullptr);
  EXPECT_EQ(parameters.find("layer2.1.downsample.0.weight"), nullptr);
}

// Tests the logits' shape for Fashion-MNIST and CIFAR batches.
TEST(CifarResNetTest, OutputShapes) {
  CifarResNet grayscale(20, ModelOptions().in_channels(1).num_classes(10));
  EXPECT_EQ(LogitsShape(*grayscale, {2, 1, 28, 28}), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(CountParameters(*grayscale), 272'474 - 2 * 16 * 9);
  CifarResNet color(56, ModelOptions().num_classes(100));
  EXPECT_EQ(LogitsShape(*color, {2, 3, 32, 32}), (std::vector<int64_t>{2, 100}));
}

// Tests that construction is deterministic given the seed, and that clones compute the same.
TEST(CifarResNetTest, DeterministicAndCloneable) {
  EXPECT_TRUE(BuildsDeterministicallyAndClones([] { return CifarResNet(20, ModelOptions()).ptr(); },
                                               {2, 3, 32, 32}));
  torch::manual_seed(0);
  CifarResNet first(20, ModelOptions());
  torch::manual_seed(1);
  CifarResNet other(20, ModelOptions());
  EXPECT_FALSE(HaveSameState(*first, *other));
}

// Tests that depths other than 6n + 2 are rejected.
TEST(CifarResNetTest, RejectsInvalidDepth) {
  EXPECT_THROW(CifarResNet(21, ModelOptions()), c10::Error);
  EXPECT_THROW(CifarResNet(2, ModelOptions()), c10::Error);
}

}  // namespace
}  // namespace mc::nn_models
