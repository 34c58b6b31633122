#include "nn_models/wide_resnet.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <torch/types.h>
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
  int64_t widen_factor;
  int64_t num_classes;
  int64_t exact_parameters;
  double published_parameters;  // rounded to 0.1M by the papers
};

class WideResNetCountTest : public ::testing::TestWithParam<PublishedCount> {};

// Tests each net's exact parameter count and that it rounds to the published figure.
TEST_P(WideResNetCountTest, MatchesPublishedParameterCount) {
  const PublishedCount& expected = GetParam();
  WideResNet model(expected.depth, expected.widen_factor,
                   ModelOptions().num_classes(expected.num_classes));
  EXPECT_EQ(CountParameters(*model), expected.exact_parameters);
  EXPECT_NEAR(CountParameters(*model), expected.published_parameters, 0.05e6);
}

INSTANTIATE_TEST_SUITE_P(Nets, WideResNetCountTest,
                         ::testing::Values(
                             // Zagoruyko & Komodakis 2016, CIFAR-10.
                             PublishedCount{28, 10, 10, 36'479'194, 36.5e6},
                             PublishedCount{40, 4, 10, 8'949'210, 8.9e6},
                             PublishedCount{16, 8, 10, 10'961'370, 11.0e6},
                             // Polino et al. 2018, CIFAR-100 teacher and student.
                             PublishedCount{28, 10, 100, 36'536'884, 36.5e6},
                             PublishedCount{16, 10, 100, 17'174'324, 17.2e6}));

// Tests the logits' shape of WRN-28-10 for Fashion-MNIST and CIFAR batches.
TEST(WideResNetTest, OutputShapes) {
  WideResNet grayscale(28, 10, ModelOptions().in_channels(1));
  EXPECT_EQ(LogitsShape(*grayscale, {2, 1, 28, 28}), (std::vector<int64_t>{2, 10}));
  WideResNet color(28, 10, ModelOptions().num_classes(100));
  EXPECT_EQ(LogitsShape(*color, {2, 3, 32, 32}), (std::vector<int64_t>{2, 100}));
}

// Tests that blocks project the shortcut exactly where the shape changes.
TEST(WideResNetTest, ProjectsShortcutsWhereShapeChanges) {
  const auto widened = WideResNet(16, 4, ModelOptions())->named_parameters();
  EXPECT_NE(widened.find("layer1.0.shortcut.weight"), nullptr);  // 16 -> 64 channels
  EXPECT_EQ(widened.find("layer1.1.shortcut.weight"), nullptr);
  EXPECT_NE(widened.find("layer2.0.shortcut.weight"), nullptr);
  const auto narrow = WideResNet(16, 1, ModelOptions())->named_parameters();
  EXPECT_EQ(narrow.find("layer1.0.shortcut.weight"), nullptr);  // 16 -> 16 channels
}

// Tests that dropout acts in training mode only.
TEST(WideResNetTest, DropoutOnlyInTraining) {
  torch::NoGradGuard no_grad;
  const at::Tensor images = at::randn({2, 3, 16, 16});
  WideResNet with_dropout(10, 1, ModelOptions().dropout(0.5));
  with_dropout->eval();
  EXPECT_TRUE(at::equal(with_dropout->forward(images), with_dropout->forward(images)));
  with_dropout->train();
  EXPECT_FALSE(at::equal(with_dropout->forward(images), with_dropout->forward(images)));
  WideResNet without_dropout(10, 1, ModelOptions());
  EXPECT_TRUE(at::equal(without_dropout->forward(images), without_dropout->forward(images)));
}

// Tests that construction is deterministic given the seed, and that clones compute the same.
TEST(WideResNetTest, DeterministicAndCloneable) {
  EXPECT_TRUE(BuildsDeterministicallyAndClones(
      [] { return WideResNet(16, 4, ModelOptions()).ptr(); }, {2, 3, 32, 32}));
}

// Tests that invalid depths and widths are rejected.
TEST(WideResNetTest, RejectsInvalidArchitecture) {
  EXPECT_THROW(WideResNet(27, 10, ModelOptions()), c10::Error);
  EXPECT_THROW(WideResNet(28, 0, ModelOptions()), c10::Error);
}

}  // namespace
}  // namespace mc::nn_models
