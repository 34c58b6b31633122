#include "nn_models/classifier.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <memory>

#include "nn_models/testutil.h"

namespace mc::nn_models {
namespace {

// Linear layer + BatchNorm over flattened 1x2x2 images: 15 + 6 parameters, 3 buffers.
class TinyClassifierImpl : public torch::nn::Cloneable<TinyClassifierImpl>, public Classifier {
 public:
  TinyClassifierImpl() { reset(); }
  void reset() override {
    linear_ = register_module("linear", torch::nn::Linear(4, 3));
    norm_ = register_module("norm", torch::nn::BatchNorm1d(3));
  }
  at::Tensor forward(const at::Tensor& images) override {
    return norm_->forward(linear_->forward(images.flatten(1)));
  }
  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder) const override {
    return builder.Layer("norm", builder.Layer("linear", builder.Flatten(builder.Input())));
  }

 private:
  torch::nn::Linear linear_{nullptr};
  torch::nn::BatchNorm1d norm_{nullptr};
};

// A Classifier that does not derive from Cloneable.
class UncloneableClassifier : public Classifier {
 public:
  at::Tensor forward(const at::Tensor& images) override { return images; }
  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder) const override {
    return builder.Input();
  }
};

// A cloneable module holding a classifier as a child, as wrappers around zoo models do.
class WrapperImpl : public torch::nn::Cloneable<WrapperImpl> {
 public:
  WrapperImpl() { reset(); }
  void reset() override {
    model_ = register_module("model", std::make_shared<TinyClassifierImpl>());
  }

 private:
  std::shared_ptr<TinyClassifierImpl> model_;
};

// Tests that parameters are counted and buffers are not.
TEST(ClassifierTest, CountParametersExcludesBuffers) {
  TinyClassifierImpl model;
  EXPECT_EQ(CountParameters(model), 4 * 3 + 3 + 2 * 3);
}

// Tests that a clone has equal state and logits but shares no storage with the original.
TEST(ClassifierTest, CloneIsIndependentDeepCopy) {
  auto model = std::make_shared<TinyClassifierImpl>();
  {
    torch::NoGradGuard no_grad;
    model->train();
    model->forward(at::randn({8, 1, 2, 2}));  // moves the BatchNorm running statistics
  }
  std::shared_ptr<Classifier> copy = Clone(*model);
  EXPECT_TRUE(HaveSameState(*model, *copy));
  EXPECT_TRUE(ComputeSameLogits(*model, *copy, {2, 1, 2, 2}));
  {
    torch::NoGradGuard no_grad;
    for (at::Tensor parameter : model->parameters()) parameter.add_(1.0);
  }
  EXPECT_FALSE(HaveSameState(*model, *copy));
}

// Tests that a classifier nested in a cloned module keeps its parameters.
TEST(ClassifierTest, NestedClassifierSurvivesClone) {
  auto wrapper = std::make_shared<WrapperImpl>();
  std::shared_ptr<torch::nn::Module> copy = wrapper->clone();
  EXPECT_EQ(copy->named_parameters().size(), 4u);
  EXPECT_TRUE(HaveSameState(*wrapper, *copy));
}

// Tests that cloning a classifier without Cloneable throws.
TEST(ClassifierTest, CloneRequiresCloneable) {
  UncloneableClassifier model;
  EXPECT_THROW(Clone(model), c10::Error);
}

}  // namespace
}  // namespace mc::nn_models
