// The MetaQuant loop and its STE baseline on small models: which weights are quantized, the
// first step, gradients reaching the meta network through the look-ahead, updates, and the
// stored 1-bit model.
#include "metaquant/trainer.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cmath>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "nn_models/registry.h"
#include "quant/uniform_codec.h"
#include "serialization/tensor_codec.h"

namespace mc::metaquant {
namespace {

std::shared_ptr<nn_models::Classifier> Lenet() {
  at::manual_seed(21);
  return nn_models::CreateModel("lenet", nn_models::ModelOptions().in_channels(1).num_classes(4).image_size(28))
      .value();
}

struct Batch {
  at::Tensor images = at::randn({16, 1, 28, 28});
  at::Tensor labels = at::randint(4, {16}, at::kLong);
};

// The values of every tensor of a stored model: uniform or passthrough encodings.
absl::StatusOr<std::map<std::string, at::Tensor>> StoredValues(
    const serialization::CompressedModel& state) {
  std::map<std::string, at::Tensor> values;
  for (const serialization::CompressedTensor& tensor : state.tensors()) {
    MC_ASSIGN_OR_RETURN(values[tensor.name()], tensor.has_uniform()
                                                   ? quant::DecodeUniform(tensor)
                                                   : serialization::DecodePassthrough(tensor));
  }
  return values;
}

bool AllNonZero(const std::vector<at::Tensor>& tensors) {
  for (const at::Tensor& t : tensors) {
    if (!t.grad().defined() || t.grad().abs().sum().item<double>() == 0) return false;
  }
  return true;
}

// Tests that ResNet-20's 22 convolution and linear weights (270,896 values, the reference's
// count) are the quantized ones.
TEST(MetaQuantTrainerTest, QuantizesConvolutionAndLinearWeights) {
  auto model = nn_models::CreateModel("resnet20", {}).value();
  const std::vector<std::string> names = QuantizedWeightNames(*model);
  ASSERT_EQ(names.size(), 22u);
  int64_t count = 0;
  auto parameters = model->named_parameters();
  for (const std::string& name : names) count += parameters[name].numel();
  EXPECT_EQ(count, 270896);
  EXPECT_EQ(names.front(), "conv1.weight");
  EXPECT_EQ(names.back(), "fc.weight");
}

// Tests the first step: a plain quantized forward and backward that changes no parameter,
// then a second step in which the meta network gets a non-zero gradient through the
// look-ahead forward and both the base weights and the meta network change.
TEST(MetaQuantTrainerTest, StepsTrainTheMetaNetworkAndTheWeights) {
  for (const auto& [forward, look_ahead, optimizer] :
       {std::tuple(ForwardQuantizer::kDorefa, LookAhead::kPaper, BaseOptimizer::kSgd),
        std::tuple(ForwardQuantizer::kBwn, LookAhead::kPaper, BaseOptimizer::kSgd),
        std::tuple(ForwardQuantizer::kDorefa, LookAhead::kPaper, BaseOptimizer::kAdam),
        std::tuple(ForwardQuantizer::kDorefa, LookAhead::kReleased, BaseOptimizer::kSgd),
        std::tuple(ForwardQuantizer::kBwn, LookAhead::kReleased, BaseOptimizer::kSgdMomentum)}) {
    auto model = Lenet();
    MetaQuantTrainer trainer(
        model, MetaQuantOptions().forward(forward).look_ahead(look_ahead).optimizer(optimizer).lr(0.01));
    const Batch batch;
    const at::Tensor weight = model->named_parameters()["conv1.weight"].detach().clone();
    std::vector<at::Tensor> meta_before;
    for (const at::Tensor& p : trainer.meta_net()->parameters()) meta_before.push_back(p.detach().clone());

    trainer.Step(batch.images, batch.labels);
    EXPECT_TRUE(model->named_parameters()["conv1.weight"].equal(weight));

    const MetaQuantTrainer::StepOutput second = trainer.Step(batch.images, batch.labels);
    EXPECT_TRUE(std::isfinite(second.loss.item<double>()));
    EXPECT_TRUE(AllNonZero(trainer.meta_net()->parameters()))
        << ForwardQuantizerName(forward) << " " << static_cast<int>(look_ahead) << " " << static_cast<int>(optimizer);
    EXPECT_FALSE(model->named_parameters()["conv1.weight"].equal(weight));
    const std::vector<at::Tensor> meta_after = trainer.meta_net()->parameters();
    for (size_t i = 0; i < meta_after.size(); ++i) EXPECT_FALSE(meta_after[i].equal(meta_before[i]));
  }
}

// Tests the STE baseline: its first step already updates W, by the optimizer's step on the
// straight-through gradient, and it has no meta network.
TEST(MetaQuantTrainerTest, SteBaselineUpdatesFromTheFirstStep) {
  auto model = Lenet();
  MetaQuantTrainer trainer(model, MetaQuantOptions().meta(std::nullopt).lr(0.01));
  EXPECT_EQ(trainer.meta_net(), nullptr);
  const at::Tensor weight = model->named_parameters()["fc3.weight"].detach().clone();
  const Batch batch;
  trainer.Step(batch.images, batch.labels);
  EXPECT_FALSE(model->named_parameters()["fc3.weight"].equal(weight));
}

// Tests that a run saved after two steps and loaded into a fresh model and trainer takes the
// same next step as the run that went on, for MetaQuant (LSTMFC's hidden states included) and
// for the STE baseline.
TEST(MetaQuantTrainerTest, SavedRunResumesExactly) {
  for (const std::optional<MetaNetType> meta : {std::optional<MetaNetType>(MetaNetType::kMultiFC),
                                                std::optional<MetaNetType>(MetaNetType::kLSTMFC),
                                                std::optional<MetaNetType>()}) {
    const MetaQuantOptions options =
        MetaQuantOptions().meta(meta).optimizer(BaseOptimizer::kSgdMomentum).lr(0.01);
    auto model = Lenet();
    MetaQuantTrainer trainer(model, options);
    const Batch batch;
    trainer.Step(batch.images, batch.labels);
    trainer.Step(batch.images, batch.labels);
    std::stringstream stream;
    {
      torch::serialize::OutputArchive archive;
      model->save(archive);
      trainer.Save(archive);
      archive.save_to(stream);
    }
    auto resumed_model = nn_models::CreateModel(
                             "lenet", nn_models::ModelOptions().in_channels(1).num_classes(4).image_size(28))
                             .value();
    MetaQuantTrainer resumed(resumed_model, options);
    {
      torch::serialize::InputArchive archive;
      archive.load_from(stream);
      resumed_model->load(archive);
      resumed.Load(archive);
    }
    const std::string label = meta ? MetaNetTypeName(*meta) : "ste";
    const double loss = trainer.Step(batch.images, batch.labels).loss.item<double>();
    EXPECT_EQ(resumed.Step(batch.images, batch.labels).loss.item<double>(), loss) << label;
    auto expected = model->named_parameters();
    for (const auto& item : resumed_model->named_parameters()) {
      EXPECT_TRUE(item.value().equal(expected[item.key()])) << item.key() << " " << label;
    }
  }
}

// Tests that a 1-bit BWN model written by the trainer restores to exactly ±α per layer, with
// α the mean absolute float weight.
TEST(MetaQuantTrainerTest, StoredBwnModelRestoresToPlusMinusAlpha) {
  auto model = Lenet();
  MetaQuantTrainer trainer(model, MetaQuantOptions().forward(ForwardQuantizer::kBwn).lr(0.01));
  const Batch batch;
  trainer.Step(batch.images, batch.labels);
  trainer.Step(batch.images, batch.labels);
  const serialization::CompressedModel state = trainer.GetQuantizedState();
  using TensorMap = std::map<std::string, at::Tensor>;
  MC_ASSERT_OK_AND_ASSIGN(TensorMap values, StoredValues(state));
  auto floats = model->named_parameters();
  for (const std::string& name : trainer.quantized_weights()) {
    const float alpha = floats[name].detach().abs().mean().item<float>();
    const at::Tensor unique = std::get<0>(at::_unique(values[name].detach()));
    ASSERT_EQ(unique.numel(), 2) << name;
    EXPECT_EQ(unique[0].item<float>(), -alpha) << name;
    EXPECT_EQ(unique[1].item<float>(), alpha) << name;
  }
  EXPECT_TRUE(values["fc1.bias"].equal(floats["fc1.bias"]));
  // Quantize() for evaluation writes the same values as the stored model.
  trainer.Quantize();
  for (const std::string& name : trainer.quantized_weights()) EXPECT_TRUE(floats[name].equal(values[name])) << name;
  trainer.Unquantize();
}

// Tests that the previewed direction is the step each base optimizer then takes with that
// gradient, before its first step (no state yet) and after two, and that previewing leaves
// the optimizer's state alone.
TEST(MetaQuantTrainerTest, PreviewIsTheOptimizersNextStep) {
  for (const BaseOptimizer optimizer : {BaseOptimizer::kSgd, BaseOptimizer::kSgdMomentum, BaseOptimizer::kAdam}) {
    auto model = Lenet();
    MetaQuantTrainer trainer(model, MetaQuantOptions().meta(std::nullopt).optimizer(optimizer).lr(0.01));
    at::Tensor weight = model->named_parameters()["fc3.weight"];
    for (int steps_before = 0; steps_before < 3; ++steps_before) {
      const at::Tensor grad = at::randn(weight.sizes());
      const at::Tensor preview = PreviewStepDirection(trainer.base_optimizer(), weight, grad);
      EXPECT_TRUE(PreviewStepDirection(trainer.base_optimizer(), weight, grad).equal(preview));
      const at::Tensor before = weight.detach().clone();
      trainer.base_optimizer().zero_grad();
      weight.mutable_grad() = grad.clone();
      trainer.base_optimizer().step();
      const at::Tensor taken = (before - weight.detach()) / 0.01;
      EXPECT_TRUE(at::allclose(preview, taken, 1e-4, 1e-5))
          << static_cast<int>(optimizer) << " after " << steps_before << " steps: max difference "
          << (preview - taken).abs().max().item<float>();
    }
  }
}

// Tests that a parameter the optimizer does not hold is refused.
TEST(MetaQuantTrainerTest, PreviewRefusesForeignParameters) {
  MetaQuantTrainer trainer(Lenet(), MetaQuantOptions().meta(std::nullopt));
  const at::Tensor foreign = at::zeros({3});
  EXPECT_THROW(PreviewStepDirection(trainer.base_optimizer(), foreign, foreign), c10::Error);
}

}  // namespace
}  // namespace mc::metaquant
