#include "quant/testutil.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/rnn.h>
#include <torch/utils.h>

namespace mc::quant::testing {

std::shared_ptr<torch::nn::Module> SmallModel() {
  torch::nn::Sequential model(
      torch::nn::Conv1d(torch::nn::Conv1dOptions(4, 4, 8).bias(false)), torch::nn::ReLU(),
      torch::nn::Conv1d(torch::nn::Conv1dOptions(4, 4, 1).bias(false)));
  return model.ptr();
}

std::shared_ptr<torch::nn::Module> BigModel() {
  return torch::nn::LSTM(torch::nn::LSTMOptions(256, 256).num_layers(2)).ptr();
}

std::shared_ptr<torch::nn::Module> SmallBigModel() {
  torch::nn::ModuleList list;
  list->push_back(SmallModel());
  list->push_back(BigModel());
  return list.ptr();
}

std::shared_ptr<torch::nn::Module> ZeroedCopy(const std::shared_ptr<torch::nn::Module>& model) {
  std::shared_ptr<torch::nn::Module> copy = model->clone();
  torch::NoGradGuard no_grad;
  for (at::Tensor& param : copy->parameters()) param.zero_();
  return copy;
}

void ExpectSaveRestore(const QuantizerFactory& factory, double min_size, bool float16) {
  for (const auto& make : {SmallModel, BigModel, SmallBigModel}) {
    std::shared_ptr<torch::nn::Module> model = make();
    std::shared_ptr<torch::nn::Module> zeroed = ZeroedCopy(model);
    std::unique_ptr<BaseQuantizer> quantizer = factory(model, min_size, float16);
    quantizer->quantize();
    const serialization::CompressedModel state = quantizer->get_quantized_state();
    std::vector<at::Tensor> expected;
    for (const at::Tensor& param : model->parameters()) {
      expected.push_back(param.detach().clone());
      ASSERT_FALSE(at::equal(param, at::zeros_like(param)));
    }
    std::unique_ptr<BaseQuantizer> restorer = factory(zeroed, min_size, float16);
    const absl::Status status = restorer->restore_quantized_state(state);
    ASSERT_TRUE(status.ok()) << status;
    const std::vector<at::Tensor> restored = zeroed->parameters();
    ASSERT_EQ(restored.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(at::equal(restored[i], expected[i])) << "parameter " << i;
    }
  }
}

void ExpectConsistentSizes(const QuantizerFactory& factory, double min_size, bool float16) {
  for (const auto& make : {BigModel, SmallBigModel}) {
    std::unique_ptr<BaseQuantizer> quantizer = factory(make(), min_size, float16);
    const double estimate = quantizer->model_size().item<double>();
    const double true_size = quantizer->true_model_size();
    const double packed =
        static_cast<double>(quantizer->get_quantized_state().ByteSizeLong()) / (1 << 20);
    const double compressed = quantizer->compressed_model_size(/*level=*/2);
    EXPECT_LE(compressed, 1.5 * true_size);
    EXPECT_LE(compressed, 1.5 * estimate);
    EXPECT_LE(estimate, 1.5 * true_size);
    EXPECT_LE(true_size, 1.5 * estimate);
    EXPECT_LE(true_size, 1.1 * packed);
    EXPECT_LE(packed, 1.1 * true_size);
  }
}

void ExpectExclusion(const std::function<std::unique_ptr<BaseQuantizer>(
                         std::shared_ptr<torch::nn::Module>, std::vector<std::string>)>& factory) {
  EXPECT_EQ(factory(torch::nn::Conv1d(3, 64, 4).ptr(), {"bias"})->quantized_params().size(), 1u);
  EXPECT_EQ(factory(torch::nn::Conv1d(3, 64, 4).ptr(), {"bias", "weight"})->quantized_params().size(),
            0u);
  torch::nn::Sequential six;
  for (int i = 0; i < 6; ++i) six->push_back(torch::nn::Conv1d(32, 32, 4));
  EXPECT_EQ(factory(six.ptr(), {"[024].*"})->quantized_params().size(), 6u);
}

}  // namespace mc::quant::testing
