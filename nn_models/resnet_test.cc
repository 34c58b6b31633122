#include "nn_models/resnet.h"

#include <c10/util/Exception.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn_models/classifier.h"
#include "nn_models/testutil.h"

namespace mc::nn_models {
namespace {

using ::testing::Contains;

// torchvision's ImageNet configuration: 3 channels, 1000 classes, 7x7 stem and max-pool.
ModelOptions TorchvisionOptions() { return ModelOptions().num_classes(1000).cifar_stem(false); }

struct PublishedCount {
  int64_t depth;
  int64_t parameters;  // torchvision's model documentation (num_params)
};

class ResNetCountTest : public ::testing::TestWithParam<PublishedCount> {};

// Tests that each depth has exactly torchvision's published parameter count.
TEST_P(ResNetCountTest, MatchesTorchvisionParameterCount) {
  ResNet model(GetParam().depth, TorchvisionOptions());
  EXPECT_EQ(CountParameters(*model), GetParam().parameters);
}

INSTANTIATE_TEST_SUITE_P(Depths, ResNetCountTest,
                         ::testing::Values(PublishedCount{18, 11'689'512},
                                           PublishedCount{34, 21'797'672},
                                           PublishedCount{50, 25'557'032},
                                           PublishedCount{101, 44'549'160},
                                           PublishedCount{152, 60'192'808}));

// Tests that parameter and buffer names, their number and some shapes are torchvision's.
TEST(ResNetTest, ResNet18HasTorchvisionNames) {
  ResNet model(18, TorchvisionOptions());
  std::vector<std::string> names = model->named_parameters().keys();
  const std::vector<std::string> buffers = model->named_buffers().keys();
  EXPECT_EQ(names.size(), 62u);
  EXPECT_EQ(buffers.size(), 60u);  // running_mean, running_var, num_batches_tracked of 20 norms
  names.insert(names.end(), buffers.begin(), buffers.end());
  for (const char* name :
       {"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
        "bn1.num_batches_tracked", "layer1.0.conv1.weight", "layer1.0.bn1.running_mean",
        "layer1.1.conv2.weight", "layer1.1.bn2.bias", "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.weight", "layer2.0.downsample.1.running_var",
        "layer3.1.bn2.num_batches_tracked", "layer4.0.downsample.1.bias", "layer4.1.conv2.weight",
        "fc.weight", "fc.bias"}) {
    EXPECT_THAT(names, Contains(name));
  }
  const auto parameters = model->named_parameters();
  EXPECT_EQ(parameters["conv1.weight"].sizes(), (std::vector<int64_t>{64, 3, 7, 7}));
  EXPECT_EQ(parameters["layer2.0.downsample.0.weight"].sizes(),
            (std::vector<int64_t>{128, 64, 1, 1}));
  EXPECT_EQ(parameters["fc.weight"].sizes(), (std::vector<int64_t>{1000, 512}));
  EXPECT_EQ(parameters.find("layer1.0.downsample.0.weight"), nullptr);
}

// Tests that ResNet-50's bottlenecks carry torchvision's names and the stride-on-3x3 layout.
TEST(ResNetTest, ResNet50HasTorchvisionNames) {
  ResNet model(50, TorchvisionOptions());
  EXPECT_EQ(model->named_parameters().size(), 161u);
  EXPECT_EQ(model->named_buffers().size(), 159u);
  const auto parameters = model->named_parameters();
  EXPECT_EQ(parameters["layer1.0.downsample.0.weight"].sizes(),
            (std::vector<int64_t>{256, 64, 1, 1}));
  EXPECT_EQ(parameters["layer3.5.conv3.weight"].sizes(), (std::vector<int64_t>{1024, 256, 1, 1}));
  EXPECT_EQ(parameters["fc.weight"].sizes(), (std::vector<int64_t>{1000, 2048}));
}

// Tests that the CIFAR stem keeps the names and changes only conv1's kernel.
TEST(ResNetTest, CifarStemReplacesOnlyConv1) {
  ResNet model(18, ModelOptions());
  EXPECT_EQ(model->named_parameters()["conv1.weight"].sizes(), (std::vector<int64_t>{64, 3, 3, 3}));
  EXPECT_EQ(CountParameters(*model), 11'689'512 - 64 * 3 * (49 - 9) - 990 * 513);
}

// Tests the logits' shape for Fashion-MNIST and CIFAR batches, with both stems.
TEST(ResNetTest, OutputShapes) {
  ResNet resnet18(18, ModelOptions().in_channels(1));
  EXPECT_EQ(LogitsShape(*resnet18, {2, 1, 28, 28}), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(LogitsShape(*resnet18, {2, 1, 32, 32}), (std::vector<int64_t>{2, 10}));
  ResNet imagenet_stem(18, ModelOptions().num_classes(7).cifar_stem(false));
  EXPECT_EQ(LogitsShape(*imagenet_stem, {2, 3, 32, 32}), (std::vector<int64_t>{2, 7}));
  ResNet resnet50(50, ModelOptions().in_channels(1).num_classes(100));
  EXPECT_EQ(LogitsShape(*resnet50, {2, 1, 28, 28}), (std::vector<int64_t>{2, 100}));
  EXPECT_EQ(LogitsShape(*resnet50, {2, 1, 32, 32}), (std::vector<int64_t>{2, 100}));
}

// Tests that construction is deterministic given the seed, and that clones compute the same.
TEST(ResNetTest, DeterministicAndCloneable) {
  EXPECT_TRUE(BuildsDeterministicallyAndClones([] { return ResNet(18, ModelOptions()).ptr(); },
                                               {2, 3, 32, 32}));
}

// Tests that unsupported depths are rejected.
TEST(ResNetTest, RejectsUnknownDepth) { EXPECT_THROW(ResNet(20, ModelOptions()), c10::Error); }

}  // namespace
}  // namespace mc::nn_models
