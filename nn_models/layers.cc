#include "nn_models/layers.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace mc::nn_models {

torch::nn::Conv2d SameConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                             int64_t stride, int64_t groups) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, kernel_size)
                               .stride(stride)
                               .padding(kernel_size / 2)
                               .groups(groups)
                               .bias(false));
}

bool IsConvolutionOrLinear(const torch::nn::Module& module) {
  return module.as<torch::nn::Conv1dImpl>() != nullptr ||
         module.as<torch::nn::Conv2dImpl>() != nullptr ||
         module.as<torch::nn::Conv3dImpl>() != nullptr ||
         module.as<torch::nn::LinearImpl>() != nullptr;
}

}  // namespace mc::nn_models
