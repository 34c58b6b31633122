// The reference package's LSQ tests (test_lsq.py), ported, plus checks of the gradients
// against the LSQ formulas, the initial step, the stored form and the size formula.
#include "quant/lsq.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <cmath>
#include <cstring>

#include "common/status_matchers.h"
#include "quant/testutil.h"

namespace mc::quant {
namespace {

using ::testing::HasSubstr;
using testing::ParameterCopies;
using testing::ParametersEqual;
using testing::SmallModelForward;

std::unique_ptr<BaseQuantizer> MakeLsq(std::shared_ptr<torch::nn::Module> model, double min_size,
                                       bool float16, LSQOptions options = {}) {
  auto quantizer =
      std::make_unique<LSQ>(std::move(model), options.min_size(min_size).float16(float16));
  quantizer->no_optimizer();
  return quantizer;
}

// A module whose only parameter is `weight` (given values), for exact gradient checks.
std::shared_ptr<torch::nn::Module> WeightOnly(const at::Tensor& values) {
  auto model = std::make_shared<torch::nn::Module>();
  model->register_parameter("weight", values.clone());
  return model;
}

using LsqTest = testing::SeededQuantizerTest;

// Tests the state round trip (packed) with min_size 0 and 0.1, and 0.1 with float16.
TEST_F(LsqTest, SaveRestoreState) {
  testing::ExpectSaveRestoreReferenceCases(
      [](std::shared_ptr<torch::nn::Module> model, double min_size, bool float16) {
        return MakeLsq(std::move(model), min_size, float16);
      });
}

// Tests that with nothing quantized and float16 set, quantize() rounds every parameter to
// float16.
TEST_F(LsqTest, Float16) {
  testing::ExpectFloat16Rounding(
      [](std::shared_ptr<torch::nn::Module> model, double min_size, bool float16) {
        return MakeLsq(std::move(model), min_size, float16);
      });
}

// Tests that estimate, true, packed and compressed sizes agree, for the reference's widths,
// with min_size 0 and 0.5, with and without float16.
TEST_F(LsqTest, TrueModelSize) {
  testing::ExpectConsistentSizesAtReferenceWidths(
      [](std::shared_ptr<torch::nn::Module> model, double bits, double min_size, bool float16) {
        return MakeLsq(std::move(model), min_size, float16, LSQOptions().bits(bits));
      });
}

// Tests exclusion by glob on full and local names.
TEST_F(LsqTest, Exclude) {
  testing::ExpectExclusion(
      [](std::shared_ptr<torch::nn::Module> model, std::vector<std::string> exclude) {
        return std::make_unique<LSQ>(std::move(model), LSQOptions().min_size(0).exclude(exclude));
      });
}

// Tests that tied weights are counted once with detect_bound and twice without.
TEST_F(LsqTest, Bound) {
  testing::ExpectTiedCountedOnce([](std::shared_ptr<torch::nn::Module> model, bool detect_bound) {
    return std::make_unique<LSQ>(std::move(model),
                                 LSQOptions().min_size(0).detect_bound(detect_bound));
  });
}

// Tests that training before setup raises, that the training output differs from the float
// output, and that evaluation gives the training output exactly (the reference checks 6
// decimals).
TEST_F(LsqTest, Forward) {
  auto model = testing::SmallModel();
  const at::Tensor x = at::randn({2, 4, 32});
  const at::Tensor float_output = SmallModelForward(model, x).detach();
  LSQ quantizer(model, LSQOptions().bits(4).min_size(0));
  EXPECT_THAT([&] { quantizer.training_step(); },
              ::testing::ThrowsMessage<c10::Error>(HasSubstr("setup_optimizer")));
  quantizer.no_optimizer();
  at::Tensor training_output;
  {
    TrainingStep step = quantizer.training_step();
    training_output = SmallModelForward(model, x).detach();
  }
  EXPECT_FALSE(at::allclose(training_output, float_output));
  quantizer.quantize();
  EXPECT_TRUE(at::equal(SmallModelForward(model, x), training_output));
}

// Tests the training value and both gradients against the LSQ formulas on hand-picked
// weights at 2 bits (indices in [-2, 1]) with step 0.5, including clamped weights and a tie.
TEST_F(LsqTest, GradientsFollowTheFormulas) {
  const at::Tensor w = at::tensor({-1.7f, -0.6f, -0.26f, 0.1f, 0.25f, 0.4f, 0.62f, 2.0f});
  const at::Tensor upstream = at::tensor({1.f, -2.f, 3.f, 0.5f, -1.f, 2.f, 4.f, -3.f});
  auto model = WeightOnly(w);
  LSQ quantizer(model, LSQOptions().bits(2).min_size(0));
  quantizer.no_optimizer();
  {
    torch::NoGradGuard no_grad;
    quantizer.steps()[0].fill_(0.5);
  }
  const at::Tensor weight = model->parameters()[0];
  TrainingStep step = quantizer.training_step();
  // w / s = -3.4, -1.2, -0.52, 0.2, 0.5, 0.8, 1.24, 4: clamped to [-2, 1], then rounded
  // (0.5 ties to 0).
  const std::vector<float> idx = {-2, -1, -1, 0, 0, 1, 1, 1};
  EXPECT_TRUE(at::equal(weight, at::tensor(idx) * 0.5f));
  (weight * upstream).sum().backward();
  step.backward();
  const double g = 1 / std::sqrt(8.0 * 1);  // 1 / sqrt(numel * high)
  double step_grad = 0;
  std::vector<float> weight_grad;
  for (int64_t j = 0; j < 8; ++j) {
    const double scaled = w[j].item<double>() / 0.5;
    const bool inside = scaled >= -2 && scaled <= 1;
    weight_grad.push_back(inside ? upstream[j].item<float>() : 0.f);
    step_grad += upstream[j].item<double>() * (inside ? idx[j] - scaled : idx[j]);
  }
  EXPECT_TRUE(at::equal(weight.grad(), at::tensor(weight_grad)));
  EXPECT_NEAR(quantizer.steps()[0].grad().item<double>(), g * step_grad, 1e-6);
}

// Tests that the training value is exactly idx * s, what evaluation and the state hold, for a
// step (0.4 with 8 weights at 2 bits) where the reference's gradscale,
// (s - s g).detach() + s g, is one ulp off s.
TEST_F(LsqTest, TrainingValueIsExactlyIdxTimesStep) {
  auto model = WeightOnly(at::tensor({-1.f, -0.5f, -0.3f, 0.f, 0.1f, 0.3f, 0.5f, 1.f}));
  LSQ quantizer(model, LSQOptions().bits(2).min_size(0));
  quantizer.no_optimizer();
  {
    torch::NoGradGuard no_grad;
    quantizer.steps()[0].fill_(0.4f);
  }
  at::Tensor training_value;
  {
    TrainingStep step = quantizer.training_step();
    training_value = model->parameters()[0].detach().clone();
  }
  // w / s = -2.5, -1.25, -0.75, 0, 0.25, 0.75, 1.25, 2.5, clamped to [-2, 1] and rounded.
  const at::Tensor idx = at::tensor({-2.f, -1.f, -1.f, 0.f, 0.f, 1.f, 1.f, 1.f});
  EXPECT_TRUE(at::equal(training_value, idx * at::scalar_tensor(0.4f)));
  quantizer.quantize();
  EXPECT_TRUE(at::equal(model->parameters()[0], training_value));
}

// Tests that gradients reach the steps and the weights through a real model, and that one
// optimizer step, with the optimizer's own learning rate, changes the steps.
TEST_F(LsqTest, OptimizerStepMovesTheSteps) {
  auto model = testing::SmallModel();
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1));
  LSQ quantizer(model, LSQOptions().bits(4).min_size(0));
  quantizer.setup_optimizer(optimizer);
  EXPECT_THROW(quantizer.setup_optimizer(optimizer), c10::Error);
  ASSERT_EQ(optimizer.param_groups().size(), 2u);
  EXPECT_EQ(optimizer.param_groups()[1].options().get_lr(), 0.1);
  EXPECT_EQ(optimizer.param_groups()[1].params().size(), 2u);
  std::vector<at::Tensor> before;
  for (const at::Tensor& s : quantizer.steps()) before.push_back(s.detach().clone());
  optimizer.zero_grad();
  {
    TrainingStep step = quantizer.training_step();
    SmallModelForward(model, at::randn({2, 4, 32})).pow(2).mean().backward();
    step.backward();
  }
  for (size_t i = 0; i < quantizer.steps().size(); ++i) {
    ASSERT_TRUE(quantizer.steps()[i].grad().defined());
    EXPECT_NE(quantizer.steps()[i].grad().item<double>(), 0);
    EXPECT_GT(quantizer.quantized_params()[i].param.grad().abs().sum().item<double>(), 0);
  }
  optimizer.step();
  for (size_t i = 0; i < quantizer.steps().size(); ++i) {
    EXPECT_NE(quantizer.steps()[i].item<float>(), before[i].item<float>());
  }
}

// Tests the reference's initial step 2 * mean|w| / sqrt(2^(b-1)), and that the steps are the
// learnable parameters (what checkpoints save).
TEST_F(LsqTest, InitialStep) {
  auto model = testing::SmallModel();
  LSQ quantizer(model, LSQOptions().bits(4).min_size(0));
  ASSERT_EQ(quantizer.steps().size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const double mean = model->parameters()[i].abs().mean().item<double>();
    EXPECT_FLOAT_EQ(quantizer.steps()[i].item<float>(), 2 * mean / std::sqrt(8.0));
    EXPECT_EQ(quantizer.steps()[i].dim(), 0);
    EXPECT_TRUE(quantizer.steps()[i].requires_grad());
    EXPECT_TRUE(quantizer.learnable_parameters()[i].is_same(quantizer.steps()[i]));
  }
}

// Tests that the state holds idx + 2^(b-1) at b bits and the step itself, bit for bit.
TEST_F(LsqTest, StateHoldsLevelsAndStep) {
  auto model = testing::SmallModel();
  LSQ quantizer(model, LSQOptions().bits(5).min_size(0));
  const serialization::CompressedModel state = quantizer.get_quantized_state();
  EXPECT_EQ(state.method(), "lsq");
  EXPECT_EQ(state.method_options().at("bits"), "5");
  const serialization::UniformEncoding& stored = state.tensors(0).uniform();
  EXPECT_EQ(stored.bits(), 5u);
  EXPECT_EQ(stored.zero_level(), 16u);
  ASSERT_EQ(stored.step().size(), 4u);
  float step;
  std::memcpy(&step, stored.step().data(), 4);
  EXPECT_EQ(step, quantizer.steps()[0].item<float>());
  EXPECT_EQ(stored.levels().size(), static_cast<size_t>(model->parameters()[0].numel() * 5 / 8));
}

// Tests the size of Sequential(Linear(16, 1024), ReLU, Linear(1024, 16)) at 4 bits with
// min_size 0 against the formula worked by hand: 4 * 33808 + 4 * 32 = 135360 bits, and
// 4 * numel + 32 per tensor.
TEST_F(LsqTest, ModelSizeByHand) {
  torch::nn::Sequential model(torch::nn::Linear(16, 1024), torch::nn::ReLU(),
                              torch::nn::Linear(1024, 16));
  LSQ quantizer(model.ptr(), LSQOptions().bits(4).min_size(0));
  EXPECT_THAT(quantizer.quantized_param_bits(), ::testing::ElementsAre(65568, 4128, 65568, 96));
  EXPECT_DOUBLE_EQ(quantizer.true_model_size(), 135360.0 / 8 / (1 << 20));
  EXPECT_FLOAT_EQ(quantizer.model_size().item<float>(), 135360.0f / 8 / (1 << 20));
}

// Tests the size the reference computes for ResNet-20 on CIFAR-10 with LSQ at 4 bits
// (diffq.md §3.2: 0.183 MB, to 3 decimals).
TEST_F(LsqTest, ReferenceResNet20Size) {
  LSQ quantizer(testing::ResNet20Shapes(10), LSQOptions().bits(4));
  EXPECT_NEAR(quantizer.true_model_size(), 0.183, 5e-4);
}

// Tests that fractional widths, 1 bit and more than 15 bits are refused.
TEST_F(LsqTest, RejectsBadBits) {
  auto model = testing::SmallModel();
  for (const double bits : {4.5, 1.0, 16.0}) {
    EXPECT_THAT(
        [&] { LSQ quantizer(model, LSQOptions().bits(bits)); },
        ::testing::ThrowsMessage<c10::Error>(HasSubstr("LSQ: bits must be an integer in [2, 15]")));
  }
}

// Tests that a tensor of zeros, whose initial step is 0, can be neither trained nor quantized,
// with a message naming it, and that the model is left unchanged.
TEST_F(LsqTest, ZeroStepIsRefused) {
  auto model = WeightOnly(at::zeros({16}));
  LSQ quantizer(model, LSQOptions().min_size(0));
  quantizer.no_optimizer();
  EXPECT_THAT([&] { quantizer.training_step(); },
              ::testing::ThrowsMessage<c10::Error>(HasSubstr("the step of weight is 0")));
  EXPECT_THAT([&] { quantizer.quantize(); },
              ::testing::ThrowsMessage<c10::Error>(HasSubstr("the step of weight is 0")));
  EXPECT_FALSE(quantizer.is_quantized());
  EXPECT_TRUE(at::equal(model->parameters()[0], at::zeros({16})));
}

// Tests that a state at another width, or in the (min, max) form, is refused.
TEST_F(LsqTest, RestoreRefusesOtherForms) {
  serialization::CompressedModel state =
      MakeLsq(testing::SmallModel(), 0, false, LSQOptions().bits(4))->get_quantized_state();
  auto model = testing::SmallModel();
  const std::vector<at::Tensor> before = ParameterCopies(model);
  auto restorer = MakeLsq(model, 0, false);
  EXPECT_THAT(restorer->restore_quantized_state(state),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("stored with bits = 4, this quantizer uses 8")));
  state.mutable_tensors(0)->mutable_uniform()->clear_step();
  EXPECT_THAT(restorer->restore_quantized_state(state),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("LSQ stores a step")));
  EXPECT_TRUE(ParametersEqual(model, before));
}

}  // namespace
}  // namespace mc::quant
