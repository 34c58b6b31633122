// File: transformer_lm.h
// A decoder-only Transformer language model (Vaswani et al. 2017, pre-norm as in GPT-2 and
// fairseq's transformer_lm): token embedding scaled by sqrt(width) plus learned or sinusoidal
// positions -> blocks of [x + attention(norm(x)), x + feed-forward(norm(x))] with causal
// multi-head self-attention -> final norm -> decoder tied to the embedding. Every window is
// read on its own (no state is carried, nn_models/language_model.h).
// The registry's transformer_lm_small trains on a Penn-Treebank-sized corpus in minutes on
// two cores; transformer_lm_16 is the 16-layer model of the DiffQ paper's WikiText-103 runs
// (fairseq's transformer_lm_gbw: width 1024, 8 heads, feed-forward 4096, windows of 3072,
// sinusoidal positions; without its adaptive input and softmax).
//
// Example:
//   TransformerLm model(TransformerLmSmall(/*vocabulary_size=*/10'000));
//   at::Tensor logits = model->forward(tokens);   // (64, 16) int64 -> (1024, 10000)
#ifndef MC_NN_MODELS_TRANSFORMER_LM_H_
#define MC_NN_MODELS_TRANSFORMER_LM_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <ostream>

#include "nn_models/language_model.h"

namespace mc::nn_models {

/// The architecture of a TransformerLm.
struct TransformerLmConfig {
  int64_t vocabulary_size = 0;
  int64_t width = 128;
  int64_t layers = 4;
  int64_t heads = 4;
  int64_t feed_forward_width = 512;
  /// Longest window the positions cover.
  int64_t max_length = 256;
  /// Dropout on the embeddings, the attention weights and each residual branch.
  double dropout = 0.1;
  /// Learned position embeddings ("positions" parameter); otherwise fixed sinusoids (a buffer).
  bool learned_positions = true;
};

/// 4 layers of width 128, 4 heads, feed-forward 512, windows up to 256, learned positions.
TransformerLmConfig TransformerLmSmall(int64_t vocabulary_size);
/// 16 layers of width 1024, 8 heads, feed-forward 4096, windows up to 3072, sinusoidal
/// positions.
TransformerLmConfig TransformerLm16(int64_t vocabulary_size);

/// One pre-norm block. Modules: attention_norm, attention_in (Linear width -> 3 width: the
/// queries, keys and values), attention_out, feed_forward_norm, feed_forward_in (GELU after it),
/// feed_forward_out.
class TransformerBlockImpl : public torch::nn::Cloneable<TransformerBlockImpl> {
 public:
  explicit TransformerBlockImpl(const TransformerLmConfig& config);
  void reset() override;
  /// x: (T, B, width); causal_mask: (T, T), -inf above the diagonal. Returns (T, B, width).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& causal_mask);

 private:
  at::Tensor Attention(const at::Tensor& x, const at::Tensor& causal_mask);

  TransformerLmConfig config_;
  torch::nn::LayerNorm attention_norm_{nullptr};
  torch::nn::Linear attention_in_{nullptr};
  torch::nn::Linear attention_out_{nullptr};
  torch::nn::LayerNorm feed_forward_norm_{nullptr};
  torch::nn::Linear feed_forward_in_{nullptr};
  torch::nn::Linear feed_forward_out_{nullptr};
};
TORCH_MODULE(TransformerBlock);

/// Modules: "embedding", "positions" (Embedding, when learned), "layers.<k>"
/// (TransformerBlock), "final_norm", "decoder" (TiedDecoder). Initialisation: embedding and
/// positions normal with std width^-1/2, linear layers LibTorch's default, decoder bias zero.
class TransformerLmImpl : public torch::nn::Cloneable<TransformerLmImpl>, public LanguageModel {
 public:
  /// Throws c10::Error if a size is < 1, width is not a multiple of heads, or dropout is
  /// outside [0, 1).
  explicit TransformerLmImpl(const TransformerLmConfig& config);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// tokens: (T, B) int64 with T <= max_length. Returns logits (T * B, vocabulary_size).
  at::Tensor forward(const at::Tensor& tokens) override;

  int64_t vocabulary_size() const override { return config_.vocabulary_size; }
  const TransformerLmConfig& config() const { return config_; }

 private:
  TransformerLmConfig config_;
  torch::nn::Embedding embedding_{nullptr};
  torch::nn::Embedding positions_{nullptr};
  at::Tensor sinusoids_;  // (max_length, width) buffer when positions are not learned
  torch::nn::ModuleList layers_{nullptr};
  torch::nn::LayerNorm final_norm_{nullptr};
  TiedDecoder decoder_{nullptr};
};
TORCH_MODULE(TransformerLm);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_TRANSFORMER_LM_H_
