// File: weight_init.h
// Weight initialisations the model families share, applied to every convolution of a module
// tree after it is built. BatchNorm layers need none: LibTorch already starts them at weight 1
// and bias 0, as the papers and torchvision do.
//
// Example (in a model's reset()):
//   InitConvolutionsKaimingNormal(*this);
#ifndef MC_NN_MODELS_WEIGHT_INIT_H_
#define MC_NN_MODELS_WEIGHT_INIT_H_

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace mc::nn_models::internal {

/// Draws every Conv2d weight below `module` from Kaiming normal initialisation in fan-out
/// mode with the ReLU gain, std = sqrt(2 / (C_out * kH * kW)) (He et al. 2015, §2.2; what
/// torchvision's ResNet and MobileNetV2 use), and zeroes the convolution biases.
void InitConvolutionsKaimingNormal(torch::nn::Module& module);

/// Draws every Conv2d weight below `module` from Xavier uniform initialisation with gain 1
/// (Glorot & Bengio 2010); biases keep LibTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void InitConvolutionsXavierUniform(torch::nn::Module& module);

}  // namespace mc::nn_models::internal

#endif  // MC_NN_MODELS_WEIGHT_INIT_H_
