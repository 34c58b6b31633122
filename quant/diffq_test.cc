// The reference package's DiffQ tests, ported, plus one test per reference bug that this
// implementation fixes (see quant/README.md).
#include "quant/diffq.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <stdexcept>

#include "common/status_matchers.h"
#include "quant/testutil.h"

namespace mc::quant {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<BaseQuantizer> MakeDiffQ(std::shared_ptr<torch::nn::Module> model, double min_size,
                                         bool float16, DiffQuantizerOptions options = {}) {
  auto quantizer = std::make_unique<DiffQuantizer>(
      std::move(model), options.min_size(min_size).float16(float16));
  quantizer->no_optimizer();
  return quantizer;
}

using testing::ParameterCopies;
using testing::ParametersEqual;
using testing::SmallModelForward;

using DiffQTest = testing::SeededQuantizerTest;

// Tests the state round trip (packed) with min_size 0 and 0.1, and 0.1 with float16.
TEST_F(DiffQTest, SaveRestoreState) {
  testing::ExpectSaveRestoreReferenceCases(
      [](std::shared_ptr<torch::nn::Module> model, double min_size, bool float16) {
        return MakeDiffQ(std::move(model), min_size, float16);
      });
}

// Tests that with nothing quantized and float16 set, quantize() rounds every parameter to
// float16.
TEST_F(DiffQTest, Float16) {
  testing::ExpectFloat16Rounding([](std::shared_ptr<torch::nn::Module> model, double min_size,
                                    bool float16) {
    return MakeDiffQ(std::move(model), min_size, float16);
  });
}

// Tests that init_bits sets the initial widths exactly.
TEST_F(DiffQTest, InitBits) {
  DiffQuantizer quantizer(testing::SmallModel(), DiffQuantizerOptions().init_bits(5).min_size(0));
  ASSERT_FALSE(quantizer.quantized_params().empty());
  EXPECT_NEAR(quantizer.bits(0).max().item<double>(), 5, 1e-5);
  EXPECT_NEAR(quantizer.bits(0).min().item<double>(), 5, 1e-5);
  DiffQuantizer noise(testing::BigModel(), DiffQuantizerOptions().init_bits(5).param("noise"));
  EXPECT_NEAR(noise.bits(0).max().item<double>(), 5, 1e-4);
}

// Tests that quantize() changes every quantized parameter, for group sizes 0, 1, 4 and 8.
TEST_F(DiffQTest, DoesSomething) {
  for (int64_t group_size : {0, 1, 4, 8}) {
    auto model = testing::SmallBigModel();
    const std::vector<at::Tensor> reference = ParameterCopies(model);
    auto quantizer = MakeDiffQ(model, 0, false, DiffQuantizerOptions().group_size(group_size));
    quantizer->quantize();
    const std::vector<at::Tensor> params = model->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_FALSE(at::equal(params[i], reference[i])) << "group size " << group_size;
    }
  }
}

// Tests that a second quantizer on the same model is refused until the first is detached.
TEST_F(DiffQTest, Detach) {
  auto model = testing::SmallModel();
  DiffQuantizer first(model);
  EXPECT_THAT([&] { DiffQuantizer second(model); },
              ::testing::ThrowsMessage<c10::Error>(HasSubstr("already attached")));
  first.detach();
  DiffQuantizer second(model);
  EXPECT_EQ(second.quantized_params().size(), first.quantized_params().size());
}

// Tests setup_optimizer: training needs it, it runs once, and one step moves the bits.
TEST_F(DiffQTest, SetupOptimizer) {
  auto model = testing::SmallModel();
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(0.1));
  DiffQuantizer quantizer(model, DiffQuantizerOptions().init_bits(9).min_size(0));
  EXPECT_THAT([&] { quantizer.training_step(); },
              ::testing::ThrowsMessage<c10::Error>(HasSubstr("setup_optimizer")));
  quantizer.setup_optimizer(optimizer);
  EXPECT_THROW(quantizer.setup_optimizer(optimizer), c10::Error);
  EXPECT_EQ(optimizer.param_groups().size(), 2u);
  EXPECT_EQ(optimizer.param_groups()[1].options().get_lr(), 1e-3);
  {
    TrainingStep step = quantizer.training_step();
    const at::Tensor out = SmallModelForward(model, at::randn({2, 4, 32}));
    (out.pow(2).mean() + quantizer.model_size()).backward();
    step.backward();
  }
  optimizer.step();
  EXPECT_GT((quantizer.bits(0) - 9).abs().max().item<double>(), 1e-4);
}

// Tests that training steps leave the stored weights untouched, quantize() changes them and
// the next training step restores the float weights.
TEST_F(DiffQTest, QuantizeOnEval) {
  auto model = testing::SmallModel();
  const std::vector<at::Tensor> reference = ParameterCopies(model);
  auto quantizer = MakeDiffQ(model, 0, false);
  const at::Tensor x = at::randn({2, 4, 32});
  { TrainingStep step = quantizer->training_step(); SmallModelForward(model, x); }
  EXPECT_TRUE(ParametersEqual(model, reference));
  quantizer->quantize();
  EXPECT_FALSE(ParametersEqual(model, reference));
  { TrainingStep step = quantizer->training_step(); }
  EXPECT_TRUE(ParametersEqual(model, reference));
}

// Tests that training forwards are noisy (differ) and quantized forwards identical.
TEST_F(DiffQTest, Forward) {
  auto model = testing::SmallModel();
  auto quantizer = MakeDiffQ(model, 0, false);
  const at::Tensor x = at::randn({2, 4, 32});
  at::Tensor first, second;
  { TrainingStep step = quantizer->training_step(); first = SmallModelForward(model, x).detach(); }
  { TrainingStep step = quantizer->training_step(); second = SmallModelForward(model, x).detach(); }
  EXPECT_FALSE(at::equal(first, second));
  quantizer->quantize();
  EXPECT_TRUE(at::equal(SmallModelForward(model, x), SmallModelForward(model, x)));
}

// Tests that quantizing an LSTM changes its output (its flat weights see the new values).
TEST_F(DiffQTest, Lstm) {
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(256, 256).num_layers(2));
  const at::Tensor x = at::randn({4, 2, 256});
  const at::Tensor reference = std::get<0>(lstm->forward(x)).detach();
  auto quantizer = MakeDiffQ(lstm.ptr(), 0.01, false, DiffQuantizerOptions().init_bits(3));
  quantizer->quantize();
  EXPECT_FALSE(at::allclose(std::get<0>(lstm->forward(x)), reference));
  quantizer->unquantize();
  EXPECT_TRUE(at::equal(std::get<0>(lstm->forward(x)), reference));
}

// Tests that the size estimate is differentiable in the logits.
TEST_F(DiffQTest, ModelSizeBackward) {
  DiffQuantizer quantizer(testing::SmallModel(), DiffQuantizerOptions().min_size(0));
  quantizer.model_size().backward();
  ASSERT_TRUE(quantizer.logits()[0].grad().defined());
  EXPECT_GT(quantizer.logits()[0].grad().abs().min().item<double>(), 0);
}

// Tests that estimate, true, packed and compressed sizes agree, for the reference's cases.
TEST_F(DiffQTest, TrueModelSize) {
  for (const auto& [init_bits, group_size] :
       std::vector<std::pair<double, int64_t>>{{9, 8}, {9, 0}, {9, 1}, {5, 1}}) {
    testing::ExpectConsistentSizes(
        [&](std::shared_ptr<torch::nn::Module> model, double min_size, bool float16) {
          return MakeDiffQ(std::move(model), min_size, float16,
                           DiffQuantizerOptions().init_bits(init_bits).group_size(group_size));
        },
        0.01, false);
  }
}

// Tests exclusion by glob on full and local names.
TEST_F(DiffQTest, Exclude) {
  testing::ExpectExclusion([](std::shared_ptr<torch::nn::Module> model, std::vector<std::string> exclude) {
    return std::make_unique<DiffQuantizer>(std::move(model),
                                           DiffQuantizerOptions().min_size(0).exclude(exclude));
  });
}

// Tests that tied weights are counted once with detect_bound and twice without.
TEST_F(DiffQTest, Bound) {
  testing::ExpectTiedCountedOnce([](std::shared_ptr<torch::nn::Module> model, bool detect_bound) {
    return std::make_unique<DiffQuantizer>(
        std::move(model), DiffQuantizerOptions().min_size(0).detect_bound(detect_bound));
  });
}

// Tests that a state restored into a fresh model equals the quantized model exactly.
TEST_F(DiffQTest, Restore) {
  auto model = torch::nn::Linear(torch::nn::LinearOptions(53, 8).bias(false)).ptr();
  DiffQuantizer quantizer(model, DiffQuantizerOptions().group_size(8).min_size(0));
  quantizer.no_optimizer();
  {
    torch::NoGradGuard no_grad;
    quantizer.logits()[0].uniform_(-2, 2);
  }
  const serialization::CompressedModel state = quantizer.get_quantized_state();
  quantizer.quantize();
  auto fresh = torch::nn::Linear(torch::nn::LinearOptions(53, 8).bias(false)).ptr();
  DiffQuantizer restorer(fresh, DiffQuantizerOptions().group_size(8).min_size(0));
  ASSERT_THAT(restorer.restore_quantized_state(state), IsOk());
  EXPECT_TRUE(at::equal(fresh->parameters()[0], model->parameters()[0]));
}

// Tests the size of Sequential(Linear(16, 1024), ReLU, Linear(1024, 16)) with min_size 0 and
// group size 8 against the formula worked by hand: every tensor at 8 bits, plus 72 bits per
// tensor, plus ceil(log2(1 + 8 - 2)) = 3 bits per group:
//   8 * 33808 + 72 * 4 + 3 * (2048 + 128 + 2048 + 2) = 283430 bits = 0.0337875... MB.
TEST_F(DiffQTest, ModelSizeByHand) {
  torch::nn::Sequential model(torch::nn::Linear(16, 1024), torch::nn::ReLU(),
                              torch::nn::Linear(1024, 16));
  DiffQuantizer quantizer(model.ptr(), DiffQuantizerOptions().min_size(0).group_size(8));
  const double expected = 283430.0 / 8 / (1 << 20);
  EXPECT_NEAR(quantizer.true_model_size(), expected, 1e-12);
  EXPECT_FLOAT_EQ(quantizer.model_size().item<float>(), static_cast<float>(expected));
  EXPECT_NEAR(expected, 0.0337875, 1e-7);
}

// Reference bug 1: groups at 15 bits were never packed and came back as garbage.
TEST_F(DiffQTest, FifteenBitGroupsRestoreExactly) {
  auto model = torch::nn::Linear(64, 64).ptr();
  DiffQuantizer quantizer(model, DiffQuantizerOptions().group_size(8).min_size(0));
  {
    torch::NoGradGuard no_grad;
    quantizer.logits()[0].fill_(20);  // sigmoid ~ 1: 15 bits
    quantizer.logits()[0].narrow(0, 0, 100).fill_(-20);  // and some 2-bit groups
  }
  EXPECT_EQ(quantizer.stored_bits(0).max().item<int64_t>(), 15);
  const serialization::CompressedModel state = quantizer.get_quantized_state();
  quantizer.no_optimizer();
  quantizer.quantize();
  auto fresh = torch::nn::Linear(64, 64).ptr();
  DiffQuantizer restorer(fresh, DiffQuantizerOptions().group_size(8).min_size(0));
  ASSERT_THAT(restorer.restore_quantized_state(state), IsOk());
  EXPECT_TRUE(at::equal(fresh->parameters()[0], model->parameters()[0]));
}

// Reference bug 2: a fractional min_bits broke packing. Widths are integers by type here,
// and widths at min_bits store and restore.
TEST_F(DiffQTest, WidthsAtMinBitsRestore) {
  auto model = torch::nn::Linear(32, 32).ptr();
  DiffQuantizer quantizer(model, DiffQuantizerOptions().group_size(4).min_size(0).min_bits(3));
  {
    torch::NoGradGuard no_grad;
    quantizer.logits()[0].fill_(-30);
  }
  EXPECT_EQ(quantizer.stored_bits(0).max().item<int64_t>(), 3);
  auto fresh = torch::nn::Linear(32, 32).ptr();
  DiffQuantizer restorer(fresh, DiffQuantizerOptions().group_size(4).min_size(0).min_bits(3));
  ASSERT_THAT(restorer.restore_quantized_state(quantizer.get_quantized_state()), IsOk());
  quantizer.no_optimizer();
  quantizer.quantize();
  EXPECT_TRUE(at::equal(fresh->parameters()[0], model->parameters()[0]));
}

// Reference bug 3: group_size 0 with a packed state failed to restore.
TEST_F(DiffQTest, GroupSizeZeroRestores) {
  const auto factory = [](std::shared_ptr<torch::nn::Module> model, double min_size, bool float16) {
    return MakeDiffQ(std::move(model), min_size, float16, DiffQuantizerOptions().group_size(0));
  };
  testing::ExpectSaveRestore(factory, 0, false);
}

// Reference bug 5: with nothing quantized, evaluation raised "Nothing to restore".
TEST_F(DiffQTest, NothingQuantizedIsANoOp) {
  auto model = testing::SmallModel();
  const std::vector<at::Tensor> reference = ParameterCopies(model);
  auto quantizer = MakeDiffQ(model, 1000, false);
  ASSERT_TRUE(quantizer->quantized_params().empty());
  quantizer->quantize();
  quantizer->quantize();
  EXPECT_TRUE(ParametersEqual(model, reference));
  quantizer->unquantize();
  { TrainingStep step = quantizer->training_step(); }
  EXPECT_TRUE(ParametersEqual(model, reference));
}

// Reference bug 6: an exception during a forward left the model modified. The training
// scope restores the weights when unwound; repeated quantize() calls are safe.
TEST_F(DiffQTest, ExceptionInForwardRestoresWeights) {
  auto model = testing::SmallModel();
  const std::vector<at::Tensor> reference = ParameterCopies(model);
  auto quantizer = MakeDiffQ(model, 0, false);
  EXPECT_THROW(
      {
        TrainingStep step = quantizer->training_step();
        EXPECT_FALSE(ParametersEqual(model, reference));
        SmallModelForward(model, at::randn({2, 7, 32}));  // wrong channel count: throws
      },
      c10::Error);
  EXPECT_TRUE(ParametersEqual(model, reference));
  quantizer->quantize();
  quantizer->quantize();
  quantizer->unquantize();
  EXPECT_TRUE(ParametersEqual(model, reference));
}

// Reference bug 7: float16 parameters were rounded for good by the first evaluation.
TEST_F(DiffQTest, Float16ParametersAreRestored) {
  auto model = testing::SmallBigModel();
  const std::vector<at::Tensor> reference = ParameterCopies(model);
  auto quantizer = MakeDiffQ(model, 0.1, true);
  quantizer->quantize();
  EXPECT_FALSE(ParametersEqual(model, reference));
  quantizer->unquantize();
  EXPECT_TRUE(ParametersEqual(model, reference));
}

// Tests that a state for other shapes or names is refused and leaves the model unchanged.
TEST_F(DiffQTest, RestoreRefusesMismatchedState) {
  auto model = testing::SmallModel();
  auto quantizer = MakeDiffQ(model, 0, false);
  serialization::CompressedModel state = quantizer->get_quantized_state();

  auto other = torch::nn::Sequential(torch::nn::Conv1d(torch::nn::Conv1dOptions(4, 4, 5).bias(false)),
                                     torch::nn::ReLU(),
                                     torch::nn::Conv1d(torch::nn::Conv1dOptions(4, 4, 1).bias(false)))
                   .ptr();
  const std::vector<at::Tensor> before = ParameterCopies(other);
  auto restorer = MakeDiffQ(other, 0, false);
  EXPECT_THAT(restorer->restore_quantized_state(state),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0.weight has shape [4, 4, 8]")));
  EXPECT_TRUE(ParametersEqual(other, before));

  state.mutable_tensors(1)->set_name("2.kernel");
  auto same = testing::SmallModel();
  auto renamed = MakeDiffQ(same, 0, false);
  EXPECT_THAT(renamed->restore_quantized_state(state),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("missing 2.weight"), HasSubstr("unexpected 2.kernel"))));
  state.set_method("lsq");
  EXPECT_THAT(renamed->restore_quantized_state(state), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Tests that gradients reach both the weights and the logits through the noise.
TEST_F(DiffQTest, GradientsReachWeightsAndLogits) {
  auto model = testing::SmallModel();
  DiffQuantizer quantizer(model, DiffQuantizerOptions().min_size(0).group_size(4));
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1));
  quantizer.setup_optimizer(optimizer);
  optimizer.zero_grad();
  {
    TrainingStep step = quantizer.training_step();
    SmallModelForward(model, at::randn({2, 4, 32})).pow(2).mean().backward();
    step.backward();
  }
  for (size_t i = 0; i < quantizer.logits().size(); ++i) {
    ASSERT_TRUE(quantizer.logits()[i].grad().defined());
    EXPECT_GT(quantizer.logits()[i].grad().abs().sum().item<double>(), 0);
    EXPECT_GT(quantizer.quantized_params()[i].param.grad().abs().sum().item<double>(), 0);
  }
}

// Tests the option checks.
TEST_F(DiffQTest, RejectsBadOptions) {
  EXPECT_THAT([] { DiffQuantizer q(testing::SmallModel(), DiffQuantizerOptions().noise("laplace")); },
              ::testing::ThrowsMessage<c10::Error>(HasSubstr("noise")));
  EXPECT_THAT([] { DiffQuantizer q(testing::SmallModel(), DiffQuantizerOptions().init_bits(2)); },
              ::testing::ThrowsMessage<c10::Error>(HasSubstr("min_bits < init_bits < max_bits")));
  EXPECT_THROW(DiffQuantizer(testing::SmallModel(), DiffQuantizerOptions().group_size(-1)), c10::Error);
  EXPECT_THROW(DiffQuantizer(testing::SmallModel(), DiffQuantizerOptions().max_bits(16)), c10::Error);
}

}  // namespace
}  // namespace mc::quant
