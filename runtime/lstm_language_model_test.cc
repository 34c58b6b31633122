#include "runtime/lstm_language_model.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <cstdint>
#include <vector>

#include "common/status_matchers.h"
#include "model_io/decoder.h"
#include "nn_models/lstm_lm.h"
#include "runtime/testutil.h"

namespace mc::runtime {
namespace {

constexpr int64_t kVocabulary = 40;

nn_models::LstmLmConfig SmallConfig(bool tied, int64_t width = 24) {
  nn_models::LstmLmConfig config = nn_models::LstmLmSmall(kVocabulary);
  config.width = width;
  config.tied = tied;
  return config;
}

// The model's matrices as 4-bit uniform levels, its biases as float32.
serialization::CompressedModel EncodeFourBits(const nn_models::LstmLmImpl& model) {
  return testing::EncodeModel(model, testing::WeightEncoding::kFourBits);
}

// Logits of every step of `tokens` read one at a time by the LibTorch model holding the
// decoded weights.
std::vector<at::Tensor> DecodedModelLogits(const serialization::CompressedModel& stored,
                                           bool tied, const std::vector<int64_t>& tokens) {
  nn_models::LstmLm model(SmallConfig(tied));
  EXPECT_THAT(model_io::LoadCompressedModel(stored, *model), IsOk());
  model->eval();
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> logits;
  for (const int64_t token : tokens) {
    logits.push_back(model->forward(at::full({1, 1}, token, at::kLong)).flatten());
  }
  return logits;
}

// Tests that the runtime computes the logits of the decoded model, step after step with the
// state carried, for tied and untied decoders: within float rounding with float activations,
// within 3% of the largest logit with int8 activations.
TEST(RuntimeLstmLmTest, MatchesTheDecodedModel) {
  const std::vector<int64_t> tokens = {3, 17, 17, 0, 39, 8, 1, 25};
  for (const bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    torch::manual_seed(1);
    nn_models::LstmLm trained(SmallConfig(tied));
    const serialization::CompressedModel stored = EncodeFourBits(*trained);
    const std::vector<at::Tensor> expected = DecodedModelLogits(stored, tied, tokens);
    MC_ASSERT_OK_AND_ASSIGN(const RuntimeLstmLm model, RuntimeLstmLm::Load(stored));
    EXPECT_EQ(model.vocabulary_size(), kVocabulary);
    EXPECT_EQ(model.width(), 24);
    EXPECT_EQ(model.layers(), 2);
    for (const Activations activations : {Activations::kFloat, Activations::kInt8}) {
      RuntimeLstmLm::State state = model.InitialState();
      at::Tensor logits = at::empty({kVocabulary});
      for (size_t t = 0; t < tokens.size(); ++t) {
        model.Step(tokens[t], state, logits.data_ptr<float>(), activations);
        const double scale = expected[t].abs().max().item<double>();
        const double error = (logits - expected[t]).abs().max().item<double>();
        EXPECT_LT(error, (activations == Activations::kFloat ? 1e-5 : 3e-2) * scale)
            << "step " << t;
      }
    }
  }
}

// Tests that 4-bit weights of rows of 128 take under a fifth of their float32 bytes (half a
// byte per weight, plus each block's range and the float biases).
TEST(RuntimeLstmLmTest, WeightBytes) {
  torch::manual_seed(1);
  nn_models::LstmLm trained(SmallConfig(/*tied=*/true, /*width=*/128));
  MC_ASSERT_OK_AND_ASSIGN(const RuntimeLstmLm model, RuntimeLstmLm::Load(EncodeFourBits(*trained)));
  const int64_t float_bytes = 4 * (kVocabulary * 128 + 2 * 2 * 4 * 128 * 128);
  EXPECT_LT(model.WeightBytes(), float_bytes / 5);
  EXPECT_GT(model.WeightBytes(), float_bytes / 8);
}

// Tests the errors for a missing tensor and a mis-shaped one, each named.
TEST(RuntimeLstmLmTest, RejectsIncompleteModels) {
  torch::manual_seed(1);
  nn_models::LstmLm trained(SmallConfig(/*tied=*/true));
  serialization::CompressedModel stored = EncodeFourBits(*trained);
  serialization::CompressedModel missing = stored;
  missing.mutable_tensors()->RemoveLast();  // decoder.bias, the last parameter
  EXPECT_THAT(RuntimeLstmLm::Load(missing).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("decoder.bias")));
  serialization::CompressedModel misshaped = stored;
  for (auto& tensor : *misshaped.mutable_tensors()) {
    if (tensor.name() == "lstm.weight_hh_l1") {
      tensor = testing::EncodeUniformWeight(tensor.name(), at::zeros({96, 20}), 4);
    }
  }
  EXPECT_THAT(RuntimeLstmLm::Load(misshaped).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("lstm.weight_hh_l1")));
  EXPECT_THAT(RuntimeLstmLm::Load(serialization::CompressedModel()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("embedding.weight")));
}

}  // namespace
}  // namespace mc::runtime
