#include "nn_models/conv_forward_net.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn_models/classifier.h"
#include "nn_models/testutil.h"

namespace mc::nn_models {
namespace {

using ::testing::HasSubstr;

struct PublishedCount {
  std::string net;
  ConvForwardNetSpec spec;
  int64_t exact_parameters;     // counted from the authors' specs
  double published_parameters;  // the paper's size, rounded to 0.1M
};

class ConvForwardNetCountTest : public ::testing::TestWithParam<PublishedCount> {};

// Tests each net's exact parameter count on CIFAR-10 and that it rounds to the paper's size.
TEST_P(ConvForwardNetCountTest, MatchesPublishedParameterCount) {
  const PublishedCount& expected = GetParam();
  ConvForwardNet model(expected.spec, ModelOptions());
  EXPECT_EQ(CountParameters(*model), expected.exact_parameters);
  EXPECT_NEAR(CountParameters(*model), expected.published_parameters, 0.05e6);
}

INSTANTIATE_TEST_SUITE_P(
    Nets, ConvForwardNetCountTest,
    ::testing::Values(PublishedCount{"Teacher", QdTeacherSpec(), 5'346'142, 5.3e6},
                      PublishedCount{"Student1", QdStudentSpec(1, false), 1'000'235, 1.0e6},
                      PublishedCount{"Student2", QdStudentSpec(2, false), 318'415, 0.3e6},
                      PublishedCount{"Student3", QdStudentSpec(3, false), 111'935, 0.1e6},
                      PublishedCount{"Student1WithDropout", QdStudentSpec(1, true), 1'000'235,
                                     1.0e6},
                      PublishedCount{"DeepStudent", QdDeepStudentSpec(), 5'825'396, 5.8e6}),
    [](const ::testing::TestParamInfo<PublishedCount>& info) { return info.param.net; });

// Tests the logits' shape for Fashion-MNIST and CIFAR batches, and that logits are ReLU'd.
TEST(ConvForwardNetTest, OutputShapesAndNonNegativeLogits) {
  torch::NoGradGuard no_grad;
  ConvForwardNet grayscale(QdTeacherSpec(), ModelOptions().in_channels(1).image_size(28));
  EXPECT_EQ(LogitsShape(*grayscale, {2, 1, 28, 28}), (std::vector<int64_t>{2, 10}));
  // 28 -> 14 -> 7 -> 3 after three max-pools: the first hidden layer sees 148 * 3 * 3 inputs.
  EXPECT_EQ(grayscale->named_parameters()["linears.0.weight"].sizes(),
            (std::vector<int64_t>{1200, 1332}));
  ConvForwardNet color(QdStudentSpec(1, false), ModelOptions().num_classes(100));
  EXPECT_EQ(LogitsShape(*color, {2, 3, 32, 32}), (std::vector<int64_t>{2, 100}));
  EXPECT_TRUE(color->forward(at::randn({4, 3, 32, 32})).ge(0).all().item<bool>());
}

// Tests that images of another size than configured are rejected with a clear message.
TEST(ConvForwardNetTest, RejectsOtherImageSize) {
  ConvForwardNet model(QdStudentSpec(3, false), ModelOptions());
  const auto forward_mnist_batch = [&] { model->forward(at::randn({2, 3, 28, 28})); };
  EXPECT_THAT(forward_mnist_batch,
              ::testing::ThrowsMessage<c10::Error>(HasSubstr("expects (B, C, 32, 32)")));
}

// Tests that malformed specs and images too small for the max-pools are rejected.
TEST(ConvForwardNetTest, RejectsInvalidSpec) {
  ConvForwardNetSpec even_kernel = QdStudentSpec(1, false);
  even_kernel.kernel_size = 4;
  EXPECT_THROW(ConvForwardNet(even_kernel, ModelOptions()), c10::Error);
  ConvForwardNetSpec pool_out_of_range = QdStudentSpec(1, false);
  pool_out_of_range.max_pool_after = {4};
  EXPECT_THROW(ConvForwardNet(pool_out_of_range, ModelOptions()), c10::Error);
  ConvForwardNetSpec dropout_out_of_range = QdStudentSpec(1, false);
  dropout_out_of_range.dropout_after = {{5, 0.1}};
  EXPECT_THROW(ConvForwardNet(dropout_out_of_range, ModelOptions()), c10::Error);
  EXPECT_THAT([] { ConvForwardNet(QdTeacherSpec(), ModelOptions().image_size(7)); },
              ::testing::ThrowsMessage<c10::Error>(HasSubstr("image_size 7 is too small")));
  EXPECT_THROW(QdStudentSpec(4, false), c10::Error);
}

// Tests that dropout acts in training mode only, and only where the spec places it.
TEST(ConvForwardNetTest, DropoutOnlyInTraining) {
  torch::NoGradGuard no_grad;
  const at::Tensor images = at::randn({8, 3, 32, 32});
  ConvForwardNet baseline(QdStudentSpec(3, true), ModelOptions());
  baseline->train();
  EXPECT_FALSE(at::equal(baseline->forward(images), baseline->forward(images)));
  baseline->eval();
  EXPECT_TRUE(at::equal(baseline->forward(images), baseline->forward(images)));
  ConvForwardNet distilled(QdStudentSpec(3, false), ModelOptions());
  EXPECT_TRUE(at::equal(distilled->forward(images), distilled->forward(images)));
}

// Tests that construction is deterministic given the seed, and that clones compute the same.
TEST(ConvForwardNetTest, DeterministicAndCloneable) {
  EXPECT_TRUE(BuildsDeterministicallyAndClones(
      [] { return ConvForwardNet(QdStudentSpec(2, false), ModelOptions()).ptr(); },
      {2, 3, 32, 32}));
}

}  // namespace
}  // namespace mc::nn_models
