// Differentiable quantization: the reference's redistribution of points, and learning the
// points of a small trained network on a toy problem.
#include "distill/differentiable_quantization.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include "common/status_matchers.h"
#include "nn_models/registry.h"
#include "quant/learned_points.h"
#include "serialization/tensor_codec.h"

namespace mc::distill {
namespace {

using ::testing::ElementsAre;

// Tests the redistribution worked by hand: 3 tensors of 4 points (total 12) keep 2 each; the
// other 6 go 3 : 1.5 : 1.5 by norm (1.5 rounds to even: 2), and the extra point is taken from
// the first largest count.
TEST(RedistributePointsTest, HandWorked) {
  EXPECT_THAT(RedistributePoints({2, 1, 1}, {4, 4, 4}), ElementsAre(4, 4, 4));
  // 6 * (0.7, 0.2, 0.1) = 4.2 -> 4, 1.2 -> 1, 0.6 -> 1: 6 + 3 + 3 = 12.
  EXPECT_THAT(RedistributePoints({0.7, 0.2, 0.1}, {4, 4, 4}), ElementsAre(6, 3, 3));
  // 6 * (0.9, 0.05, 0.05) = 5.4 -> 5, 0.3 -> 0, 0.3 -> 0: 7 + 2 + 2 = 11: one to the first smallest.
  EXPECT_THAT(RedistributePoints({0.9, 0.05, 0.05}, {4, 4, 4}), ElementsAre(7, 3, 2));
  // All-zero norms keep the initial counts.
  EXPECT_THAT(RedistributePoints({0, 0}, {4, 8}), ElementsAre(4, 8));
}

class DifferentiableQuantizationTest : public ::testing::Test {
 protected:
  // A LeNet trained briefly on a fixed random problem, and its batch.
  void SetUp() override {
    at::manual_seed(11);
    model_ = nn_models::CreateModel("lenet", nn_models::ModelOptions().in_channels(1).num_classes(4).image_size(28))
                 .value();
    images_ = at::randn({64, 1, 28, 28});
    labels_ = at::randint(4, {64}, at::kLong);
    torch::optim::SGD optimizer(model_->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    for (int step = 0; step < 30; ++step) {
      optimizer.zero_grad();
      at::cross_entropy_loss(model_->forward(images_), labels_).backward();
      optimizer.step();
    }
    model_->zero_grad();
  }

  std::shared_ptr<nn_models::Classifier> model_;
  at::Tensor images_;
  at::Tensor labels_;
};

// Tests initial points: quantiles of each tensor's scaled values (first 0, last 1), or
// uniform; and that the float model is not changed.
TEST_F(DifferentiableQuantizationTest, InitialPoints) {
  const at::Tensor before = model_->named_parameters()["fc1.weight"].detach().clone();
  DifferentiableQuantization quantiles(
      *model_, nullptr, DifferentiableQuantizationOptions().bits(2).redistribute_points(false));
  ASSERT_EQ(quantiles.points().size(), model_->parameters().size());
  for (const at::Tensor& points : quantiles.points()) {
    ASSERT_EQ(points.numel(), 4);
    EXPECT_FLOAT_EQ(points[0].item<float>(), 0);
    EXPECT_FLOAT_EQ(points[3].item<float>(), 1);
  }
  DifferentiableQuantization uniform(
      *model_, nullptr,
      DifferentiableQuantizationOptions().bits(2).redistribute_points(false).init(PointsInit::kUniform));
  EXPECT_TRUE(uniform.points()[0].allclose(at::tensor({0.f, 1.f / 3, 2.f / 3, 1.f})));
  EXPECT_TRUE(model_->named_parameters()["fc1.weight"].equal(before));
}

// Tests that redistribution by gradient norm keeps the total number of points and moves
// some from one tensor to another.
TEST_F(DifferentiableQuantizationTest, RedistributionKeepsTheTotal) {
  DifferentiableQuantization dq(*model_, nullptr, DifferentiableQuantizationOptions().bits(2),
                                {{images_, labels_}});
  int64_t total = 0;
  bool changed = false;
  for (const at::Tensor& points : dq.points()) {
    total += points.numel();
    changed = changed || points.numel() != 4;
  }
  EXPECT_EQ(total, 4 * static_cast<int64_t>(dq.points().size()));
  EXPECT_TRUE(changed);
  EXPECT_THROW(DifferentiableQuantization(*model_, nullptr, DifferentiableQuantizationOptions()),
               c10::Error);  // no calibration batches
}

// Tests on a toy problem (1 bit, points starting at each bucket's min and max) that learning
// the points lowers the distillation loss against the float model, keeps every tensor's points
// sorted, and that the written state decodes to exactly the quantized model.
TEST_F(DifferentiableQuantizationTest, LearningLowersTheLossAndKeepsPointsSorted) {
  DifferentiableQuantization dq(*model_, model_,
                                DifferentiableQuantizationOptions()
                                    .bits(1)
                                    .bucket_size(64)
                                    .init(PointsInit::kUniform)
                                    .redistribute_points(false)
                                    .kd(KDLossOptions().soft_weight(1)));
  torch::optim::SGD optimizer(dq.points(), torch::optim::SGDOptions(1e-3).momentum(0.9).nesterov(true));
  const double first = dq.Step(images_, labels_, optimizer).loss.item<double>();
  double last = first;
  for (int step = 0; step < 60; ++step) last = dq.Step(images_, labels_, optimizer).loss.item<double>();
  EXPECT_LT(last, 0.5 * first);
  for (const at::Tensor& points : dq.points()) {
    EXPECT_TRUE(points.equal(std::get<0>(points.sort()))) << points;
  }

  // The stored model holds the values the model trains with.
  const auto parameters = dq.model()->named_parameters();
  const serialization::CompressedModel state = dq.GetQuantizedState();
  for (const serialization::CompressedTensor& tensor : state.tensors()) {
    if (!parameters.contains(tensor.name())) continue;  // buffers
    MC_ASSERT_OK_AND_ASSIGN(const at::Tensor stored,
                            tensor.has_learned_points() ? quant::DecodeLearnedPoints(tensor)
                                                        : serialization::DecodePassthrough(tensor));
    EXPECT_TRUE(stored.allclose(parameters[tensor.name()], 0, 1e-6)) << tensor.name();
  }
}

}  // namespace
}  // namespace mc::distill
