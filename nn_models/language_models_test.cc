#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "nn_models/classifier.h"
#include "nn_models/language_model.h"
#include "nn_models/lstm_lm.h"
#include "nn_models/registry.h"
#include "nn_models/testutil.h"
#include "nn_models/transformer_lm.h"

namespace mc::nn_models {
namespace {

constexpr int64_t kVocabulary = 50;

LstmLmConfig TinyLstm() {
  LstmLmConfig config = LstmLmSmall(kVocabulary);
  config.width = 32;
  return config;
}

TransformerLmConfig TinyTransformer() {
  TransformerLmConfig config = TransformerLmSmall(kVocabulary);
  config.width = 16;
  config.layers = 2;
  config.heads = 2;
  config.feed_forward_width = 32;
  config.max_length = 12;
  return config;
}

at::Tensor RandomTokens(int64_t length, int64_t batch) {
  return at::randint(kVocabulary, {length, batch}, at::kLong);
}

std::vector<std::string> ParameterNames(const torch::nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& item : module.named_parameters()) names.push_back(item.key());
  return names;
}

// Tests the parameter counts of the registry's small configurations for 10,000 words: the
// tied decoder adds only its bias.
TEST(LanguageModelsTest, ParameterCounts) {
  EXPECT_EQ(CountParameters(*LstmLm(LstmLmSmall(10'000))), 2'653'200);
  LstmLmConfig untied = LstmLmSmall(10'000);
  untied.tied = false;
  EXPECT_EQ(CountParameters(*LstmLm(untied)), 2'653'200 + 2'000'000);
  EXPECT_EQ(CountParameters(*TransformerLm(TransformerLmSmall(10'000))), 2'116'112);
}

// Tests that the registry names every language model and builds them over num_classes words
// with a dropout (transformer_lm_16, about 200M parameters, is too large to build here).
TEST(LanguageModelsTest, Registry) {
  EXPECT_THAT(RegisteredModelNames(), ::testing::Contains("transformer_lm_16"));
  for (const std::string name : {"lstm_lm_small", "lstm_lm_medium", "transformer_lm_small"}) {
    SCOPED_TRACE(name);
    MC_ASSERT_OK_AND_ASSIGN(std::shared_ptr<Classifier> model,
                         CreateModel(name, ModelOptions().num_classes(kVocabulary).dropout(0.3)));
    auto* language_model = dynamic_cast<LanguageModel*>(model.get());
    ASSERT_NE(language_model, nullptr);
    EXPECT_EQ(language_model->vocabulary_size(), kVocabulary);
    EXPECT_THAT(RegisteredModelNames(), ::testing::Contains(name));
  }
  MC_ASSERT_OK_AND_ASSIGN(std::shared_ptr<Classifier> medium,
                       CreateModel("lstm_lm_medium", ModelOptions().num_classes(kVocabulary)));
  EXPECT_EQ(dynamic_cast<LstmLmImpl&>(*medium).config().width, 650);
  EXPECT_EQ(dynamic_cast<LstmLmImpl&>(*medium).config().dropout, 0.5);
}

// Tests the logits' shape, row t * B + b for position t of stream b, and that the tied
// decoder has no weight of its own.
TEST(LanguageModelsTest, LogitsAndTiedNames) {
  torch::manual_seed(0);
  LstmLm lstm(TinyLstm());
  TransformerLm transformer(TinyTransformer());
  for (LanguageModel* model : std::vector<LanguageModel*>{lstm.get(), transformer.get()}) {
    model->eval();
    const at::Tensor tokens = RandomTokens(5, 3);
    const at::Tensor logits = model->forward(tokens);
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{15, kVocabulary}));
    model->ResetState();
    // Stream 1 alone: its rows are 1, 4, 7, ... of the batch's logits.
    const at::Tensor alone = model->forward(tokens.slice(1, 1, 2));
    EXPECT_TRUE(at::allclose(alone, logits.view({5, 3, kVocabulary}).select(1, 1), 1e-5, 1e-5));
    EXPECT_THAT(ParameterNames(*model), ::testing::Contains("decoder.bias"));
    EXPECT_THAT(ParameterNames(*model), ::testing::Not(::testing::Contains("decoder.weight")));
  }
}

// Tests that the LSTM carries its state: two consecutive windows give the logits of their
// concatenation; a reset or a change of mode starts again from zero.
TEST(LanguageModelsTest, LstmCarriesStateBetweenWindows) {
  torch::manual_seed(0);
  LstmLm model(TinyLstm());
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor tokens = RandomTokens(8, 2);
  const at::Tensor whole = model->forward(tokens);
  model->ResetState();
  const at::Tensor first = model->forward(tokens.slice(0, 0, 3));
  const at::Tensor second = model->forward(tokens.slice(0, 3, 8));
  EXPECT_TRUE(at::allclose(at::cat({first, second}), whole, 1e-5, 1e-5));

  const at::Tensor fresh = model->forward(tokens.slice(0, 3, 8));
  EXPECT_FALSE(at::allclose(fresh, second, 1e-5, 1e-5));  // carried from the whole window
  model->train();
  model->eval();
  model->forward(tokens.slice(0, 0, 3));
  EXPECT_TRUE(at::allclose(model->forward(tokens.slice(0, 3, 8)), second, 1e-5, 1e-5));
}

// Tests causality: changing the token at position t changes no logits before t.
TEST(LanguageModelsTest, TransformerIsCausal) {
  torch::manual_seed(0);
  TransformerLm model(TinyTransformer());
  model->eval();
  torch::NoGradGuard no_grad;
  at::Tensor tokens = RandomTokens(10, 2);
  const at::Tensor before = model->forward(tokens).view({10, 2, kVocabulary});
  tokens[6][1] = (tokens[6][1].item<int64_t>() + 1) % kVocabulary;
  const at::Tensor after = model->forward(tokens).view({10, 2, kVocabulary});
  EXPECT_TRUE(at::allclose(before.slice(0, 0, 6), after.slice(0, 0, 6), 1e-5, 1e-5));
  EXPECT_FALSE(at::allclose(before[6][1], after[6][1], 1e-5, 1e-5));
  EXPECT_TRUE(at::equal(before.select(1, 0), after.select(1, 0)));
}

// Tests that sinusoidal positions are a buffer with sin at even and cos at odd columns.
TEST(LanguageModelsTest, SinusoidalPositions) {
  TransformerLmConfig config = TinyTransformer();
  config.learned_positions = false;
  TransformerLm model(config);
  EXPECT_THAT(ParameterNames(*model), ::testing::Not(::testing::Contains("positions.weight")));
  const at::Tensor table = *model->named_buffers().find("sinusoids");
  EXPECT_EQ(table.sizes(), (std::vector<int64_t>{12, 16}));
  EXPECT_NEAR(table[3][0].item<float>(), std::sin(3.0), 1e-6);
  EXPECT_NEAR(table[3][1].item<float>(), std::cos(3.0), 1e-6);
  EXPECT_NEAR(table[3][2].item<float>(), std::sin(3.0 / std::pow(10000.0, 2.0 / 16)), 1e-6);
}

// Tests that both models, their embeddings tied, learn a deterministic sequence: next =
// current + 4 mod 7 (loss far below log 7).
TEST(LanguageModelsTest, LearnsARepeatingSequence) {
  torch::manual_seed(0);
  LstmLmConfig lstm_config = TinyLstm();
  lstm_config.dropout = 0;
  LstmLm lstm(lstm_config);
  TransformerLmConfig transformer_config = TinyTransformer();
  transformer_config.dropout = 0;
  TransformerLm transformer(transformer_config);
  const at::Tensor stream = at::arange(12 * 4, at::kLong).remainder(7).view({12, 4});
  for (LanguageModel* model : std::vector<LanguageModel*>{lstm.get(), transformer.get()}) {
    torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
    model->train();
    double loss = 0;
    for (int step = 0; step < 300; ++step) {
      model->ResetState();
      optimizer.zero_grad();
      const at::Tensor logits = model->forward(stream.slice(0, 0, 11));
      at::Tensor objective =
          torch::nn::functional::cross_entropy(logits, stream.slice(0, 1, 12).flatten());
      objective.backward();
      optimizer.step();
      loss = objective.item<double>();
    }
    EXPECT_LT(loss, 0.1) << model->name();
  }
}

// Tests that clones compute the same logits and share no storage.
TEST(LanguageModelsTest, Clone) {
  torch::manual_seed(0);
  for (std::shared_ptr<LanguageModel> model :
       std::vector<std::shared_ptr<LanguageModel>>{LstmLm(TinyLstm()).ptr(),
                                                   TransformerLm(TinyTransformer()).ptr()}) {
    model->eval();
    std::shared_ptr<Classifier> copy = Clone(*model);
    copy->eval();
    EXPECT_TRUE(HaveSameState(*model, *copy));
    torch::NoGradGuard no_grad;
    const at::Tensor tokens = RandomTokens(4, 2);
    EXPECT_TRUE(at::equal(model->forward(tokens), copy->forward(tokens)));
    copy->parameters()[0].add_(1);
    EXPECT_FALSE(HaveSameState(*model, *copy));
  }
}

// Tests the errors for tokens of the wrong type, rank or range, and too long windows.
TEST(LanguageModelsTest, RejectsBadTokens) {
  LstmLm lstm(TinyLstm());
  TransformerLm transformer(TinyTransformer());
  for (LanguageModel* model : std::vector<LanguageModel*>{lstm.get(), transformer.get()}) {
    EXPECT_THROW(model->forward(at::zeros({4, 2})), c10::Error);
    EXPECT_THROW(model->forward(at::zeros({4}, at::kLong)), c10::Error);
    EXPECT_THROW(model->forward(at::full({4, 2}, kVocabulary, at::kLong)), c10::Error);
    EXPECT_THROW(model->forward(at::full({4, 2}, -1, at::kLong)), c10::Error);
  }
  EXPECT_THROW(transformer->forward(RandomTokens(13, 1)), c10::Error);
  EXPECT_THROW(
      {
        TransformerLmConfig config = TinyTransformer();
        config.heads = 3;
        TransformerLm bad(config);
      },
      c10::Error);
}

}  // namespace
}  // namespace mc::nn_models
