// The distillation loss against values computed by hand.
#include "distill/kd_loss.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "nn_models/registry.h"

namespace mc::distill {
namespace {

// Tests one example with two classes worked by hand at T = 2, w = 0.7: student logits (0, 2)
// give softmax(s / 2) = (1, e) / (1 + e), teacher logits (2, 0) give (e, 1) / (1 + e).
TEST(KDLossTest, EqualsHandComputedValue) {
  const at::Tensor student = at::tensor({0.f, 2.f}).view({1, 2});
  const at::Tensor teacher = at::tensor({2.f, 0.f}).view({1, 2});
  const at::Tensor label = at::tensor({int64_t{1}});
  const double e = std::exp(1.0);
  const double p = e / (1 + e);  // teacher's first class, student's second
  const double q = 1 / (1 + e);
  // KL(t || s) = p log(p / q) + q log(q / p) = (p - q) * 1 (log(p / q) = 1).
  const double kl_sum = p - q;
  // CE at T = 1: -log(e^2 / (1 + e^2)).
  const double ce = -std::log(std::exp(2.0) / (1 + std::exp(2.0)));
  const double elementwise = 0.7 * 4 * kl_sum / 2 + 0.3 * ce;
  const double batchmean = 0.7 * 4 * kl_sum / 1 + 0.3 * ce;
  EXPECT_NEAR(DistillationLoss(student, teacher, label).item<double>(), elementwise, 1e-6);
  EXPECT_NEAR(DistillationLoss(student, teacher, label,
                               KDLossOptions().reduction(KLReduction::kBatchMean))
                  .item<double>(),
              batchmean, 1e-6);
}

// Tests that soft_weight 0 is plain cross-entropy and soft_weight 1 ignores the labels.
TEST(KDLossTest, WeightsSelectTheTerms) {
  at::manual_seed(0);
  const at::Tensor student = at::randn({6, 5});
  const at::Tensor teacher = at::randn({6, 5});
  const at::Tensor labels = at::randint(5, {6}, at::kLong);
  EXPECT_TRUE(DistillationLoss(student, teacher, labels, KDLossOptions().soft_weight(0))
                  .allclose(at::cross_entropy_loss(student, labels)));
  const at::Tensor other_labels = (labels + 1).remainder(5);
  EXPECT_TRUE(DistillationLoss(student, teacher, labels, KDLossOptions().soft_weight(1))
                  .allclose(DistillationLoss(student, teacher, other_labels,
                                             KDLossOptions().soft_weight(1))));
  // The soft term is zero when the student matches the teacher.
  EXPECT_NEAR(DistillationLoss(teacher, teacher, labels, KDLossOptions().soft_weight(1))
                  .item<double>(),
              0, 1e-6);
}

// Tests that StudentLoss is DistillationLoss against the teacher's logits, and that teacher
// annealing scales the soft weight by (1 - progress): plain cross-entropy at the end, and
// nothing changes without it.
TEST(KDLossTest, StudentLossAnnealsTheSoftWeight) {
  at::manual_seed(0);
  std::shared_ptr<nn_models::Classifier> teacher =
      nn_models::CreateModel("lenet", nn_models::ModelOptions().in_channels(1).image_size(28)).value();
  const at::Tensor images = at::randn({4, 1, 28, 28});
  const at::Tensor labels = at::randint(10, {4}, at::kLong);
  const at::Tensor student = at::randn({4, 10});
  teacher->eval();
  const at::Tensor teacher_logits = teacher->forward(images).detach();
  const auto distill = [&](double w) {
    return DistillationLoss(student, teacher_logits, labels, KDLossOptions().soft_weight(w));
  };

  StudentLoss constant(teacher, KDLossOptions());
  constant.set_progress(0.5);
  EXPECT_DOUBLE_EQ(constant.soft_weight(), 0.7);
  EXPECT_TRUE(constant(student, images, labels).allclose(distill(0.7)));

  StudentLoss annealed(teacher, KDLossOptions().anneal_soft_weight(true));
  EXPECT_TRUE(annealed(student, images, labels).allclose(distill(0.7)));
  annealed.set_progress(0.5);
  EXPECT_DOUBLE_EQ(annealed.soft_weight(), 0.35);
  EXPECT_TRUE(annealed(student, images, labels).allclose(distill(0.35)));
  annealed.set_progress(1);
  EXPECT_TRUE(annealed(student, images, labels).allclose(at::cross_entropy_loss(student, labels)));
  EXPECT_THROW(annealed.set_progress(1.5), c10::Error);
  EXPECT_THROW(annealed.set_progress(-0.1), c10::Error);
}

// Tests that the gradient reaches the student only.
TEST(KDLossTest, GradientFlowsToTheStudentOnly) {
  const at::Tensor student = at::randn({3, 4}).requires_grad_();
  const at::Tensor teacher = at::randn({3, 4}).requires_grad_();
  DistillationLoss(student, teacher, at::zeros({3}, at::kLong)).backward();
  EXPECT_TRUE(student.grad().defined());
  EXPECT_FALSE(teacher.grad().defined());
}

// Tests that mismatched shapes and a bad temperature are refused.
TEST(KDLossTest, RejectsBadInput) {
  const at::Tensor labels = at::zeros({2}, at::kLong);
  EXPECT_THROW(DistillationLoss(at::randn({2, 3}), at::randn({2, 4}), labels), c10::Error);
  EXPECT_THROW(DistillationLoss(at::randn({2, 3}), at::randn({2, 3}), labels,
                                KDLossOptions().temperature(0)),
               c10::Error);
}

}  // namespace
}  // namespace mc::distill
