#include "nn_models/memory_format.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

namespace mc::nn_models {

void ToChannelsLast(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (at::Tensor& tensor : module.parameters()) {
    if (tensor.dim() == 4) tensor.set_data(ChannelsLast(tensor));
  }
  for (at::Tensor& tensor : module.buffers()) {
    if (tensor.dim() == 4) tensor.set_data(ChannelsLast(tensor));
  }
}

at::Tensor ChannelsLast(const at::Tensor& batch) {
  if (batch.dim() != 4) return batch;
  return at::empty(batch.sizes(), batch.options().memory_format(at::MemoryFormat::ChannelsLast))
      .copy_(batch);
}

}  // namespace mc::nn_models
