#include "nn_models/testutil.h"

#include <ATen/ATen.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <string>
#include <utility>

namespace mc::nn_models {
namespace {

// Parameters followed by buffers, with their qualified names.
std::vector<std::pair<std::string, at::Tensor>> NamedState(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> state;
  for (const auto& item : module.named_parameters()) state.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) state.emplace_back(item.key(), item.value());
  return state;
}

}  // namespace

std::vector<int64_t> LogitsShape(Classifier& model, const std::vector<int64_t>& image_batch_shape) {
  torch::NoGradGuard no_grad;
  model.eval();
  return model.forward(at::randn(image_batch_shape)).sizes().vec();
}

::testing::AssertionResult ComputeSameLogits(Classifier& a, Classifier& b,
                                             const std::vector<int64_t>& image_batch_shape) {
  torch::NoGradGuard no_grad;
  a.eval();
  b.eval();
  const at::Tensor images = at::randn(image_batch_shape);
  if (at::equal(a.forward(images), b.forward(images))) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the logits differ";
}

::testing::AssertionResult HaveSameState(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto state_a = NamedState(a);
  const auto state_b = NamedState(b);
  if (state_a.size() != state_b.size()) {
    return ::testing::AssertionFailure()
           << "state sizes differ: " << state_a.size() << " vs " << state_b.size();
  }
  for (size_t i = 0; i < state_a.size(); ++i) {
    const auto& [name_a, tensor_a] = state_a[i];
    const auto& [name_b, tensor_b] = state_b[i];
    if (name_a != name_b) {
      return ::testing::AssertionFailure() << "entry " << i << ": " << name_a << " vs " << name_b;
    }
    if (tensor_a.sizes() != tensor_b.sizes() || tensor_a.dtype() != tensor_b.dtype() ||
        !at::equal(tensor_a, tensor_b)) {
      return ::testing::AssertionFailure() << name_a << " differs";
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult BuildsDeterministicallyAndClones(
    const std::function<std::shared_ptr<Classifier>()>& make_model,
    const std::vector<int64_t>& image_batch_shape) {
  torch::manual_seed(0);
  const std::shared_ptr<Classifier> first = make_model();
  torch::manual_seed(0);
  const std::shared_ptr<Classifier> second = make_model();
  if (::testing::AssertionResult same = HaveSameState(*first, *second); !same) {
    return ::testing::AssertionFailure() << "two builds with seed 0 differ: " << same.message();
  }
  const std::shared_ptr<Classifier> copy = Clone(*first);
  if (::testing::AssertionResult same = HaveSameState(*first, *copy); !same) {
    return ::testing::AssertionFailure() << "the clone differs: " << same.message();
  }
  return ComputeSameLogits(*first, *copy, image_batch_shape);
}

}  // namespace mc::nn_models
