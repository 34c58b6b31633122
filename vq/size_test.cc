#include "vq/size.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "common/status_matchers.h"
#include "nn_models/classifier.h"
#include "nn_models/registry.h"

namespace mc::vq {
namespace {

using ::testing::HasSubstr;

constexpr double kMegabyte = 1 << 20;
// The reference note's recomputed figures have three decimals.
constexpr double kFigureTolerance = 0.0005;

// torchvision's ImageNet ResNet, which the published figures price: 7x7 stem, 1000 classes.
std::shared_ptr<nn_models::Classifier> ImageNetResNet(const char* name) {
  auto model = nn_models::CreateModel(
      name, nn_models::ModelOptions().num_classes(1000).cifar_stem(false));
  EXPECT_THAT(model, IsOk());
  return model.ok() ? *model : nullptr;
}

VqSizeOptions ResNet50Small() { return VqSizeOptions().centroids_linear(1024); }
VqSizeOptions ResNet50Large() {
  return VqSizeOptions().block_size_conv(18).block_size_pointwise(8).centroids_linear(1024);
}

// Tests the published ResNet-18 sizes: 1.54 MB with small blocks (29x), 1.03 MB with large
// blocks (43x), and the split of the small-blocks figure into index, centroids and the rest.
TEST(SizeTest, ResNet18PublishedSizes) {
  const auto model = ImageNetResNet("resnet18");
  ASSERT_NE(model, nullptr);
  MC_ASSERT_OK_AND_ASSIGN(VqSize small, ReferenceVqSize(*model, VqSizeOptions()));
  EXPECT_NEAR(small.index_bytes / kMegabyte, 1.373, kFigureTolerance);
  EXPECT_NEAR(small.centroid_bytes / kMegabyte, 0.092, kFigureTolerance);
  EXPECT_NEAR(small.other_bytes / kMegabyte, 0.076, kFigureTolerance);
  EXPECT_NEAR(small.total_megabytes(), 1.541, kFigureTolerance);
  EXPECT_NEAR(small.uncompressed_bytes / kMegabyte, 44.59, 0.005);
  EXPECT_NEAR(small.compression_ratio(), 28.9, 0.05);
  MC_ASSERT_OK_AND_ASSIGN(VqSize large,
                          ReferenceVqSize(*model, VqSizeOptions().block_size_conv(18)));
  EXPECT_NEAR(large.total_megabytes(), 1.029, kFigureTolerance);
  EXPECT_NEAR(large.compression_ratio(), 43.3, 0.05);
}

// Tests the published ResNet-50 sizes: 5.09 MB with small blocks, and 3.184 MB with large
// blocks, which the reference's README rounds up to 3.19 MB and its issue #39 gives as 3.18.
TEST(SizeTest, ResNet50PublishedSizes) {
  const auto model = ImageNetResNet("resnet50");
  ASSERT_NE(model, nullptr);
  MC_ASSERT_OK_AND_ASSIGN(VqSize small, ReferenceVqSize(*model, ResNet50Small()));
  EXPECT_NEAR(small.index_bytes / kMegabyte, 4.701, kFigureTolerance);
  EXPECT_NEAR(small.centroid_bytes / kMegabyte, 0.147, kFigureTolerance);
  EXPECT_NEAR(small.other_bytes / kMegabyte, 0.242, kFigureTolerance);
  EXPECT_NEAR(small.total_megabytes(), 5.091, kFigureTolerance);
  EXPECT_NEAR(small.uncompressed_bytes / kMegabyte, 97.49, 0.005);
  MC_ASSERT_OK_AND_ASSIGN(VqSize large, ReferenceVqSize(*model, ResNet50Large()));
  EXPECT_NEAR(large.total_megabytes(), 3.184, kFigureTolerance);
  EXPECT_NEAR(large.compression_ratio(), 30.6, 0.05);
}

// Tests which layers are quantized and with what: every convolution and fc but conv1, with
// the reference's clamped numbers of centroids.
TEST(SizeTest, PlansTheReferenceLayers) {
  const auto resnet18 = ImageNetResNet("resnet18");
  const auto resnet50 = ImageNetResNet("resnet50");
  ASSERT_NE(resnet18, nullptr);
  ASSERT_NE(resnet50, nullptr);
  MC_ASSERT_OK_AND_ASSIGN(auto layers18, PlanLayers(ParameterShapes(*resnet18), VqSizeOptions()));
  ASSERT_EQ(layers18.size(), 20u);
  EXPECT_EQ(layers18.back().name, "fc.weight");
  EXPECT_EQ(layers18.back().num_centroids, 2048);
  EXPECT_EQ(layers18.back().num_subvectors, 128000);
  EXPECT_EQ(layers18.front().block_size, 9);
  EXPECT_EQ(layers18.front().num_subvectors, 4096);  // layer1.0.conv1: 64 x 64 kernels
  MC_ASSERT_OK_AND_ASSIGN(auto small50, PlanLayers(ParameterShapes(*resnet50), ResNet50Small()));
  MC_ASSERT_OK_AND_ASSIGN(auto large50, PlanLayers(ParameterShapes(*resnet50), ResNet50Large()));
  ASSERT_EQ(small50.size(), 53u);
  // layer1.0.conv1 is 64x64x1x1: 128 centroids of 4, or 64 of 8 as in the released file.
  EXPECT_EQ(small50.front().shape, (std::vector<int64_t>{64, 64, 1, 1}));
  EXPECT_EQ(small50.front().num_centroids, 128);
  EXPECT_EQ(large50.front().num_centroids, 64);
  EXPECT_EQ(large50.front().block_size, 8);
}

// Tests the formula on a hand-worked list of parameters.
TEST(SizeTest, HandWorkedParameters) {
  const std::vector<ParameterShape> parameters = {
      {"conv1.weight", {8, 3, 3, 3}},    // first layer: float, 216
      {"bn1.weight", {8}},               {"bn1.bias", {8}},
      {"conv2.weight", {16, 8, 3, 3}},   // 128 subvectors of 9: k = 16 (< 128 / 4)
      {"bn2.weight", {16}},              {"bn2.bias", {16}},
      {"down.weight", {16, 8, 1, 1}},    // 32 subvectors of 4: k = 4
      {"fc.weight", {10, 16}},           // 40 subvectors of 4: k = 8
      {"fc.bias", {10}},
  };
  MC_ASSERT_OK_AND_ASSIGN(VqSize size, ReferenceVqSize(parameters, VqSizeOptions()));
  EXPECT_DOUBLE_EQ(size.index_bytes, 128 * 4 / 8.0 + 32 * 2 / 8.0 + 40 * 3 / 8.0);
  EXPECT_DOUBLE_EQ(size.centroid_bytes, (16 * 9 + 4 * 4 + 8 * 4) * 2);
  EXPECT_DOUBLE_EQ(size.other_bytes, (216 + 16 + 32 + 10) * 4);
  EXPECT_DOUBLE_EQ(size.uncompressed_bytes, (216 + 16 + 1152 + 32 + 128 + 160 + 10) * 4);
  EXPECT_DOUBLE_EQ(size.total_bytes(), 87 + 384 + 1096);
}

// Tests min_centroids on the layers above: down (k = 4) and fc (k = 8) stay float with 16;
// conv2 (k = 16) is quantized as before.
TEST(SizeTest, LayersWithTooFewCentroidsStayFloat) {
  const std::vector<ParameterShape> parameters = {
      {"conv1.weight", {8, 3, 3, 3}}, {"conv2.weight", {16, 8, 3, 3}},
      {"down.weight", {16, 8, 1, 1}}, {"fc.weight", {10, 16}}, {"fc.bias", {10}}};
  const VqSizeOptions options = VqSizeOptions().min_centroids(16);
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<LayerQuantization> layers,
                          PlanLayers(parameters, options));
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_EQ(layers[0].name, "conv2.weight");
  EXPECT_EQ(layers[0].num_centroids, 16);
  MC_ASSERT_OK_AND_ASSIGN(VqSize size, ReferenceVqSize(parameters, options));
  EXPECT_DOUBLE_EQ(size.other_bytes, (216 + 128 + 160 + 10) * 4);
}

// Tests a language model: the embedding comes first and is quantized all the same, with the
// embedding's block size and centroids; the LSTM's 2-D weights are linear layers; biases stay
// float. lstm_lm_small over 10,000 words: embedding (10000, 200), tied decoder.
TEST(SizeTest, LanguageModelQuantizesItsEmbeddingAndRecurrentWeights) {
  MC_ASSERT_OK_AND_ASSIGN(
      std::shared_ptr<nn_models::Classifier> model,
      nn_models::CreateModel("lstm_lm_small", nn_models::ModelOptions().num_classes(10000)));
  const std::vector<ParameterShape> shapes = ParameterShapes(*model);
  const VqSizeOptions options = VqSizeOptions().block_size_linear(8).centroids_linear(256);
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<LayerQuantization> layers,
                          PlanLayers(shapes, options));
  ASSERT_EQ(layers.size(), 5u);
  EXPECT_EQ(layers[0].name, "embedding.weight");
  EXPECT_EQ(layers[0].block_size, 8);
  EXPECT_EQ(layers[0].num_subvectors, 10000 * 200 / 8);
  EXPECT_EQ(layers[0].num_centroids, 256);
  EXPECT_EQ(layers[1].name, "lstm.weight_ih_l0");
  EXPECT_EQ(layers[4].name, "lstm.weight_hh_l1");
  EXPECT_EQ(layers[4].num_subvectors, 800 * 200 / 8);
  MC_ASSERT_OK_AND_ASSIGN(const VqSize size, ReferenceVqSize(shapes, options));
  const double subvectors = 10000 * 200 / 8 + 4 * 800 * 200 / 8;
  EXPECT_DOUBLE_EQ(size.index_bytes, subvectors);  // 8 bits each
  EXPECT_DOUBLE_EQ(size.centroid_bytes, 5 * 256 * 8 * 2);
  EXPECT_DOUBLE_EQ(size.other_bytes, 4.0 * (4 * 800 + 10000));  // LSTM and decoder biases
}

// Tests that convolution kernels whose values block_size_conv does not divide take the
// largest divisor below it: a 7x7 depthwise convolution blocks of 7, a 5x5 one over 6
// channels blocks of 6, a 3x3 one the 9 asked for.
TEST(SizeTest, ConvolutionBlocksFallBackToADivisorOfTheKernel) {
  const std::vector<ParameterShape> shapes = {{"stem.weight", {64, 1, 2, 2}},
                                              {"depthwise.weight", {64, 1, 7, 7}},
                                              {"conv5x5.weight", {16, 6, 5, 5}},
                                              {"conv3x3.weight", {16, 16, 3, 3}}};
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<LayerQuantization> layers,
                          PlanLayers(shapes, VqSizeOptions()));
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0].block_size, 7);
  EXPECT_EQ(layers[0].num_subvectors, 64 * 7);
  EXPECT_EQ(layers[1].block_size, 6);
  EXPECT_EQ(layers[2].block_size, 9);
}

// Tests that an embedding whose width the block size does not divide takes the largest
// divisor below it: a width of 128 with blocks of 5 gets blocks of 4; 200 keeps 5.
TEST(SizeTest, EmbeddingBlocksFallBackToADivisorOfTheWidth) {
  const std::vector<ParameterShape> shapes = {{"narrow.weight", {1000, 128}, /*embedding=*/true},
                                              {"wide.weight", {1000, 200}, /*embedding=*/true}};
  MC_ASSERT_OK_AND_ASSIGN(
      const std::vector<LayerQuantization> layers,
      PlanLayers(shapes, VqSizeOptions().block_size_embedding(5).centroids_embedding(16)));
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].block_size, 4);
  EXPECT_EQ(layers[0].num_subvectors, 1000 * 128 / 4);
  EXPECT_EQ(layers[1].block_size, 5);
}

// Tests that a layer the recipe cannot cut is reported by name.
TEST(SizeTest, RejectsLayersThatDoNotDivide) {
  const std::vector<ParameterShape> parameters = {{"conv1.weight", {8, 3, 3, 3}},
                                                  {"fc.weight", {10, 30}}};
  EXPECT_THAT(ReferenceVqSize(parameters, VqSizeOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("fc.weight: block_size 4 does not divide")));
  const std::vector<ParameterShape> tiny = {{"conv1.weight", {8, 3, 3, 3}},
                                            {"fc.weight", {2, 8}}};
  EXPECT_THAT(ReferenceVqSize(tiny, VqSizeOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fc.weight: a layer of 4")));
  EXPECT_THAT(ReferenceVqSize(tiny, VqSizeOptions().block_size_linear(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block_size_linear")));
}

}  // namespace
}  // namespace mc::vq
