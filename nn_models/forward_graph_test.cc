// Replaying each model's DescribeForward with the model's own modules must give forward()'s
// logits: the descriptions other engines run are the models' real forward passes.
#include "nn_models/forward_graph.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include <memory>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "nn_models/classifier.h"
#include "nn_models/registry.h"

namespace mc::nn_models {
namespace {

// Runs a description with the modules of `model`.
class ModuleReplay : public ForwardGraphBuilder {
 public:
  ModuleReplay(torch::nn::Module& model, at::Tensor images)
      : modules_(model.named_modules()), images_(std::move(images)) {}

  at::Tensor operator[](Value value) const { return values_.at(value); }

  Value Input() override { return Push(images_); }
  Value Layer(const std::string& path, Value x) override {
    const std::shared_ptr<torch::nn::Module>& module = modules_[path];
    const at::Tensor& input = values_.at(x);
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) return Push(conv->forward(input));
    if (auto* linear = module->as<torch::nn::LinearImpl>()) return Push(linear->forward(input));
    if (auto* norm = module->as<torch::nn::BatchNorm2dImpl>()) return Push(norm->forward(input));
    if (auto* norm = module->as<torch::nn::BatchNorm1dImpl>()) return Push(norm->forward(input));
    ADD_FAILURE() << "layer " << path << " is not a Conv2d, Linear or BatchNorm";
    return x;
  }
  Value Relu(Value x) override { return Push(at::relu(values_.at(x))); }
  Value Relu6(Value x) override { return Push(at::hardtanh(values_.at(x), 0.0, 6.0)); }
  Value Add(Value a, Value b) override { return Push(values_.at(a) + values_.at(b)); }
  Value MaxPool2d(Value x, int64_t kernel_size, int64_t stride, int64_t padding) override {
    return Push(at::max_pool2d(values_.at(x), kernel_size, stride, padding));
  }
  Value GlobalAveragePool(Value x) override { return Push(values_.at(x).mean({2, 3})); }
  Value Flatten(Value x) override { return Push(values_.at(x).flatten(1)); }

 private:
  Value Push(at::Tensor tensor) {
    values_.push_back(std::move(tensor));
    return static_cast<Value>(values_.size() - 1);
  }

  torch::OrderedDict<std::string, std::shared_ptr<torch::nn::Module>> modules_;
  at::Tensor images_;
  std::vector<at::Tensor> values_;
};

class ForwardGraphTest : public testing::TestWithParam<std::string> {};

TEST_P(ForwardGraphTest, ReplayingTheDescriptionGivesForwardsLogits) {
  const std::string& name = GetParam();
  const bool fixed_size = name == "lenet" || name.rfind("qd_", 0) == 0;
  const int64_t side = fixed_size ? 32 : 40;
  torch::manual_seed(3);
  MC_ASSERT_OK_AND_ASSIGN(std::shared_ptr<Classifier> model,
                       CreateModel(name, ModelOptions().in_channels(3).num_classes(5).image_size(side)));
  // Non-trivial BatchNorm statistics, so that a misplaced or missing norm shows.
  model->train();
  {
    torch::NoGradGuard no_grad;
    model->forward(at::randn({4, 3, side, side}));
  }
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor images = at::randn({2, 3, side, side});
  const at::Tensor expected = model->forward(images);

  ModuleReplay replay(*model, images);
  const at::Tensor logits = replay[model->DescribeForward(replay)];
  ASSERT_EQ(logits.sizes(), expected.sizes());
  EXPECT_TRUE(at::allclose(logits, expected, /*rtol=*/1e-5, /*atol=*/1e-5))
      << "largest difference " << (logits - expected).abs().max().item<float>();
}

INSTANTIATE_TEST_SUITE_P(EveryFamily, ForwardGraphTest,
                         testing::Values("lenet", "resnet20", "resnet18", "resnet50", "wrn16_2",
                                         "mobilenetv2", "qd_student1", "qd_teacher"),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace mc::nn_models
