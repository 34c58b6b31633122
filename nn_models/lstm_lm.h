// File: lstm_lm.h
// A word-level LSTM language model (Zaremba et al. 2014; PyTorch's word_language_model):
// embedding -> dropout -> stacked LSTM (dropout between layers) -> dropout -> linear decoder,
// optionally tied to the embedding (Press & Wolf 2017). The registry's lstm_lm_small (2x200)
// and lstm_lm_medium (2x650) are Zaremba et al.'s small and medium configurations with tied
// embeddings. The hidden state is carried between forwards (nn_models/language_model.h).
//
// Example:
//   LstmLm model(LstmLmSmall(/*vocabulary_size=*/10'000));
//   at::Tensor logits = model->forward(tokens);   // (35, 20) int64 -> (700, 10000)
#ifndef MC_NN_MODELS_LSTM_LM_H_
#define MC_NN_MODELS_LSTM_LM_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <ostream>
#include <tuple>

#include "nn_models/language_model.h"

namespace mc::nn_models {

/// The architecture of an LstmLm.
struct LstmLmConfig {
  int64_t vocabulary_size = 0;
  /// Width of the embedding and of every LSTM layer.
  int64_t width = 200;
  int64_t layers = 2;
  /// Dropout on the embedding output, between LSTM layers and before the decoder.
  double dropout = 0.2;
  /// The decoder's weight is the embedding's.
  bool tied = true;
};

/// Zaremba et al.'s small model: 2 layers of 200, here with dropout 0.2 and tied embeddings.
LstmLmConfig LstmLmSmall(int64_t vocabulary_size);
/// Zaremba et al.'s medium model: 2 layers of 650, dropout 0.5, tied embeddings.
LstmLmConfig LstmLmMedium(int64_t vocabulary_size);

/// Modules: "embedding" (Embedding), "lstm" (LSTM: weight_ih_l<k>, weight_hh_l<k>,
/// bias_ih_l<k>, bias_hh_l<k>), "decoder" (TiedDecoder when tied, else Linear).
/// Initialisation: embedding and an untied decoder's weight uniform in [-0.1, 0.1], decoder
/// bias zero, LSTM weights LibTorch's default. Parameters of lstm_lm_small for 10,000 words:
/// 2,653,200.
class LstmLmImpl : public torch::nn::Cloneable<LstmLmImpl>, public LanguageModel {
 public:
  using State = std::tuple<at::Tensor, at::Tensor>;  ///< (h, c), each (layers, B, width)

  /// Throws c10::Error if a size is < 1 or dropout is outside [0, 1).
  explicit LstmLmImpl(const LstmLmConfig& config);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// tokens: (T, B) int64. Returns logits (T * B, vocabulary_size), starting from the state
  /// the previous forward left when it had the same B (zero otherwise).
  at::Tensor forward(const at::Tensor& tokens) override;
  /// The same from an explicit `state` (undefined tensors: zero); returns the logits and
  /// the state after the last position, attached to the graph.
  std::tuple<at::Tensor, State> forward(const at::Tensor& tokens, const State& state);

  int64_t vocabulary_size() const override { return config_.vocabulary_size; }
  void ResetState() override { carried_ = State(); }
  const LstmLmConfig& config() const { return config_; }

 private:
  LstmLmConfig config_;
  torch::nn::Embedding embedding_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::Linear decoder_{nullptr};
  TiedDecoder tied_decoder_{nullptr};
  State carried_;  // detached; see language_model.h
};
TORCH_MODULE(LstmLm);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_LSTM_LM_H_
