#include "nn_models/transformer_lm.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/nn/functional/dropout.h>
#include <torch/utils.h>

#include <cmath>
#include <limits>

namespace mc::nn_models {
namespace {

namespace F = torch::nn::functional;

// Fixed position encodings of Vaswani et al.: sin and cos of position / 10000^(2i / width).
at::Tensor Sinusoids(int64_t length, int64_t width) {
  const at::Tensor positions = at::arange(length, at::kFloat).unsqueeze(1);
  const at::Tensor frequencies =
      at::exp(at::arange(0, width, 2, at::kFloat) * (-std::log(10000.0) / width));
  at::Tensor table = at::zeros({length, width});
  const at::Tensor angles = positions * frequencies;
  table.slice(1, 0, width, 2).copy_(at::sin(angles));
  table.slice(1, 1, width, 2).copy_(at::cos(angles).slice(1, 0, width / 2));
  return table;
}

}  // namespace

TransformerLmConfig TransformerLmSmall(int64_t vocabulary_size) {
  TransformerLmConfig config;
  config.vocabulary_size = vocabulary_size;
  return config;
}

TransformerLmConfig TransformerLm16(int64_t vocabulary_size) {
  TransformerLmConfig config;
  config.vocabulary_size = vocabulary_size;
  config.width = 1024;
  config.layers = 16;
  config.heads = 8;
  config.feed_forward_width = 4096;
  config.max_length = 3072;
  config.learned_positions = false;
  return config;
}

TransformerBlockImpl::TransformerBlockImpl(const TransformerLmConfig& config) : config_(config) {
  reset();
}

void TransformerBlockImpl::reset() {
  const int64_t width = config_.width;
  attention_norm_ = register_module("attention_norm",
                                    torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  attention_in_ = register_module("attention_in", torch::nn::Linear(width, 3 * width));
  attention_out_ = register_module("attention_out", torch::nn::Linear(width, width));
  feed_forward_norm_ = register_module(
      "feed_forward_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  feed_forward_in_ =
      register_module("feed_forward_in", torch::nn::Linear(width, config_.feed_forward_width));
  feed_forward_out_ =
      register_module("feed_forward_out", torch::nn::Linear(config_.feed_forward_width, width));
}

at::Tensor TransformerBlockImpl::Attention(const at::Tensor& x, const at::Tensor& causal_mask) {
  const int64_t length = x.size(0);
  const int64_t batch = x.size(1);
  const int64_t heads = config_.heads;
  const int64_t head_width = config_.width / heads;
  // (T, B, 3 * width) -> queries, keys and values, each (B * heads, T, head_width).
  const at::Tensor qkv = attention_in_->forward(x)
                             .view({length, batch, 3, heads, head_width})
                             .permute({2, 1, 3, 0, 4})
                             .reshape({3, batch * heads, length, head_width});
  const at::Tensor scores = at::baddbmm(causal_mask, qkv[0], qkv[1].transpose(1, 2),
                                        /*beta=*/1.0, /*alpha=*/1.0 / std::sqrt(head_width));
  const at::Tensor weights = F::dropout(
      at::softmax(scores, -1), F::DropoutFuncOptions().p(config_.dropout).training(is_training()));
  const at::Tensor mixed = at::bmm(weights, qkv[2])
                               .view({batch, heads, length, head_width})
                               .permute({2, 0, 1, 3})
                               .reshape({length, batch, config_.width});
  return attention_out_->forward(mixed);
}

at::Tensor TransformerBlockImpl::forward(const at::Tensor& x, const at::Tensor& causal_mask) {
  const auto dropout = F::DropoutFuncOptions().p(config_.dropout).training(is_training());
  at::Tensor y = x + F::dropout(Attention(attention_norm_->forward(x), causal_mask), dropout);
  at::Tensor hidden = at::gelu(feed_forward_in_->forward(feed_forward_norm_->forward(y)));
  return y + F::dropout(feed_forward_out_->forward(hidden), dropout);
}

TransformerLmImpl::TransformerLmImpl(const TransformerLmConfig& config) : config_(config) {
  reset();
}

void TransformerLmImpl::reset() {
  TORCH_CHECK(config_.vocabulary_size >= 1 && config_.width >= 1 && config_.layers >= 1 &&
                  config_.heads >= 1 && config_.feed_forward_width >= 1 && config_.max_length >= 1,
              "TransformerLm needs every size >= 1");
  TORCH_CHECK(config_.width % config_.heads == 0, "TransformerLm needs width (", config_.width,
              ") to be a multiple of heads (", config_.heads, ")");
  TORCH_CHECK(config_.dropout >= 0 && config_.dropout < 1,
              "TransformerLm needs dropout in [0, 1), got ", config_.dropout);
  const double init_std = 1.0 / std::sqrt(static_cast<double>(config_.width));
  embedding_ = register_module(
      "embedding", torch::nn::Embedding(config_.vocabulary_size, config_.width));
  torch::NoGradGuard no_grad;
  embedding_->weight.normal_(0, init_std);
  if (config_.learned_positions) {
    positions_ = register_module("positions",
                                 torch::nn::Embedding(config_.max_length, config_.width));
    positions_->weight.normal_(0, init_std);
  } else {
    sinusoids_ = register_buffer("sinusoids", Sinusoids(config_.max_length, config_.width));
  }
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.layers; ++i) layers_->push_back(TransformerBlock(config_));
  final_norm_ = register_module(
      "final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config_.width})));
  decoder_ = register_module("decoder", TiedDecoder(config_.vocabulary_size));
}

void TransformerLmImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::TransformerLm(vocabulary_size=" << config_.vocabulary_size
         << ", width=" << config_.width << ", layers=" << config_.layers
         << ", heads=" << config_.heads << ", feed_forward_width=" << config_.feed_forward_width
         << ", max_length=" << config_.max_length << ", dropout=" << config_.dropout
         << ", positions=" << (config_.learned_positions ? "learned" : "sinusoidal") << ")";
}

at::Tensor TransformerLmImpl::forward(const at::Tensor& tokens) {
  CheckTokens("TransformerLm", tokens, config_.vocabulary_size);
  const int64_t length = tokens.size(0);
  TORCH_CHECK(length <= config_.max_length, "TransformerLm covers windows of up to ",
              config_.max_length, " tokens, got ", length);
  // Learned positions are looked up as embeddings are, so that methods that tell tables
  // from matrices by their calls (vq/layer_inputs.h) see a table.
  const at::Tensor position_table =
      config_.learned_positions ? positions_->forward(at::arange(length, tokens.options()))
                                : sinusoids_.slice(0, 0, length);
  at::Tensor x = embedding_->forward(tokens) * std::sqrt(static_cast<double>(config_.width)) +
                 position_table.unsqueeze(1);
  x = F::dropout(x, F::DropoutFuncOptions().p(config_.dropout).training(is_training()));
  const at::Tensor causal_mask =
      at::full({length, length}, -std::numeric_limits<float>::infinity(), x.options()).triu(1);
  for (const auto& layer : *layers_) x = layer->as<TransformerBlock>()->forward(x, causal_mask);
  return decoder_->forward(final_norm_->forward(x).flatten(0, 1), embedding_->weight);
}

}  // namespace mc::nn_models
