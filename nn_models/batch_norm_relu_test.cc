#include "nn_models/batch_norm_relu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>
#include <torch/nn/modules/batchnorm.h>

#include <cstdint>
#include <c10/util/Optional.h>
#include <vector>

namespace mc::nn_models {
namespace {

// BatchNorm's forward, the addition and ReLU as separate operations: what the fused
// operation must equal.
at::Tensor Unfused(torch::nn::BatchNorm2dImpl& bn, const at::Tensor& x,
                   const at::Tensor& residual) {
  at::Tensor out = bn.forward(x);
  if (residual.defined()) out = out + residual;
  return at::relu(out);
}

// The batch statistics and the normalization in double precision (running statistics left
// alone): a reference for inputs where float sums lose digits.
at::Tensor InDouble(torch::nn::BatchNorm2dImpl& bn, const at::Tensor& x, const at::Tensor&) {
  const at::Tensor values = x.to(at::kDouble);
  const at::Tensor mean = values.mean({0, 2, 3}, /*keepdim=*/true);
  const at::Tensor var = values.var({0, 2, 3}, /*unbiased=*/false, /*keepdim=*/true);
  const at::Tensor normalized = (values - mean) / (var + bn.options.eps()).sqrt();
  const at::Tensor affine = normalized * bn.weight.to(at::kDouble).view({1, -1, 1, 1}) +
                            bn.bias.to(at::kDouble).view({1, -1, 1, 1});
  return at::relu(affine).to(at::kFloat);
}

struct TrainingRun {
  at::Tensor output, dx, dresidual, dweight, dbias, running_mean, running_var;
  int64_t batches_tracked = 0;
};

// One training forward and backward of `op` on copies of x and the residual, from a
// BatchNorm with non-trivial weights and running statistics; the loss weights every output.
template <typename Op>
TrainingRun TrainOnce(Op op, const at::Tensor& x, const at::Tensor& residual,
              c10::optional<double> momentum, int num_batches = 1) {
  at::manual_seed(3);
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(x.size(1)).momentum(momentum));
  {
    torch::NoGradGuard no_grad;
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-0.5, 0.5);
    bn->running_mean.uniform_(-1, 1);
    bn->running_var.uniform_(0.5, 2);
  }
  bn->train();
  const at::Tensor x_leaf = x.detach().clone().requires_grad_(true);
  const at::Tensor residual_leaf =
      residual.defined() ? residual.detach().clone().requires_grad_(true) : at::Tensor();
  const at::Tensor loss_weights = at::randn(x.sizes());
  TrainingRun run;
  for (int batch = 0; batch < num_batches; ++batch) {
    run.output = op(*bn, x_leaf, residual_leaf);
  }
  (run.output * loss_weights).sum().backward();
  run.dx = x_leaf.grad();
  if (residual_leaf.defined()) run.dresidual = residual_leaf.grad();
  run.dweight = bn->weight.grad();
  run.dbias = bn->bias.grad();
  run.running_mean = bn->running_mean.clone();
  run.running_var = bn->running_var.clone();
  run.batches_tracked = bn->num_batches_tracked.item<int64_t>();
  return run;
}

void ExpectSameRun(const TrainingRun& fused, const TrainingRun& reference) {
  EXPECT_TRUE(at::allclose(fused.output, reference.output, 1e-4, 1e-5));
  EXPECT_TRUE(at::allclose(fused.dx, reference.dx, 1e-4, 1e-5));
  EXPECT_TRUE(at::allclose(fused.dweight, reference.dweight, 1e-4, 1e-4));
  EXPECT_TRUE(at::allclose(fused.dbias, reference.dbias, 1e-4, 1e-4));
  EXPECT_TRUE(at::allclose(fused.running_mean, reference.running_mean, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(fused.running_var, reference.running_var, 1e-5, 1e-6));
  EXPECT_EQ(fused.batches_tracked, reference.batches_tracked);
  ASSERT_EQ(fused.dresidual.defined(), reference.dresidual.defined());
  if (fused.dresidual.defined()) {
    EXPECT_TRUE(at::allclose(fused.dresidual, reference.dresidual, 1e-5, 1e-6));
  }
}

at::Tensor ChannelsLastNormal(std::vector<int64_t> sizes, double mean = 0) {
  return (at::randn(sizes) * 2 + mean).contiguous(at::MemoryFormat::ChannelsLast);
}

class BatchNormReLUThreadsTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    threads_before_ = at::get_num_threads();
    at::set_num_threads(GetParam());
  }
  void TearDown() override { at::set_num_threads(threads_before_); }

 private:
  int threads_before_ = 1;
};

// Tests output, gradients and running statistics against the separate operations.
TEST_P(BatchNormReLUThreadsTest, MatchesBatchNormThenReLU) {
  at::manual_seed(1);
  const at::Tensor x = ChannelsLastNormal({6, 12, 5, 7});
  ExpectSameRun(TrainOnce(BatchNormReLU, x, {}, 0.1), TrainOnce(Unfused, x, {}, 0.1));
}

// Tests the residual's addition before the ReLU and its gradient.
TEST_P(BatchNormReLUThreadsTest, MatchesWithResidual) {
  at::manual_seed(2);
  const at::Tensor x = ChannelsLastNormal({4, 16, 6, 6});
  const at::Tensor residual = ChannelsLastNormal({4, 16, 6, 6});
  ExpectSameRun(TrainOnce(BatchNormReLU, x, residual, 0.1),
                TrainOnce(Unfused, x, residual, 0.1));
}

INSTANTIATE_TEST_SUITE_P(Threads, BatchNormReLUThreadsTest, ::testing::Values(1, 2));

// Tests inputs whose mean is large against their spread: the statistics and the gradient keep
// their digits (no cancellation), against a double-precision reference.
TEST(BatchNormReLUTest, MatchesDoublePrecisionOnLargeMeans) {
  at::manual_seed(4);
  const at::Tensor x = ChannelsLastNormal({8, 8, 9, 9}, /*mean=*/1000);
  const TrainingRun fused = TrainOnce(BatchNormReLU, x, {}, 0.1);
  const TrainingRun reference = TrainOnce(InDouble, x, {}, 0.1);
  EXPECT_TRUE(at::allclose(fused.output, reference.output, 1e-3, 1e-4));
  EXPECT_TRUE(at::allclose(fused.dx, reference.dx, 1e-3, 1e-4));
  EXPECT_TRUE(at::allclose(fused.dweight, reference.dweight, 1e-3, 1e-3));
}

// Tests the cumulative average BatchNorm takes without a momentum, over several batches.
TEST(BatchNormReLUTest, MatchesCumulativeAverage) {
  at::manual_seed(5);
  const at::Tensor x = ChannelsLastNormal({4, 3, 4, 4});
  ExpectSameRun(TrainOnce(BatchNormReLU, x, {}, c10::nullopt, /*num_batches=*/3),
                TrainOnce(Unfused, x, {}, c10::nullopt, /*num_batches=*/3));
}

// Tests that contiguous (NCHW) inputs, which take the separate operations, give the same.
TEST(BatchNormReLUTest, ContiguousInputMatches) {
  at::manual_seed(6);
  const at::Tensor x = at::randn({3, 5, 4, 4});
  const at::Tensor residual = at::randn({3, 5, 4, 4});
  ExpectSameRun(TrainOnce(BatchNormReLU, x, residual, 0.1),
                TrainOnce(Unfused, x, residual, 0.1));
}

// Tests evaluation: the running statistics normalize, and stay as they are.
TEST(BatchNormReLUTest, EvaluationUsesRunningStatistics) {
  at::manual_seed(7);
  torch::nn::BatchNorm2d bn(4);
  {
    torch::NoGradGuard no_grad;
    bn->running_mean.uniform_(-1, 1);
    bn->running_var.uniform_(0.5, 2);
  }
  bn->eval();
  const at::Tensor x = ChannelsLastNormal({2, 4, 3, 3});
  const at::Tensor running_mean = bn->running_mean.clone();
  const at::Tensor expected =
      at::relu((x - running_mean.view({1, 4, 1, 1})) /
               (bn->running_var.view({1, 4, 1, 1}) + bn->options.eps()).sqrt());
  EXPECT_TRUE(at::allclose(BatchNormReLU(*bn, x), expected, 1e-5, 1e-6));
  EXPECT_TRUE(at::equal(bn->running_mean, running_mean));
}

// Tests that a single value per channel fails in training as BatchNorm does.
TEST(BatchNormReLUTest, RejectsOneValuePerChannelInTraining) {
  torch::nn::BatchNorm2d bn(4);
  bn->train();
  EXPECT_THROW(BatchNormReLU(*bn, ChannelsLastNormal({1, 4, 1, 1})), c10::Error);
}

}  // namespace
}  // namespace mc::nn_models
