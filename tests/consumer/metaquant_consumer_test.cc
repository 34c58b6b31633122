// Trains a 1-bit model with @model_compression//metaquant:trainer and reads its quantized state.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "metaquant/trainer.h"
#include "nn_models/registry.h"

namespace {

// Tests that MetaQuant steps move both the base weights and the meta network, and that the
// quantized state stores every convolution and linear weight at 1 bit.
TEST(MetaQuantConsumerTest, TrainsAOneBitModel) {
  const auto options = mc::nn_models::ModelOptions().in_channels(1).num_classes(10).image_size(28);
  auto model = mc::nn_models::CreateModel("lenet", options).value();
  mc::metaquant::MetaQuantTrainer trainer(
      model, mc::metaquant::MetaQuantOptions().forward(mc::metaquant::ForwardQuantizer::kBwn).lr(0.01));
  const at::Tensor weight_before = model->named_parameters()["fc1.weight"].detach().clone();
  std::vector<at::Tensor> meta_before;
  for (const at::Tensor& p : trainer.meta_net()->parameters()) meta_before.push_back(p.detach().clone());

  const at::Tensor images = at::randn({16, 1, 28, 28});
  const at::Tensor labels = at::randint(10, {16}, at::kLong);
  for (int step = 0; step < 3; ++step) {
    EXPECT_TRUE(std::isfinite(trainer.Step(images, labels).loss.item<double>()));
  }
  EXPECT_FALSE(model->named_parameters()["fc1.weight"].equal(weight_before));
  bool meta_changed = false;
  const auto meta_after = trainer.meta_net()->parameters();
  for (size_t i = 0; i < meta_after.size(); ++i) meta_changed |= !meta_after[i].equal(meta_before[i]);
  EXPECT_TRUE(meta_changed);

  const std::set<std::string> quantized(trainer.quantized_weights().begin(), trainer.quantized_weights().end());
  const mc::serialization::CompressedModel state = trainer.GetQuantizedState();
  int one_bit_tensors = 0;
  for (const auto& tensor : state.tensors()) {
    if (quantized.count(tensor.name()) == 0) continue;
    ASSERT_TRUE(tensor.has_uniform()) << tensor.name();
    EXPECT_EQ(tensor.uniform().bits(), 1) << tensor.name();
    ++one_bit_tensors;
  }
  EXPECT_EQ(one_bit_tensors, static_cast<int>(quantized.size()));
  EXPECT_GE(one_bit_tensors, 3);
}

}  // namespace
