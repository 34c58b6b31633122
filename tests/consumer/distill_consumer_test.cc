// Trains a quantized student from a teacher with @model_compression//distill:quantized_distillation.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/sgd.h>

#include <cmath>

#include "distill/quantized_distillation.h"
#include "nn_models/registry.h"

namespace {

// Tests that a few quantized-distillation steps change the student's full-precision weights
// and that its final quantized weights take at most 2^bits values per bucket.
TEST(DistillConsumerTest, TrainsAQuantizedStudent) {
  const auto options = mc::nn_models::ModelOptions().in_channels(1).num_classes(10).image_size(28);
  auto teacher = mc::nn_models::CreateModel("lenet", options).value();
  auto student = mc::nn_models::CreateModel("lenet", options).value();
  mc::distill::QuantizedDistillation trainer(
      student, teacher, mc::distill::QuantizedDistillationOptions().bits(2).bucket_size(64));
  torch::optim::SGD optimizer(student->parameters(), torch::optim::SGDOptions(0.01));
  const at::Tensor before = student->named_parameters()["fc1.weight"].detach().clone();
  const at::Tensor images = at::randn({16, 1, 28, 28});
  const at::Tensor labels = at::randint(10, {16}, at::kLong);
  for (int step = 0; step < 3; ++step) {
    EXPECT_TRUE(std::isfinite(trainer.Step(images, labels).loss.item<double>()));
    optimizer.step();
  }
  EXPECT_FALSE(student->named_parameters()["fc1.weight"].equal(before));
  trainer.quantizer().quantize();
  const at::Tensor bucket = student->named_parameters()["fc1.weight"].detach().reshape({-1}).narrow(0, 0, 64);
  EXPECT_LE(std::get<0>(at::_unique(bucket)).numel(), 4);
}

}  // namespace
