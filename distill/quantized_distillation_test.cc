// Quantized distillation: which layers stay float, the straight-through step, and a toy
// problem on which the quantized student learns its teacher.
#include "distill/quantized_distillation.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/optim/sgd.h>

#include "distill/layer_selection.h"
#include "nn_models/registry.h"

namespace mc::distill {
namespace {

using ::testing::ElementsAre;

std::shared_ptr<nn_models::Classifier> Lenet(uint64_t seed) {
  at::manual_seed(seed);
  return nn_models::CreateModel("lenet", nn_models::ModelOptions().in_channels(1).num_classes(4).image_size(28))
      .value();
}

// Tests that the first and last layers are found by the real layers: ResNet-20's stem
// convolution and classifier, and the reference student's first convolution and output layer.
TEST(LayerSelectionTest, FirstAndLastLayers) {
  EXPECT_THAT(FirstAndLastLayerParameters(*nn_models::CreateModel("resnet20", {}).value()),
              ElementsAre("conv1.weight", "fc.weight", "fc.bias"));
  EXPECT_THAT(FirstAndLastLayerParameters(*nn_models::CreateModel("qd_student1", {}).value()),
              ElementsAre("convs.0.weight", "convs.0.bias", "output.weight", "output.bias"));
}

// Tests that every parameter is quantized by default and that the first and last layers'
// stay float when asked.
TEST(QuantizedDistillationTest, QuantizesAllButChosenLayers) {
  auto student = nn_models::CreateModel("resnet20", {}).value();
  const size_t all = student->parameters().size();
  EXPECT_EQ(AttachStudentQuantizer(student, {})->quantized_params().size(), all);
  auto other = nn_models::CreateModel("resnet20", {}).value();
  EXPECT_EQ(AttachStudentQuantizer(other, QuantizedDistillationOptions().quantize_first_last_layer(false))
                ->quantized_params()
                .size(),
            all - 3);
}

// Tests that quantize_vectors(false) keeps biases and BatchNorm's scales and shifts float and
// quantizes every weight of two or more dimensions.
TEST(QuantizedDistillationTest, KeepsVectorsFloatWhenAsked) {
  auto student = nn_models::CreateModel("resnet20", {}).value();
  const auto quantizer =
      AttachStudentQuantizer(student, QuantizedDistillationOptions().quantize_vectors(false));
  int64_t matrices = 0;
  for (const at::Tensor& parameter : student->parameters()) matrices += parameter.dim() >= 2;
  EXPECT_EQ(static_cast<int64_t>(quantizer->quantized_params().size()), matrices);
  for (const auto& param : quantizer->quantized_params()) {
    EXPECT_GE(param.param.dim(), 2) << param.name;
  }
  EXPECT_THAT(VectorParameters(*student), ::testing::Contains("bn1.weight"));
  EXPECT_THAT(VectorParameters(*student), ::testing::Contains("fc.bias"));
}

// Tests that distillation needs a teacher.
TEST(QuantizedDistillationTest, DistillationNeedsATeacher) {
  EXPECT_THROW(QuantizedDistillation(Lenet(1), nullptr, {}), c10::Error);
  EXPECT_NO_THROW(QuantizedDistillation(Lenet(1), nullptr, QuantizedDistillationOptions().distillation(false)));
}

// Tests one step: the logits are those of the quantized student, the full-precision weights
// are back afterwards and hold a gradient.
TEST(QuantizedDistillationTest, StepRunsOnQuantizedWeights) {
  auto student = Lenet(1);
  auto teacher = Lenet(2);
  const at::Tensor images = at::randn({8, 1, 28, 28});
  const at::Tensor labels = at::randint(4, {8}, at::kLong);
  const at::Tensor weight = student->named_parameters()["conv1.weight"].detach().clone();
  QuantizedDistillation trainer(student, teacher, QuantizedDistillationOptions().bits(2));
  const QuantizedDistillation::StepOutput output = trainer.Step(images, labels);
  EXPECT_TRUE(student->named_parameters()["conv1.weight"].equal(weight));
  EXPECT_TRUE(student->named_parameters()["conv1.weight"].grad().defined());
  trainer.quantizer().quantize();
  student->train();
  EXPECT_TRUE(student->forward(images).allclose(output.logits, 1e-5, 1e-5));
  EXPECT_TRUE(trainer.loss()(output.logits, images, labels).allclose(output.loss));
}

// Tests that on a toy problem the 4-bit student learns to agree with its teacher: the
// distillation loss of the quantized student falls.
TEST(QuantizedDistillationTest, StudentLearnsTheTeacher) {
  auto student = Lenet(3);
  auto teacher = Lenet(4);
  const at::Tensor images = at::randn({32, 1, 28, 28});
  const at::Tensor labels = at::randint(4, {32}, at::kLong);
  QuantizedDistillation trainer(student, teacher,
                                QuantizedDistillationOptions().bits(4).kd(KDLossOptions().soft_weight(1)));
  torch::optim::SGD optimizer(student->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  const double first = trainer.Step(images, labels).loss.item<double>();
  optimizer.step();
  double last = first;
  for (int step = 0; step < 40; ++step) {
    last = trainer.Step(images, labels).loss.item<double>();
    optimizer.step();
  }
  EXPECT_LT(last, 0.5 * first);
}

}  // namespace
}  // namespace mc::distill
