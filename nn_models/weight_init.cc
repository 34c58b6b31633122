#include "nn_models/weight_init.h"

#include <torch/nn/init.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

#include <memory>

namespace mc::nn_models::internal {
namespace {

// Calls `init(conv)` on every Conv2d below `module`. The root is not visited: models call this
// from reset() inside their constructor, before any shared_ptr owns them.
template <typename Init>
void ForEachConvolution(torch::nn::Module& module, Init init) {
  for (const std::shared_ptr<torch::nn::Module>& child : module.modules(/*include_self=*/false)) {
    if (auto* conv = child->as<torch::nn::Conv2d>()) init(*conv);
  }
}

}  // namespace

void InitConvolutionsKaimingNormal(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  ForEachConvolution(module, [](torch::nn::Conv2dImpl& conv) {
    torch::nn::init::kaiming_normal_(conv.weight, /*a=*/0.0, torch::kFanOut, torch::kReLU);
    if (conv.bias.defined()) torch::nn::init::zeros_(conv.bias);
  });
}

void InitConvolutionsXavierUniform(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  ForEachConvolution(module, [](torch::nn::Conv2dImpl& conv) {
    torch::nn::init::xavier_uniform_(conv.weight, /*gain=*/1.0);
  });
}

}  // namespace mc::nn_models::internal
