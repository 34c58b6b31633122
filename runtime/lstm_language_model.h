// File: lstm_language_model.h
// An LSTM language model file (nn_models/lstm_lm.h) run one token at a time with its weights
// kept in their stored encodings: the embedding row of each token decoded on its own, the
// LSTM's input and hidden matrices and the decoder multiplied by the encodings' kernels
// (runtime/weight_matrix.h). Generating a token reads every weight once, so the speed is
// bounded by the bytes the weights occupy, which is where low-bit encodings pay.
// The architecture comes from the tensors: "embedding.weight" (vocabulary x width),
// "lstm.weight_ih_l<k>", "lstm.weight_hh_l<k>" (4 width x width, gates i, f, g, o as in
// LibTorch), "lstm.bias_ih_l<k>", "lstm.bias_hh_l<k>", "decoder.bias", and "decoder.weight"
// unless the decoder is tied to the embedding.
//
// Example:
//   MC_ASSIGN_OR_RETURN(RuntimeLstmLm model, RuntimeLstmLm::Load(stored));
//   RuntimeLstmLm::State state = model.InitialState();
//   std::vector<float> logits(model.vocabulary_size());
//   for (int64_t token : prompt) model.Step(token, state, logits.data(), Activations::kInt8);
#ifndef MC_RUNTIME_LSTM_LANGUAGE_MODEL_H_
#define MC_RUNTIME_LSTM_LANGUAGE_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/weight_matrix.h"
#include "serialization/compressed_model.pb.h"

namespace mc::runtime {

class RuntimeLstmLm {
 public:
  /// Hidden and cell values of every layer, layer-major (layers x width each).
  struct State {
    std::vector<float> hidden;
    std::vector<float> cell;
  };

  /// \error kInvalidArgument naming the missing or mis-shaped tensor; kDataLoss for a corrupt
  ///   one.
  static absl::StatusOr<RuntimeLstmLm> Load(const serialization::CompressedModel& stored);

  int64_t vocabulary_size() const { return embedding_.rows(); }
  int64_t width() const { return embedding_.cols(); }
  int64_t layers() const { return static_cast<int64_t>(layers_.size()); }
  /// Bytes the weights and biases occupy in memory.
  size_t WeightBytes() const;

  /// All zeros, as LibTorch's LSTM starts.
  State InitialState() const;
  /// Reads `token` (in [0, vocabulary_size)): advances `state` and writes the logits of the
  /// next token, vocabulary_size floats, to `logits`.
  void Step(int64_t token, State& state, float* logits, Activations activations) const;

 private:
  struct Layer {
    WeightMatrix input;       // 4 width x width
    WeightMatrix hidden;      // 4 width x width
    std::vector<float> bias;  // bias_ih + bias_hh, 4 width
  };

  RuntimeLstmLm(WeightMatrix embedding, std::optional<WeightMatrix> decoder,
                std::vector<float> decoder_bias, std::vector<Layer> layers);

  WeightMatrix embedding_;
  std::optional<WeightMatrix> decoder_;  // untied models only
  std::vector<float> decoder_bias_;
  std::vector<Layer> layers_;
};

}  // namespace mc::runtime

#endif  // MC_RUNTIME_LSTM_LANGUAGE_MODEL_H_
