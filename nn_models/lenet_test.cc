#include "nn_models/lenet.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "nn_models/classifier.h"
#include "nn_models/testutil.h"

namespace mc::nn_models {
namespace {

// Tests the exact parameter counts, LeNet-5's 61,706 for 1-channel 32x32 images among them.
TEST(LeNetTest, ParameterCounts) {
  EXPECT_EQ(CountParameters(*LeNet(ModelOptions().in_channels(1))), 61'706);
  EXPECT_EQ(CountParameters(*LeNet(ModelOptions().in_channels(1).image_size(28))), 44'426);
  EXPECT_EQ(CountParameters(*LeNet(ModelOptions())), 62'006);
}

// Tests the logits' shape for Fashion-MNIST and CIFAR batches.
TEST(LeNetTest, OutputShapes) {
  LeNet grayscale(ModelOptions().in_channels(1).image_size(28));
  EXPECT_EQ(LogitsShape(*grayscale, {2, 1, 28, 28}), (std::vector<int64_t>{2, 10}));
  LeNet color(ModelOptions().num_classes(100));
  EXPECT_EQ(LogitsShape(*color, {2, 3, 32, 32}), (std::vector<int64_t>{2, 100}));
}

// Tests that images of another size than configured, and too small sizes, are rejected.
TEST(LeNetTest, RejectsWrongImageSize) {
  LeNet model{ModelOptions()};
  EXPECT_THROW(model->forward(at::randn({2, 3, 28, 28})), c10::Error);
  EXPECT_THROW(LeNet(ModelOptions().image_size(15)), c10::Error);
  EXPECT_EQ(LogitsShape(*LeNet(ModelOptions().image_size(16)), {1, 3, 16, 16}),
            (std::vector<int64_t>{1, 10}));
}

// Tests that construction is deterministic given the seed, and that clones compute the same.
TEST(LeNetTest, DeterministicAndCloneable) {
  EXPECT_TRUE(
      BuildsDeterministicallyAndClones([] { return LeNet(ModelOptions()).ptr(); }, {2, 3, 32, 32}));
}

}  // namespace
}  // namespace mc::nn_models
