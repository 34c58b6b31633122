// Meta networks: output shapes, what each depends on, gradients to their parameters, and the
// per-layer LSTM state.
#include "metaquant/meta_nets.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "common/status_matchers.h"

namespace mc::metaquant {
namespace {

int64_t Count(const MetaNet& net) {
  int64_t count = 0;
  for (const at::Tensor& p : net.parameters()) count += p.numel();
  return count;
}

MetaNetOptions Hidden(int64_t hidden) { return MetaNetOptions().hidden(hidden); }

// Tests the reference's parameter counts at hidden size 100, and MultiFC's with biases
// (100 + 100 + 1 more).
TEST(MetaNetsTest, ParameterCounts) {
  const MetaNetOptions reference = MetaNetOptions().multifc_bias(false);
  EXPECT_EQ(Count(*CreateMetaNet(MetaNetType::kFCGrad, reference)), 200);
  EXPECT_EQ(Count(*CreateMetaNet(MetaNetType::kMultiFC, reference)), 10200);
  EXPECT_EQ(Count(*CreateMetaNet(MetaNetType::kLSTMFC, reference)), 41301);
  EXPECT_EQ(Count(*CreateMetaNet(MetaNetType::kMultiFC, MetaNetOptions())), 10401);
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
    std::shared_ptr<MetaNet> net = CreateMetaNet(type, Hidden(8));
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
  std::shared_ptr<MetaNet> net = CreateMetaNet(MetaNetType::kFCGrad, Hidden(8));
  const at::Tensor grad = at::randn({10});
  const at::Tensor a = net->Forward("fc", grad, at::rand({10}));
  EXPECT_TRUE(net->Forward("fc", 2 * grad, at::rand({10})).allclose(2 * a, 1e-5, 1e-6));
}

// Tests that FC-Grad and MultiFC (with and without biases) give what their layers give
// applied row by row to every element (as torch::nn::Linear would), in values and in the
// gradients of every parameter.
TEST(MetaNetsTest, LinearNetsEqualTheirLayersAppliedPerElement) {
  at::manual_seed(1);
  const at::Tensor grad = at::randn({16, 8, 3, 3});
  const at::Tensor pre = at::randn({16, 8, 3, 3});
  for (const MetaNetType type : {MetaNetType::kFCGrad, MetaNetType::kMultiFC}) {
    for (const bool bias : {false, true}) {
      std::shared_ptr<MetaNet> net = CreateMetaNet(type, MetaNetOptions().multifc_bias(bias));
      const at::Tensor upstream = at::randn({16, 8, 3, 3});
      (net->Forward("conv", grad, pre) * upstream).sum().backward();
      // (weight, bias) of each layer, in order; the bias undefined where there is none.
      std::vector<std::pair<at::Tensor, at::Tensor>> layers;
      std::vector<at::Tensor> copies;
      std::vector<at::Tensor> fast_grads;
      for (const auto& named : net->named_parameters()) {
        copies.push_back(named.value().detach().clone().requires_grad_(true));
        fast_grads.push_back(named.value().grad().clone());
        if (named.key().find("bias") != std::string::npos) {
          layers.back().second = copies.back();
        } else {
          layers.push_back({copies.back(), at::Tensor()});
        }
      }
      at::Tensor rows = (type == MetaNetType::kFCGrad ? grad : pre).reshape({-1, 1});
      for (const auto& [weight, layer_bias] : layers) rows = at::linear(rows, weight, layer_bias);
      const at::Tensor reference =
          type == MetaNetType::kFCGrad ? rows.view(grad.sizes()) : grad * rows.view(grad.sizes());
      (reference * upstream).sum().backward();
      at::NoGradGuard no_grad;
      const std::string label = MetaNetTypeName(type) + (bias ? " with biases" : "");
      EXPECT_TRUE(net->Forward("conv", grad, pre).allclose(reference, 1e-4, 1e-6)) << label;
      for (size_t i = 0; i < copies.size(); ++i) {
        EXPECT_TRUE(fast_grads[i].allclose(copies[i].grad(), 1e-4, 1e-6)) << label << " parameter " << i;
      }
    }
  }
}

// Tests the property the biases give MultiFC: without them, M(g, W~) is proportional to W~
// (zero where W~ is zero, odd in W~), so a BWN step cannot move a weight across zero; with
// them M keeps a term in g alone.
TEST(MetaNetsTest, MultiFCBiasGivesATermInTheGradientAlone) {
  at::manual_seed(2);
  const at::Tensor grad = at::randn({32});
  const at::Tensor pre = at::randn({32});
  at::NoGradGuard no_grad;
  std::shared_ptr<MetaNet> reference =
      CreateMetaNet(MetaNetType::kMultiFC, MetaNetOptions().multifc_bias(false));
  EXPECT_TRUE(reference->Forward("fc", grad, at::zeros({32})).equal(at::zeros({32})));
  EXPECT_TRUE(reference->Forward("fc", grad, -pre).allclose(-reference->Forward("fc", grad, pre)));
  std::shared_ptr<MetaNet> biased = CreateMetaNet(MetaNetType::kMultiFC, MetaNetOptions());
  const at::Tensor at_zero = biased->Forward("fc", grad, at::zeros({32}));
  EXPECT_GT(at_zero.abs().min().item<double>(), 0);
  // The term in g alone is one learned factor: M(g, 0) = b * g.
  const at::Tensor factor = at_zero / grad;
  EXPECT_TRUE(factor.allclose(factor[0].expand({32}), 1e-4, 1e-6));
}

// Tests that LSTMFC carries one state per layer: the same input gives a different output the
// second time, and the first output again after ResetState.
TEST(MetaNetsTest, LstmStatePerLayer) {
  std::shared_ptr<MetaNet> net = CreateMetaNet(MetaNetType::kLSTMFC, Hidden(8));
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
