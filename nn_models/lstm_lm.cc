#include "nn_models/lstm_lm.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/init.h>
#include <torch/utils.h>

namespace mc::nn_models {
namespace {

constexpr double kInitRange = 0.1;

}  // namespace

LstmLmConfig LstmLmSmall(int64_t vocabulary_size) {
  LstmLmConfig config;
  config.vocabulary_size = vocabulary_size;
  return config;
}

LstmLmConfig LstmLmMedium(int64_t vocabulary_size) {
  LstmLmConfig config;
  config.vocabulary_size = vocabulary_size;
  config.width = 650;
  config.dropout = 0.5;
  return config;
}

LstmLmImpl::LstmLmImpl(const LstmLmConfig& config) : config_(config) { reset(); }

void LstmLmImpl::reset() {
  TORCH_CHECK(config_.vocabulary_size >= 1 && config_.width >= 1 && config_.layers >= 1,
              "LstmLm needs vocabulary_size, width and layers >= 1, got ",
              config_.vocabulary_size, ", ", config_.width, ", ", config_.layers);
  TORCH_CHECK(config_.dropout >= 0 && config_.dropout < 1, "LstmLm needs dropout in [0, 1), got ",
              config_.dropout);
  embedding_ = register_module(
      "embedding", torch::nn::Embedding(config_.vocabulary_size, config_.width));
  lstm_ = register_module(
      "lstm", torch::nn::LSTM(torch::nn::LSTMOptions(config_.width, config_.width)
                                  .num_layers(config_.layers)
                                  .dropout(config_.layers > 1 ? config_.dropout : 0.0)));
  torch::NoGradGuard no_grad;
  embedding_->weight.uniform_(-kInitRange, kInitRange);
  if (config_.tied) {
    tied_decoder_ = register_module("decoder", TiedDecoder(config_.vocabulary_size));
  } else {
    decoder_ = register_module("decoder",
                               torch::nn::Linear(config_.width, config_.vocabulary_size));
    decoder_->weight.uniform_(-kInitRange, kInitRange);
    decoder_->bias.zero_();
  }
  carried_ = State();
}

void LstmLmImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::LstmLm(vocabulary_size=" << config_.vocabulary_size
         << ", width=" << config_.width << ", layers=" << config_.layers
         << ", dropout=" << config_.dropout << ", tied=" << (config_.tied ? "true" : "false")
         << ")";
}

at::Tensor LstmLmImpl::forward(const at::Tensor& tokens) {
  State start;
  if (std::get<0>(carried_).defined() && tokens.dim() == 2 &&
      std::get<0>(carried_).size(1) == tokens.size(1)) {
    start = carried_;
  }
  auto [logits, end] = forward(tokens, start);
  carried_ = {std::get<0>(end).detach(), std::get<1>(end).detach()};
  return logits;
}

std::tuple<at::Tensor, LstmLmImpl::State> LstmLmImpl::forward(const at::Tensor& tokens,
                                                               const State& state) {
  CheckTokens("LstmLm", tokens, config_.vocabulary_size);
  namespace F = torch::nn::functional;
  const auto dropout = F::DropoutFuncOptions().p(config_.dropout).training(is_training());
  at::Tensor x = F::dropout(embedding_->forward(tokens), dropout);
  std::tuple<at::Tensor, State> output;
  if (std::get<0>(state).defined()) {
    output = lstm_->forward(x, state);
  } else {
    output = lstm_->forward(x);
  }
  at::Tensor hidden = F::dropout(std::get<0>(output), dropout).flatten(0, 1);
  at::Tensor logits = config_.tied ? tied_decoder_->forward(hidden, embedding_->weight)
                                   : decoder_->forward(hidden);
  return {logits, std::get<1>(output)};
}

}  // namespace mc::nn_models
