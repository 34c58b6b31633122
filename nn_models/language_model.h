// File: language_model.h
// What the zoo's language models share. A language model is a Classifier over its vocabulary:
// forward(tokens) maps a window of token ids, time-major (T, B) int64 (B parallel streams, as
// data/token_batches.h cuts them), to the logits of the next token at every position,
// (T * B, vocabulary_size) float32 with row t * B + b. The methods that train and compress
// image classifiers therefore train and compress language models unchanged: the loss is the
// cross-entropy against the (T, B) targets flattened the same way, and exp of its mean is the
// perplexity.
//
// Recurrent models carry their hidden state from one forward to the next, detached from the
// graph: consecutive windows of the same streams then train by truncated back-propagation
// through time and are scored with the context of everything before them. ResetState() drops
// the state; so does switching between training and evaluation mode, so that an evaluation
// pass and the training epoch after it each start from a zero state.
//
// Example:
//   model->ResetState();
//   for (const TokenWindow& window : FixedWindows(streams.length(), bptt)) {
//     streams.Window(window, &inputs, &targets);
//     at::Tensor logits = model->forward(inputs);             // (T * B, V)
//     loss = cross_entropy(logits, targets.flatten());
//   }
#ifndef MC_NN_MODELS_LANGUAGE_MODEL_H_
#define MC_NN_MODELS_LANGUAGE_MODEL_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "nn_models/classifier.h"

namespace mc::nn_models {

/// Base of the zoo's language models; see the file comment.
class LanguageModel : public Classifier {
 public:
  /// Number of token ids, which is also the number of logits per position.
  virtual int64_t vocabulary_size() const = 0;

  /// Switches mode like Module::train, resetting the carried state when the mode changes.
  void train(bool on = true) override;

  /// Language models have no description for the compressed runtime's image graphs.
  /// Throws c10::Error naming the model.
  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder) const override;
};

/// Checks that `tokens` is a (T, B) int64 window with T, B >= 1 and every id in
/// [0, vocabulary_size); `model` names the caller in the error. Throws c10::Error otherwise.
void CheckTokens(const char* model, const at::Tensor& tokens, int64_t vocabulary_size);

/// The output layer of a model whose output embedding is its input embedding (Press & Wolf
/// 2017): logits = x W^T + bias with W the input embedding's (vocabulary, width) weight. It
/// holds only the bias, so the shared matrix is a single parameter that is trained, quantized
/// and stored once.
class TiedDecoderImpl : public torch::nn::Cloneable<TiedDecoderImpl> {
 public:
  explicit TiedDecoderImpl(int64_t vocabulary_size);
  void reset() override;
  /// x: (..., width); embedding: (vocabulary, width). Returns (..., vocabulary).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& embedding);

  at::Tensor bias;

 private:
  int64_t vocabulary_size_;
};
TORCH_MODULE(TiedDecoder);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_LANGUAGE_MODEL_H_
