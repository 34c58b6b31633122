// The reference package's uniform quantizer tests (test_uniform.py), ported, plus checks of
// the straight-through gradient, the size formula and the width checks.
#include "quant/uniform_quantizer.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/utils.h>

#include <cmath>
#include <limits>

#include "common/status_matchers.h"
#include "quant/testutil.h"

namespace mc::quant {
namespace {

using ::testing::HasSubstr;
using testing::ParameterCopies;
using testing::ParametersEqual;
using testing::SmallModelForward;

std::unique_ptr<BaseQuantizer> MakeUniform(std::shared_ptr<torch::nn::Module> model,
                                           double min_size, bool float16,
                                           UniformQuantizerOptions options = {}) {
  return std::make_unique<UniformQuantizer>(std::move(model),
                                            options.min_size(min_size).float16(float16));
}

using UniformQuantizerTest = testing::SeededQuantizerTest;

// Tests the state round trip (packed) with min_size 0 and 0.1, and 0.1 with float16.
TEST_F(UniformQuantizerTest, SaveRestoreState) {
  testing::ExpectSaveRestoreReferenceCases(
      [](std::shared_ptr<torch::nn::Module> model, double min_size, bool float16) {
        return MakeUniform(std::move(model), min_size, float16);
      });
}

// Tests that with nothing quantized and float16 set, quantize() rounds every parameter to
// float16.
TEST_F(UniformQuantizerTest, Float16) {
  testing::ExpectFloat16Rounding(
      [](std::shared_ptr<torch::nn::Module> model, double min_size, bool float16) {
        return MakeUniform(std::move(model), min_size, float16);
      });
}

// Tests that estimate, true, packed and compressed sizes agree, for the reference's widths,
// with min_size 0 and 0.5, with and without float16.
TEST_F(UniformQuantizerTest, TrueModelSize) {
  testing::ExpectConsistentSizesAtReferenceWidths([](std::shared_ptr<torch::nn::Module> model,
                                                     double bits, double min_size, bool float16) {
    return MakeUniform(std::move(model), min_size, float16, UniformQuantizerOptions().bits(bits));
  });
}

// Tests that every quantized weight is within half a step of its float value, where
// step = (max - min) / (2^bits - 1) of its tensor (the reference checks a whole step), and
// takes one of at most 2^bits values.
TEST_F(UniformQuantizerTest, Delta) {
  // Float32 rounding of min + level * step: a few ulps of the largest weight.
  constexpr double kRoundingUlps = 4;
  for (const int64_t bits : {1, 4, 8, 15}) {
    SCOPED_TRACE(::testing::Message() << "bits " << bits);
    auto model = testing::SmallBigModel();
    const std::vector<at::Tensor> reference = ParameterCopies(model);
    auto quantizer = MakeUniform(model, 0, false, UniformQuantizerOptions().bits(bits));
    ASSERT_EQ(quantizer->quantized_params().size(), reference.size());
    quantizer->quantize();
    const std::vector<at::Tensor> params = model->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      const double range = (reference[i].max() - reference[i].min()).item<double>();
      const double step = range / (std::exp2(bits) - 1);
      const double rounding = kRoundingUlps * std::numeric_limits<float>::epsilon() *
                              reference[i].abs().max().item<double>();
      EXPECT_LE((params[i] - reference[i]).abs().max().item<double>(), step / 2 + rounding);
      EXPECT_LE(std::get<0>(at::_unique(params[i])).numel(), std::exp2(bits));
    }
  }
}

// Tests that fractional or out-of-range widths are refused (the reference silently corrupts
// packed states at 9.6 bits).
TEST_F(UniformQuantizerTest, RejectsFractionalAndOutOfRangeBits) {
  auto model = testing::SmallModel();
  for (const double bits : {9.6, 0.0, 16.0, std::nan("")}) {
    EXPECT_THAT([&] { UniformQuantizer quantizer(model, UniformQuantizerOptions().bits(bits)); },
                ::testing::ThrowsMessage<c10::Error>(
                    HasSubstr("UniformQuantizer: bits must be an integer in [1, 15]")));
  }
  // A refused construction leaves the model free for another quantizer.
  EXPECT_EQ(UniformQuantizer(model, UniformQuantizerOptions().bits(15)).bits(), 15);
}

// Tests that with qat the training forward runs on exactly the weights quantize() writes, so
// the output changes, and that the stored parameters are the float ones after the step.
TEST_F(UniformQuantizerTest, Qat) {
  auto model = testing::SmallModel();
  const std::vector<at::Tensor> reference = ParameterCopies(model);
  const at::Tensor x = at::randn({2, 4, 32});
  const at::Tensor float_output = SmallModelForward(model, x).detach();
  auto quantizer = MakeUniform(model, 0, false, UniformQuantizerOptions().bits(4).qat(true));
  quantizer->quantize();
  const std::vector<at::Tensor> quantized = ParameterCopies(model);
  const at::Tensor quantized_output = SmallModelForward(model, x).detach();
  at::Tensor training_output;
  {
    TrainingStep step = quantizer->training_step();
    EXPECT_TRUE(ParametersEqual(model, quantized));
    training_output = SmallModelForward(model, x).detach();
  }
  EXPECT_FALSE(at::allclose(training_output, float_output));
  EXPECT_TRUE(at::equal(training_output, quantized_output));
  EXPECT_TRUE(ParametersEqual(model, reference));
}

// Tests that with qat the training values are bit for bit the weights quantize() writes, at
// every width (the reference's w + (Q(w) - w).detach() is one ulp off Q(w) for about 2% of
// the weights at 2 to 4 bits).
TEST_F(UniformQuantizerTest, QatTrainingValuesAreTheQuantizedWeights) {
  for (const int64_t bits : {1, 2, 4, 8, 15}) {
    auto model = testing::SmallBigModel();
    auto quantizer = MakeUniform(model, 0, false, UniformQuantizerOptions().bits(bits).qat(true));
    quantizer->quantize();
    const std::vector<at::Tensor> quantized = ParameterCopies(model);
    TrainingStep step = quantizer->training_step();
    EXPECT_TRUE(ParametersEqual(model, quantized)) << bits << " bits";
  }
}

// Tests the straight-through estimator: the gradient of the float weights equals the
// gradient of the quantized weights the forward used.
TEST_F(UniformQuantizerTest, QatGradientIsStraightThrough) {
  auto model = testing::SmallModel();
  auto quantizer = MakeUniform(model, 0, false, UniformQuantizerOptions().bits(3).qat(true));
  TrainingStep step = quantizer->training_step();
  SmallModelForward(model, at::randn({2, 4, 32})).pow(2).mean().backward();
  std::vector<at::Tensor> quantized_grads;
  for (const QuantizedParam& param : quantizer->quantized_params()) {
    quantized_grads.push_back(param.param.grad().clone());
  }
  step.backward();
  for (size_t i = 0; i < quantized_grads.size(); ++i) {
    EXPECT_GT(quantized_grads[i].abs().sum().item<double>(), 0);
    EXPECT_TRUE(at::equal(quantizer->quantized_params()[i].param.grad(), quantized_grads[i]));
  }
}

// Tests that QAT changes the output of an LSTM (its flat weights see the quantized values)
// and that the float output is back after the step.
TEST_F(UniformQuantizerTest, Lstm) {
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(256, 256).num_layers(2));
  const at::Tensor x = at::randn({4, 2, 256});
  const at::Tensor reference = std::get<0>(lstm->forward(x)).detach();
  auto quantizer = MakeUniform(lstm.ptr(), 0.01, false, UniformQuantizerOptions().qat(true));
  {
    TrainingStep step = quantizer->training_step();
    EXPECT_FALSE(at::allclose(std::get<0>(lstm->forward(x)), reference));
  }
  EXPECT_TRUE(at::equal(std::get<0>(lstm->forward(x)), reference));
}

// Tests that without qat a training step leaves the forward and the gradients as without a
// quantizer, evaluation is quantized, and training after evaluation is float again.
TEST_F(UniformQuantizerTest, ResumeTraining) {
  auto model = testing::SmallModel();
  const at::Tensor x = at::randn({2, 4, 32});
  const at::Tensor float_output = SmallModelForward(model, x);
  float_output.pow(2).mean().backward();
  const std::vector<at::Tensor> float_grads = {model->parameters()[0].grad().clone(),
                                               model->parameters()[1].grad().clone()};
  for (const at::Tensor& param : model->parameters()) param.mutable_grad().zero_();

  auto quantizer = MakeUniform(model, 0, false);
  at::Tensor first;
  {
    TrainingStep step = quantizer->training_step();
    first = SmallModelForward(model, x);
    first.pow(2).mean().backward();
    step.backward();
  }
  EXPECT_TRUE(at::equal(first, float_output));
  EXPECT_TRUE(at::equal(model->parameters()[0].grad(), float_grads[0]));
  EXPECT_TRUE(at::equal(model->parameters()[1].grad(), float_grads[1]));
  quantizer->quantize();
  EXPECT_FALSE(at::allclose(SmallModelForward(model, x), first));
  {
    TrainingStep step = quantizer->training_step();
    EXPECT_TRUE(at::equal(SmallModelForward(model, x), first));
  }
}

// Tests exclusion by glob on full and local names.
TEST_F(UniformQuantizerTest, Exclude) {
  testing::ExpectExclusion(
      [](std::shared_ptr<torch::nn::Module> model, std::vector<std::string> exclude) {
        return std::make_unique<UniformQuantizer>(
            std::move(model), UniformQuantizerOptions().min_size(0).exclude(exclude));
      });
}

// Tests that tied weights are counted once with detect_bound and twice without.
TEST_F(UniformQuantizerTest, Bound) {
  testing::ExpectTiedCountedOnce([](std::shared_ptr<torch::nn::Module> model, bool detect_bound) {
    return std::make_unique<UniformQuantizer>(
        std::move(model), UniformQuantizerOptions().min_size(0).detect_bound(detect_bound));
  });
}

// Tests the size of Sequential(Linear(16, 1024), ReLU, Linear(1024, 16)) at 4 bits against
// the formula worked by hand: with min_size 0 all four tensors are quantized,
// 4 * 33808 + 4 * 64 = 135488 bits; with the default min_size (2621 elements) the biases
// stay float32: 4 * 32768 + 2 * 64 + 32 * 1040 = 164480 bits. Per tensor: 4 * numel + 64.
TEST_F(UniformQuantizerTest, ModelSizeByHand) {
  torch::nn::Sequential model(torch::nn::Linear(16, 1024), torch::nn::ReLU(),
                              torch::nn::Linear(1024, 16));
  UniformQuantizer all(model.ptr(), UniformQuantizerOptions().bits(4).min_size(0));
  EXPECT_THAT(all.quantized_param_bits(), ::testing::ElementsAre(65600, 4160, 65600, 128));
  EXPECT_DOUBLE_EQ(all.true_model_size(), 135488.0 / 8 / (1 << 20));
  EXPECT_FLOAT_EQ(all.model_size().item<float>(), 135488.0f / 8 / (1 << 20));
  all.detach();
  UniformQuantizer weights(model.ptr(), UniformQuantizerOptions().bits(4));
  EXPECT_DOUBLE_EQ(weights.true_model_size(), 164480.0 / 8 / (1 << 20));
}

// Tests the sizes the reference computes for ResNet-20 on CIFAR-10 (diffq.md §3.2: QAT at 2,
// 3, 4 and 8 bits, 0.123, 0.153, 0.183 and 0.304 MB, to 3 decimals).
TEST_F(UniformQuantizerTest, ReferenceResNet20Sizes) {
  const auto model = testing::ResNet20Shapes(10);
  int64_t count = 0;
  for (const at::Tensor& param : model->parameters()) count += param.numel();
  ASSERT_EQ(count, 269722);
  for (const auto& [bits, megabytes] :
       std::vector<std::pair<int64_t, double>>{{2, 0.123}, {3, 0.153}, {4, 0.183}, {8, 0.304}}) {
    UniformQuantizer quantizer(model, UniformQuantizerOptions().bits(bits));
    EXPECT_NEAR(quantizer.true_model_size(), megabytes, 5e-4) << bits << " bits";
  }
}

// Tests that a state written at another width is refused, naming both widths.
TEST_F(UniformQuantizerTest, RestoreRefusesOtherWidth) {
  const serialization::CompressedModel state =
      MakeUniform(testing::SmallModel(), 0, false, UniformQuantizerOptions().bits(4))
          ->get_quantized_state();
  EXPECT_EQ(state.method(), "uniform");
  EXPECT_EQ(state.method_options().at("bits"), "4");
  EXPECT_EQ(state.tensors(0).uniform().bits(), 4u);
  auto model = testing::SmallModel();
  const std::vector<at::Tensor> before = ParameterCopies(model);
  EXPECT_THAT(MakeUniform(model, 0, false)->restore_quantized_state(state),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("stored with bits = 4, this quantizer uses 8")));
  EXPECT_TRUE(ParametersEqual(model, before));
}

}  // namespace
}  // namespace mc::quant
