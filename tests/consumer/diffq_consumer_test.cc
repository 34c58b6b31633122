// Quantizes a model with @model_compression//quant:diffq and restores its state elsewhere.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include "common/status_matchers.h"
#include "quant/diffq.h"

namespace {

using ::mc::IsOk;

// Tests that a DiffQ state restores into another model to exactly the quantized weights.
TEST(DiffqConsumerTest, StateRoundTrip) {
  torch::nn::Linear model(64, 32);
  mc::quant::DiffQuantizer quantizer(
      model.ptr(), mc::quant::DiffQuantizerOptions().group_size(8).min_size(0).exclude({"bias"}));
  quantizer.no_optimizer();
  EXPECT_EQ(quantizer.quantized_params().size(), 1u);
  EXPECT_LT(quantizer.true_model_size(), 64 * 32 * 4.0 / (1 << 20));
  const mc::serialization::CompressedModel state = quantizer.get_quantized_state();
  quantizer.quantize();

  torch::nn::Linear other(64, 32);
  mc::quant::DiffQuantizer restorer(
      other.ptr(), mc::quant::DiffQuantizerOptions().group_size(8).min_size(0).exclude({"bias"}));
  ASSERT_THAT(restorer.restore_quantized_state(state), IsOk());
  EXPECT_TRUE(at::equal(other->weight, model->weight));
  EXPECT_TRUE(at::equal(other->bias, model->bias));
}

}  // namespace
