// Multiplies by a DiffQ-quantized weight kept in its stored encoding, through
// @model_compression//runtime:weight_loading, and checks it against the decoded weight.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include "common/status_matchers.h"
#include "quant/diffq.h"
#include "runtime/weight_loading.h"
#include "runtime/weight_matrix.h"

namespace {

using ::mc::runtime::Activations;

TEST(RuntimeConsumerTest, MultipliesByTheStoredEncoding) {
  torch::manual_seed(0);
  torch::nn::Linear model(96, 40);
  mc::quant::DiffQuantizer quantizer(
      model.ptr(), mc::quant::DiffQuantizerOptions().group_size(16).min_size(0).exclude({"bias"}));
  quantizer.no_optimizer();
  const mc::serialization::CompressedModel state = quantizer.get_quantized_state();
  quantizer.quantize();  // the model's weight now holds the decoded values

  const mc::serialization::CompressedTensor* stored = nullptr;
  for (const auto& tensor : state.tensors()) {
    if (tensor.name() == "weight") stored = &tensor;
  }
  ASSERT_NE(stored, nullptr);
  ASSERT_TRUE(stored->has_uniform());
  auto weight = mc::runtime::LoadWeightMatrix(*stored);
  ASSERT_THAT(weight.status(), mc::IsOk());
  EXPECT_LT(weight->ResidentBytes(), 96u * 40u * sizeof(float));

  const at::Tensor x = at::randn({3, 96});
  at::Tensor y = at::empty({3, 40});
  weight->Multiply(x.data_ptr<float>(), 3, y.data_ptr<float>(), Activations::kFloat);
  const at::Tensor expected = at::matmul(x, model->weight.detach().t());
  EXPECT_LE((y - expected).abs().max().item<double>(), 1e-4 * expected.abs().max().item<double>());
}

}  // namespace
