#include "quant/group_noise.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

#include <tuple>

namespace mc::quant {
namespace {

// The plain expression AddGroupNoise replaces, differentiated by autograd.
at::Tensor PlainGroupNoise(const at::Tensor& weight, const at::Tensor& step, const at::Tensor& eps,
                           int64_t group_size) {
  const int64_t n = weight.numel();
  const int64_t groups = step.numel();
  const at::Tensor element_step =
      groups == 1 ? step.expand({n})
                  : step.unsqueeze(1).expand({groups, group_size}).reshape({-1}).narrow(0, 0, n);
  return weight + (weight.max() - weight.min()) * element_step * eps;
}

struct Inputs {
  at::Tensor weight, step, eps;
};

Inputs MakeInputs(int64_t n, int64_t groups) {
  Inputs in;
  in.weight = at::randn({n}).requires_grad_(true);
  in.step = (at::rand({groups}) * 0.1).requires_grad_(true);
  in.eps = at::randn({n}) / 2;
  return in;
}

// Values bit for bit, gradients to float rounding, for several shapes of groups.
class GroupNoiseTest : public ::testing::TestWithParam<std::tuple<int64_t, int64_t>> {};

TEST_P(GroupNoiseTest, MatchesThePlainExpression) {
  const auto [n, group_size] = GetParam();
  at::manual_seed(3);
  const int64_t groups = group_size >= n ? 1 : (n + group_size - 1) / group_size;
  const Inputs in = MakeInputs(n, groups);
  const at::Tensor upstream = at::randn({n});

  const at::Tensor fused = AddGroupNoise(in.weight, in.step, in.eps, group_size);
  const auto fused_grads = torch::autograd::grad({fused}, {in.weight, in.step}, {upstream});
  const at::Tensor plain = PlainGroupNoise(in.weight, in.step, in.eps, group_size);
  const auto plain_grads = torch::autograd::grad({plain}, {in.weight, in.step}, {upstream});

  EXPECT_TRUE(at::equal(fused, plain));
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(at::allclose(fused_grads[i], plain_grads[i], /*rtol=*/1e-5, /*atol=*/1e-5))
        << "gradient " << i << ": " << (fused_grads[i] - plain_grads[i]).abs().max().item<float>();
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, GroupNoiseTest,
                         ::testing::Values(std::make_tuple(int64_t{64}, int64_t{8}),
                                           std::make_tuple(int64_t{61}, int64_t{8}),  // short last group
                                           std::make_tuple(int64_t{100}, int64_t{100}),  // one group
                                           std::make_tuple(int64_t{36864}, int64_t{8}),
                                           std::make_tuple(int64_t{9000}, int64_t{16})));

TEST(GroupNoiseTest, GradientsByHand) {
  // weights (0, 2, 1, 2): range 2 with the maximum tied; steps (1, 3); eps 1.
  const at::Tensor weight = at::tensor({0.0f, 2.0f, 1.0f, 2.0f}).requires_grad_(true);
  const at::Tensor step = at::tensor({1.0f, 3.0f}).requires_grad_(true);
  const at::Tensor out = AddGroupNoise(weight, step, at::ones({4}), 2);
  EXPECT_TRUE(at::equal(out, at::tensor({2.0f, 4.0f, 7.0f, 8.0f})));
  out.backward(at::tensor({1.0f, 2.0f, 3.0f, 4.0f}));
  // d/d step_g: range * (sum of the group's upstream gradients).
  EXPECT_TRUE(at::equal(step.grad(), at::tensor({6.0f, 14.0f})));
  // d/d range = sum of upstream * step = 1 + 2 + 9 + 12 = 24, shared by the two maxima and
  // taken from the minimum.
  EXPECT_TRUE(at::equal(weight.grad(), at::tensor({1.0f - 24, 2.0f + 12, 3.0f, 4.0f + 12})));
}

TEST(GroupNoiseTest, RejectsMismatchedShapes) {
  const at::Tensor weight = at::zeros({10});
  EXPECT_THROW(AddGroupNoise(weight, at::ones({3}), at::zeros({10}), 8), c10::Error);
  EXPECT_THROW(AddGroupNoise(weight, at::ones({2}), at::zeros({9}), 8), c10::Error);
  EXPECT_THROW(AddGroupNoise(weight, at::ones({2}), at::zeros({10}), 0), c10::Error);
  EXPECT_THROW(AddGroupNoise(at::zeros({0}), at::ones({1}), at::zeros({0}), 8), c10::Error);
  EXPECT_THROW(AddGroupNoise(weight.to(at::kDouble), at::ones({2}), at::zeros({10}), 8),
               c10::Error);
}

}  // namespace
}  // namespace mc::quant
