#include "quant/testutil.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/utils.h>

#include <string>
#include <utility>
#include <vector>

#include "common/status_matchers.h"

#include "common/units.h"

namespace mc::quant::testing {

void SeededQuantizerTest::SetUp() { at::manual_seed(1234); }

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

std::shared_ptr<torch::nn::Module> TiedLinears() {
  // Registers tensors under the names of a Linear.
  struct Holder : torch::nn::Module {
    Holder(const at::Tensor& weight, const at::Tensor& bias) {
      register_parameter("weight", weight);
      register_parameter("bias", bias);
    }
  };
  auto model = std::make_shared<torch::nn::Module>();
  torch::nn::Linear first(16, 16);
  model->register_module("first", first);
  model->register_module("second", std::make_shared<Holder>(first->weight, first->bias));
  return model;
}

std::shared_ptr<torch::nn::Module> ResNet20Shapes(int64_t classes) {
  auto model = std::make_shared<torch::nn::Module>();
  int64_t next = 0;
  const auto add = [&](std::vector<int64_t> shape) {
    model->register_parameter("p" + std::to_string(next++), at::randn(shape));
  };
  const auto conv_bn = [&](int64_t in, int64_t out) {
    add({out, in, 3, 3});
    add({out});
    add({out});
  };
  conv_bn(3, 16);
  int64_t in = 16;
  for (const int64_t width : {16, 32, 64}) {
    for (int block = 0; block < 3; ++block) {
      conv_bn(in, width);
      conv_bn(width, width);
      in = width;
    }
  }
  add({classes, 64});
  add({classes});
  return model;
}

at::Tensor SmallModelForward(const std::shared_ptr<torch::nn::Module>& model, const at::Tensor& x) {
  return std::dynamic_pointer_cast<torch::nn::SequentialImpl>(model)->forward(x);
}

std::shared_ptr<torch::nn::Module> ZeroedCopy(const std::shared_ptr<torch::nn::Module>& model) {
  std::shared_ptr<torch::nn::Module> copy = model->clone();
  torch::NoGradGuard no_grad;
  for (at::Tensor& param : copy->parameters()) param.zero_();
  return copy;
}

std::vector<at::Tensor> ParameterCopies(const std::shared_ptr<torch::nn::Module>& model) {
  std::vector<at::Tensor> copies;
  for (const at::Tensor& param : model->parameters()) copies.push_back(param.detach().clone());
  return copies;
}

bool ParametersEqual(const std::shared_ptr<torch::nn::Module>& model,
                     const std::vector<at::Tensor>& values) {
  const std::vector<at::Tensor> params = model->parameters();
  if (params.size() != values.size()) return false;
  for (size_t i = 0; i < params.size(); ++i) {
    if (!at::equal(params[i], values[i])) return false;
  }
  return true;
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
    ASSERT_THAT(restorer->restore_quantized_state(state), IsOk());
    const std::vector<at::Tensor> restored = zeroed->parameters();
    ASSERT_EQ(restored.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(at::equal(restored[i], expected[i])) << "parameter " << i;
    }
  }
}

void ExpectSaveRestoreReferenceCases(const QuantizerFactory& factory) {
  for (const auto& [min_size, float16] :
       std::vector<std::pair<double, bool>>{{0, false}, {0.1, false}, {0.1, true}}) {
    SCOPED_TRACE(::testing::Message() << "min_size " << min_size << ", float16 " << float16);
    ExpectSaveRestore(factory, min_size, float16);
  }
}

void ExpectConsistentSizes(const QuantizerFactory& factory, double min_size, bool float16) {
  for (const auto& make : {BigModel, SmallBigModel}) {
    std::unique_ptr<BaseQuantizer> quantizer = factory(make(), min_size, float16);
    const double estimate = quantizer->model_size().item<double>();
    const double true_size = quantizer->true_model_size();
    const double packed =
        static_cast<double>(quantizer->get_quantized_state().ByteSizeLong()) / kBytesPerMb;
    const double compressed = quantizer->compressed_model_size(/*level=*/2);
    EXPECT_LE(compressed, 1.5 * true_size);
    EXPECT_LE(compressed, 1.5 * estimate);
    EXPECT_LE(estimate, 1.5 * true_size);
    EXPECT_LE(true_size, 1.5 * estimate);
    EXPECT_LE(true_size, 1.1 * packed);
    EXPECT_LE(packed, 1.1 * true_size);
  }
}

void ExpectConsistentSizesAtReferenceWidths(const FixedWidthQuantizerFactory& factory) {
  for (const double bits : {15, 8, 5}) {
    for (const double min_size : {0.0, 0.5}) {
      for (const bool float16 : {false, true}) {
        SCOPED_TRACE(::testing::Message()
                     << "bits " << bits << ", min_size " << min_size << ", float16 " << float16);
        ExpectConsistentSizes(
            [&](std::shared_ptr<torch::nn::Module> model, double min_size, bool float16) {
              return factory(std::move(model), bits, min_size, float16);
            },
            min_size, float16);
      }
    }
  }
}

void ExpectFloat16Rounding(const QuantizerFactory& factory) {
  std::shared_ptr<torch::nn::Module> model = SmallBigModel();
  const std::vector<at::Tensor> reference = ParameterCopies(model);
  std::unique_ptr<BaseQuantizer> quantizer = factory(model, 100000, true);
  EXPECT_TRUE(quantizer->quantized_params().empty());
  quantizer->quantize();
  const std::vector<at::Tensor> params = model->parameters();
  ASSERT_EQ(params.size(), reference.size());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(at::equal(params[i], reference[i].to(at::kHalf).to(at::kFloat)))
        << "parameter " << i;
  }
}

void ExpectTiedCountedOnce(const std::function<std::unique_ptr<BaseQuantizer>(
                               std::shared_ptr<torch::nn::Module>, bool detect_bound)>& factory) {
  std::unique_ptr<BaseQuantizer> single = factory(torch::nn::Linear(16, 16).ptr(), true);
  std::unique_ptr<BaseQuantizer> detected = factory(TiedLinears(), true);
  std::unique_ptr<BaseQuantizer> separate = factory(TiedLinears(), false);
  const double one = single->model_size().item<double>();
  ASSERT_GT(one, 0);
  EXPECT_DOUBLE_EQ(detected->model_size().item<double>(), one);
  EXPECT_DOUBLE_EQ(separate->model_size().item<double>(), 2 * one);
  EXPECT_DOUBLE_EQ(detected->true_model_size(), single->true_model_size());
  EXPECT_DOUBLE_EQ(separate->true_model_size(), 2 * single->true_model_size());
  EXPECT_EQ(detected->quantized_params().size(), 2u);
  EXPECT_EQ(separate->quantized_params().size(), 4u);
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
