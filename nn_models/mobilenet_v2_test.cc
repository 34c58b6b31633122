#include "nn_models/mobilenet_v2.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "nn_models/classifier.h"
#include "nn_models/testutil.h"

namespace mc::nn_models {
namespace {

// Tests that the ImageNet configuration has exactly torchvision's published parameter count.
TEST(MobileNetV2Test, MatchesTorchvisionParameterCount) {
  MobileNetV2 imagenet(ModelOptions().num_classes(1000).cifar_stem(false));
  EXPECT_EQ(CountParameters(*imagenet), 3'504'872);
  MobileNetV2 cifar{ModelOptions()};
  EXPECT_EQ(CountParameters(*cifar), 3'504'872 - 990 * 1281);
}

// Tests that parameter and buffer names, their number and some shapes are torchvision's.
TEST(MobileNetV2Test, HasTorchvisionNames) {
  MobileNetV2 model(ModelOptions().num_classes(1000));
  EXPECT_EQ(model->named_parameters().size(), 158u);
  EXPECT_EQ(model->named_buffers().size(), 156u);
  const auto parameters = model->named_parameters();
  const auto buffers = model->named_buffers();
  EXPECT_EQ(parameters["features.0.0.weight"].sizes(), (std::vector<int64_t>{32, 3, 3, 3}));
  EXPECT_EQ(parameters["features.1.conv.0.0.weight"].sizes(), (std::vector<int64_t>{32, 1, 3, 3}));
  EXPECT_EQ(parameters["features.1.conv.1.weight"].sizes(), (std::vector<int64_t>{16, 32, 1, 1}));
  EXPECT_EQ(buffers["features.1.conv.2.running_var"].sizes(), (std::vector<int64_t>{16}));
  EXPECT_EQ(parameters["features.2.conv.0.0.weight"].sizes(), (std::vector<int64_t>{96, 16, 1, 1}));
  EXPECT_EQ(parameters["features.2.conv.1.0.weight"].sizes(), (std::vector<int64_t>{96, 1, 3, 3}));
  EXPECT_EQ(parameters["features.2.conv.2.weight"].sizes(), (std::vector<int64_t>{24, 96, 1, 1}));
  EXPECT_EQ(parameters["features.2.conv.3.bias"].sizes(), (std::vector<int64_t>{24}));
  EXPECT_EQ(parameters["features.17.conv.2.weight"].sizes(),
            (std::vector<int64_t>{320, 960, 1, 1}));
  EXPECT_EQ(parameters["features.18.0.weight"].sizes(), (std::vector<int64_t>{1280, 320, 1, 1}));
  EXPECT_EQ(buffers["features.18.1.num_batches_tracked"].numel(), 1);
  EXPECT_EQ(parameters["classifier.1.weight"].sizes(), (std::vector<int64_t>{1000, 1280}));
}

// Tests the logits' shape for Fashion-MNIST and CIFAR batches, with both stems.
TEST(MobileNetV2Test, OutputShapes) {
  MobileNetV2 grayscale(ModelOptions().in_channels(1));
  EXPECT_EQ(LogitsShape(*grayscale, {2, 1, 28, 28}), (std::vector<int64_t>{2, 10}));
  MobileNetV2 color(ModelOptions().num_classes(100));
  EXPECT_EQ(LogitsShape(*color, {2, 3, 32, 32}), (std::vector<int64_t>{2, 100}));
  MobileNetV2 imagenet_stem(ModelOptions().cifar_stem(false));
  EXPECT_EQ(LogitsShape(*imagenet_stem, {2, 3, 32, 32}), (std::vector<int64_t>{2, 10}));
}

// Tests that construction is deterministic given the seed, and that clones compute the same.
TEST(MobileNetV2Test, DeterministicAndCloneable) {
  EXPECT_TRUE(BuildsDeterministicallyAndClones([] { return MobileNetV2(ModelOptions()).ptr(); },
                                               {2, 3, 32, 32}));
}

}  // namespace
}  // namespace mc::nn_models
