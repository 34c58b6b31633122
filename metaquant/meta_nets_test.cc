// Meta networks: output shapes, what each depends on, gradients to their parameters, and the
// per-layer LSTM state.
#include "metaquant/meta_nets.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "common/status_matchers.h"

namespace mc::metaquant {
namespace {

int64_t Count(const MetaNet& net) {
  int64_t count = 0;
  for (const at::Tensor& p : net.parameters()) count += p.numel();
  return count;
}

// Tests the reference's parameter counts at hidden size 100.
TEST(MetaNetsTest, ParameterCounts) {
  EXPECT_EQ(Count(*CreateMetaNet(MetaNetType::kFCGrad)), 200);
  EXPECT_EQ(Count(*CreateMetaNet(MetaNetType::kMultiFC)), 10200);
  EXPECT_EQ(Count(*CreateMetaNet(MetaNetType::kLSTMFC)), 41301);
}

// Tests that every network maps a layer's (gradient, W~) to the layer's shape, that the
// result reaches all of the network's parameters (the LSTM's recurrent weights from its second
// call, once it has a state), and that MultiFC and LSTMFC scale the gradient element-wise (a
// zero gradient gives zero).
TEST(MetaNetsTest, ShapesAndGradients) {
  at::manual_seed(0);
  const at::Tensor grad = at::randn({4, 3, 3, 3});
  const at::Tensor pre = at::rand({4, 3, 3, 3});
  for (const MetaNetType type : {MetaNetType::kFCGrad, MetaNetType::kMultiFC, MetaNetType::kLSTMFC}) {
    std::shared_ptr<MetaNet> net = CreateMetaNet(type, 8);
    net->Forward("conv", grad, pre);
    const at::Tensor out = net->Forward("conv", grad, pre);
    EXPECT_EQ(out.sizes(), grad.sizes()) << MetaNetTypeName(type);
    out.sum().backward();
    for (const at::Tensor& p : net->parameters()) {
      EXPECT_TRUE(p.grad().defined() && p.grad().abs().sum().item<double>() > 0) << MetaNetTypeName(type);
    }
    net->ResetState();
    EXPECT_TRUE(net->Forward("conv", at::zeros_like(grad), pre).equal(at::zeros_like(grad)));
  }
}

// Tests that FC-Grad is linear in the gradient and ignores W~.
TEST(MetaNetsTest, FCGradIsLinearInTheGradient) {
  std::shared_ptr<MetaNet> net = CreateMetaNet(MetaNetType::kFCGrad, 8);
  const at::Tensor grad = at::randn({10});
  const at::Tensor a = net->Forward("fc", grad, at::rand({10}));
  EXPECT_TRUE(net->Forward("fc", 2 * grad, at::rand({10})).allclose(2 * a, 1e-5, 1e-6));
}

// Tests that FC-Grad and MultiFC give what their layers give applied row by row to every
// element (as torch::nn::Linear would), in values and in the gradients of every weight.
TEST(MetaNetsTest, LinearNetsEqualTheirLayersAppliedPerElement) {
  at::manual_seed(1);
  const at::Tensor grad = at::randn({16, 8, 3, 3});
  const at::Tensor pre = at::randn({16, 8, 3, 3});
  for (const MetaNetType type : {MetaNetType::kFCGrad, MetaNetType::kMultiFC}) {
    std::shared_ptr<MetaNet> net = CreateMetaNet(type, 100, 3);
    const at::Tensor upstream = at::randn({16, 8, 3, 3});
    (net->Forward("conv", grad, pre) * upstream).sum().backward();
    std::vector<at::Tensor> weights;
    std::vector<at::Tensor> fast_grads;
    for (const at::Tensor& p : net->parameters()) {
      weights.push_back(p.detach().clone().requires_grad_(true));
      fast_grads.push_back(p.grad().clone());
    }
    at::Tensor rows = (type == MetaNetType::kFCGrad ? grad : pre).reshape({-1, 1});
    for (const at::Tensor& w : weights) rows = at::linear(rows, w);
    const at::Tensor reference =
        type == MetaNetType::kFCGrad ? rows.view(grad.sizes()) : grad * rows.view(grad.sizes());
    (reference * upstream).sum().backward();
    at::NoGradGuard no_grad;
    EXPECT_TRUE(net->Forward("conv", grad, pre).allclose(reference, 1e-4, 1e-6))
        << MetaNetTypeName(type);
    for (size_t i = 0; i < weights.size(); ++i) {
      EXPECT_TRUE(fast_grads[i].allclose(weights[i].grad(), 1e-4, 1e-6))
          << MetaNetTypeName(type) << " weight " << i;
    }
  }
}

// Tests that LSTMFC carries one state per layer: the same input gives a different output the
// second time, and the first output again after ResetState.
TEST(MetaNetsTest, LstmStatePerLayer) {
  std::shared_ptr<MetaNet> net = CreateMetaNet(MetaNetType::kLSTMFC, 8);
  const at::Tensor grad = at::ones({6});
  const at::Tensor pre = at::rand({6});
  const at::Tensor first = net->Forward("a", grad, pre).detach();
  EXPECT_TRUE(net->Forward("b", grad, pre).detach().equal(first));  // b has its own state
  EXPECT_FALSE(net->Forward("a", grad, pre).detach().equal(first));
  net->ResetState();
  EXPECT_TRUE(net->Forward("a", grad, pre).detach().equal(first));
}

// Tests name parsing.
TEST(MetaNetsTest, Names) {
  EXPECT_THAT(ParseMetaNetType("multifc"), IsOkAndHolds(MetaNetType::kMultiFC));
  EXPECT_THAT(ParseMetaNetType("ste"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mc::metaquant
