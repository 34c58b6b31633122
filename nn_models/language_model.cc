#include "nn_models/language_model.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace mc::nn_models {

void LanguageModel::train(bool on) {
  if (on != is_training()) ResetState();
  torch::nn::Module::train(on);
}

ForwardGraphBuilder::Value LanguageModel::DescribeForward(ForwardGraphBuilder&) const {
  TORCH_CHECK(false, "the compressed runtime's graphs describe image classifiers; ", name(),
              " is a language model");
}

void CheckTokens(const char* model, const at::Tensor& tokens, int64_t vocabulary_size) {
  TORCH_CHECK(tokens.dim() == 2 && tokens.size(0) > 0 && tokens.size(1) > 0 &&
                  tokens.scalar_type() == at::kLong,
              model, " expects (T, B) int64 token ids, got ", tokens.sizes(), " ",
              tokens.scalar_type());
  const int64_t low = tokens.min().item<int64_t>();
  const int64_t high = tokens.max().item<int64_t>();
  TORCH_CHECK(low >= 0 && high < vocabulary_size, model, " has a vocabulary of ",
              vocabulary_size, " tokens; got ids from ", low, " to ", high);
}

TiedDecoderImpl::TiedDecoderImpl(int64_t vocabulary_size) : vocabulary_size_(vocabulary_size) {
  reset();
}

void TiedDecoderImpl::reset() {
  bias = register_parameter("bias", at::zeros({vocabulary_size_}));
}

at::Tensor TiedDecoderImpl::forward(const at::Tensor& x, const at::Tensor& embedding) {
  return at::linear(x, embedding, bias);
}

}  // namespace mc::nn_models
