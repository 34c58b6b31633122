#include "runtime/lstm_language_model.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model_io/decoder.h"
#include "runtime/weight_loading.h"

namespace mc::runtime {
namespace {

using serialization::CompressedTensor;

using TensorsByName = std::map<std::string, const CompressedTensor*>;

absl::StatusOr<const CompressedTensor*> Find(const TensorsByName& tensors, const std::string& name) {
  const auto found = tensors.find(name);
  if (found == tensors.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("an LSTM language model needs the tensor \"", name, "\""));
  }
  return found->second;
}

absl::StatusOr<WeightMatrix> LoadMatrix(const TensorsByName& tensors, const std::string& name,
                                        int64_t rows, int64_t cols) {
  MC_ASSIGN_OR_RETURN(const CompressedTensor* stored, Find(tensors, name));
  MC_ASSIGN_OR_RETURN(WeightMatrix matrix, LoadWeightMatrix(*stored));
  if (matrix.rows() != rows || matrix.cols() != cols) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" is ", matrix.rows(), " x ",
                                                   matrix.cols(), ", expected ", rows, " x ", cols));
  }
  return matrix;
}

absl::StatusOr<std::vector<float>> LoadVector(const TensorsByName& tensors, const std::string& name,
                                              int64_t size) {
  MC_ASSIGN_OR_RETURN(const CompressedTensor* stored, Find(tensors, name));
  MC_ASSIGN_OR_RETURN(const at::Tensor values, model_io::DecodeTensor(*stored));
  if (values.dim() != 1 || values.size(0) != size) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" has ", values.numel(),
                                                   " values in ", values.dim(),
                                                   " dimensions, expected ", size));
  }
  const at::Tensor contiguous = values.to(at::kFloat).contiguous();
  return std::vector<float>(contiguous.data_ptr<float>(), contiguous.data_ptr<float>() + size);
}

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

RuntimeLstmLm::RuntimeLstmLm(WeightMatrix embedding, std::optional<WeightMatrix> decoder,
                             std::vector<float> decoder_bias, std::vector<Layer> layers)
    : embedding_(std::move(embedding)),
      decoder_(std::move(decoder)),
      decoder_bias_(std::move(decoder_bias)),
      layers_(std::move(layers)) {}

absl::StatusOr<RuntimeLstmLm> RuntimeLstmLm::Load(const serialization::CompressedModel& stored) {
  TensorsByName tensors;
  for (const CompressedTensor& tensor : stored.tensors()) tensors[tensor.name()] = &tensor;
  MC_ASSIGN_OR_RETURN(const CompressedTensor* embedding_tensor, Find(tensors, "embedding.weight"));
  MC_ASSIGN_OR_RETURN(WeightMatrix embedding, LoadWeightMatrix(*embedding_tensor));
  const int64_t vocabulary = embedding.rows();
  const int64_t width = embedding.cols();
  std::vector<Layer> layers;
  for (int64_t k = 0; tensors.count(absl::StrCat("lstm.weight_ih_l", k)) > 0; ++k) {
    const std::string suffix = absl::StrCat("_l", k);
    MC_ASSIGN_OR_RETURN(WeightMatrix input,
                        LoadMatrix(tensors, "lstm.weight_ih" + suffix, 4 * width, width));
    MC_ASSIGN_OR_RETURN(WeightMatrix hidden,
                        LoadMatrix(tensors, "lstm.weight_hh" + suffix, 4 * width, width));
    MC_ASSIGN_OR_RETURN(std::vector<float> bias, LoadVector(tensors, "lstm.bias_ih" + suffix, 4 * width));
    MC_ASSIGN_OR_RETURN(const std::vector<float> hidden_bias,
                        LoadVector(tensors, "lstm.bias_hh" + suffix, 4 * width));
    for (size_t i = 0; i < bias.size(); ++i) bias[i] += hidden_bias[i];
    layers.push_back({std::move(input), std::move(hidden), std::move(bias)});
  }
  if (layers.empty()) return Find(tensors, "lstm.weight_ih_l0").status();
  std::optional<WeightMatrix> decoder;
  if (tensors.count("decoder.weight") > 0) {
    MC_ASSIGN_OR_RETURN(decoder, LoadMatrix(tensors, "decoder.weight", vocabulary, width));
  }
  MC_ASSIGN_OR_RETURN(std::vector<float> decoder_bias,
                      LoadVector(tensors, "decoder.bias", vocabulary));
  return RuntimeLstmLm(std::move(embedding), std::move(decoder), std::move(decoder_bias),
                       std::move(layers));
}

size_t RuntimeLstmLm::WeightBytes() const {
  size_t bytes = embedding_.ResidentBytes() + decoder_bias_.size() * sizeof(float);
  if (decoder_) bytes += decoder_->ResidentBytes();
  for (const Layer& layer : layers_) {
    bytes += layer.input.ResidentBytes() + layer.hidden.ResidentBytes() +
             layer.bias.size() * sizeof(float);
  }
  return bytes;
}

RuntimeLstmLm::State RuntimeLstmLm::InitialState() const {
  const size_t values = static_cast<size_t>(layers() * width());
  return {std::vector<float>(values, 0.0f), std::vector<float>(values, 0.0f)};
}

void RuntimeLstmLm::Step(int64_t token, State& state, float* logits,
                         Activations activations) const {
  const int64_t width = this->width();
  // Scratch reused across steps: generation calls Step once per token.
  thread_local std::vector<float> x;
  thread_local std::vector<float> from_input;
  thread_local std::vector<float> from_hidden;
  x.resize(width);
  from_input.resize(4 * width);
  from_hidden.resize(4 * width);
  embedding_.DecodeRows(token, token + 1, x.data());
  for (size_t k = 0; k < layers_.size(); ++k) {
    const Layer& layer = layers_[k];
    float* hidden = state.hidden.data() + k * width;
    float* cell = state.cell.data() + k * width;
    layer.input.Multiply(x.data(), 1, from_input.data(), activations);
    layer.hidden.Multiply(hidden, 1, from_hidden.data(), activations);
    // Gates in LibTorch's order: input, forget, cell candidate, output.
    for (int64_t j = 0; j < width; ++j) {
      const auto gate = [&](int64_t g) {
        return from_input[g * width + j] + from_hidden[g * width + j] + layer.bias[g * width + j];
      };
      cell[j] = Sigmoid(gate(1)) * cell[j] + Sigmoid(gate(0)) * std::tanh(gate(2));
      hidden[j] = Sigmoid(gate(3)) * std::tanh(cell[j]);
    }
    x.assign(hidden, hidden + width);
  }
  (decoder_ ? *decoder_ : embedding_).Multiply(x.data(), 1, logits, activations);
  for (int64_t v = 0; v < vocabulary_size(); ++v) logits[v] += decoder_bias_[v];
}

}  // namespace mc::runtime
