// relu(batch_norm(x) [+ residual]) as one operation, for the BatchNorm-ReLU pairs of residual
// networks.
//
// In training, with channels-last float inputs, the forward pass makes two passes over memory
// (per-channel statistics, then normalize + add + clamp) and the backward pass two (per-channel
// sums, then the input gradient), where BatchNorm, the addition and ReLU as separate operations
// make about twice as many. The values are BatchNorm's (batch statistics, running statistics
// updated with the module's momentum) up to the order of the floating-point sums. In evaluation,
// and for any other layout or type, it runs the module's forward, then the addition and ReLU.
#ifndef MODEL_COMPRESSION_NN_MODELS_BATCH_NORM_RELU_H_
#define MODEL_COMPRESSION_NN_MODELS_BATCH_NORM_RELU_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/batchnorm.h>

namespace mc::nn_models {

/// relu(bn(x) + residual), or relu(bn(x)) when `residual` is undefined. `residual` has x's shape.
at::Tensor BatchNormReLU(torch::nn::BatchNorm2dImpl& bn, const at::Tensor& x,
                         const at::Tensor& residual = {});

}  // namespace mc::nn_models

#endif  // MODEL_COMPRESSION_NN_MODELS_BATCH_NORM_RELU_H_
