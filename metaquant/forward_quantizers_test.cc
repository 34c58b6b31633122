// dorefa and BWN: values at 1, 2 and 4 bits on hand-worked tensors, the straight-through
// gradient and its gate, and the calibration factor.
#include "metaquant/forward_quantizers.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "common/status_matchers.h"

namespace mc::metaquant {
namespace {

std::vector<float> Values(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kFloat).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

// W = atanh of (-1, -0.5, 0, 0.2, 0.5): tanh W / max|tanh W| = (-1, -0.5, 0, 0.2, 0.5), so
// W~ = (0, 0.25, 0.5, 0.6, 0.75).
at::Tensor HandWeights() {
  return at::atanh(at::tensor({-0.9f, -0.45f, 0.f, 0.18f, 0.45f}));
}

// Tests W~ and the dorefa levels at 1, 2 and 4 bits (round half to even: 0.5 -> 0 at 1 bit).
TEST(ForwardQuantizersTest, DorefaValues) {
  const at::Tensor w = HandWeights();
  const QuantizedWeight one = Quantize(ForwardQuantizer::kDorefa, 1, w);
  EXPECT_THAT(Values(one.pre_quantized),
              ::testing::Pointwise(::testing::FloatNear(1e-6), {0.f, 0.25f, 0.5f, 0.6f, 0.75f}));
  // 1 bit: round(W~) = 0, 0, 0, 1, 1.
  EXPECT_THAT(Values(one.quantized), ::testing::ElementsAre(-1, -1, -1, 1, 1));
  // 2 bits, n = 3: round(0, 0.75, 1.5, 1.8, 2.25) = 0, 1, 2, 2, 2.
  EXPECT_THAT(Values(Quantize(ForwardQuantizer::kDorefa, 2, w).quantized),
              ::testing::Pointwise(::testing::FloatNear(1e-6),
                                   {-1.f, -1.f / 3, 1.f / 3, 1.f / 3, 1.f / 3}));
  // 4 bits, n = 15: round(0, 3.75, 7.5, 9, 11.25) = 0, 4, 8, 9, 11.
  EXPECT_THAT(Values(Quantize(ForwardQuantizer::kDorefa, 4, w).quantized),
              ::testing::Pointwise(::testing::FloatNear(1e-6),
                                   {-1.f, -7.f / 15, 1.f / 15, 3.f / 15, 7.f / 15}));
}

// Tests BWN: ±mean|W| (sign(0) taken as +), W~ = W, and that only 1 bit is accepted.
TEST(ForwardQuantizersTest, BwnValues) {
  const at::Tensor w = at::tensor({-0.4f, 0.f, 0.2f, 1.8f});
  const QuantizedWeight q = Quantize(ForwardQuantizer::kBwn, 1, w);
  EXPECT_THAT(Values(q.quantized), ::testing::ElementsAre(-0.6f, 0.6f, 0.6f, 0.6f));
  EXPECT_TRUE(q.pre_quantized.equal(w));
  EXPECT_THROW(Quantize(ForwardQuantizer::kBwn, 2, w), c10::Error);
}

// Tests the straight-through gradients: dorefa g (1 - tanh²W) / max|tanh W| (its gate never
// closes on W~ in [0, 1]); BWN α g gated by |W| <= 1.
TEST(ForwardQuantizersTest, StraightThroughGradients) {
  const at::Tensor w = HandWeights().requires_grad_();
  const at::Tensor g = at::tensor({1.f, 2.f, 3.f, 4.f, 5.f});
  Quantize(ForwardQuantizer::kDorefa, 1, w).quantized.backward(g);
  const at::Tensor t = at::tanh(w.detach());
  EXPECT_TRUE(w.grad().allclose(g * (1 - t * t) / 0.9, 1e-5, 1e-6));
  EXPECT_TRUE(Calibration(ForwardQuantizer::kDorefa, w).allclose((1 - t * t) / 0.9, 1e-5, 1e-6));

  const at::Tensor v = at::tensor({-0.4f, 0.5f, 1.5f, -2.f}).requires_grad_();
  Quantize(ForwardQuantizer::kBwn, 1, v).quantized.backward(at::ones({4}));
  // α = 1.1; the gate is closed for 1.5 and -2.
  EXPECT_THAT(Values(v.grad()), ::testing::Pointwise(::testing::FloatNear(1e-6), {1.1f, 1.1f, 0.f, 0.f}));
  EXPECT_TRUE(Calibration(ForwardQuantizer::kBwn, v).equal(at::tensor({1.f, 1.f, 0.f, 0.f})));
}

// Tests the stored levels and their values.
TEST(ForwardQuantizersTest, Levels) {
  const QuantizedLevels dorefa = Levels(ForwardQuantizer::kDorefa, 2, HandWeights());
  EXPECT_TRUE(dorefa.levels.equal(at::tensor({0, 1, 2, 2, 2}, at::kInt)));
  EXPECT_EQ(dorefa.min, -1);
  EXPECT_EQ(dorefa.max, 1);
  const QuantizedLevels bwn = Levels(ForwardQuantizer::kBwn, 1, at::tensor({-0.4f, 0.f, 0.2f, 1.8f}));
  EXPECT_TRUE(bwn.levels.equal(at::tensor({0, 1, 1, 1}, at::kInt)));
  EXPECT_FLOAT_EQ(bwn.max, 0.6f);
  EXPECT_FLOAT_EQ(bwn.min, -0.6f);
}

// Tests name parsing.
TEST(ForwardQuantizersTest, Names) {
  EXPECT_THAT(ParseForwardQuantizer("bwn"), IsOkAndHolds(ForwardQuantizer::kBwn));
  EXPECT_THAT(ParseForwardQuantizer("ternary"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("dorefa, bwn")));
}

}  // namespace
}  // namespace mc::metaquant
