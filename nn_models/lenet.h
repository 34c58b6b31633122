// File: lenet.h
// A small LeNet-5-style convolutional net (LeCun et al. 1998, with ReLU and max-pooling in
// place of the sigmoid subsampling layers and a linear output in place of the RBF units). With
// about 60k parameters it trains in seconds, for tests of training loops and compression
// pipelines.
//
// Example:
//   LeNet model(ModelOptions().in_channels(1).image_size(28));
//   at::Tensor logits = model->forward(images);   // (B, 1, 28, 28) -> (B, 10)
#ifndef MC_NN_MODELS_LENET_H_
#define MC_NN_MODELS_LENET_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <ostream>

#include "nn_models/classifier.h"
#include "nn_models/model_options.h"

namespace mc::nn_models {

/// conv1 (5x5, 6 channels) -> ReLU -> 2x2 max-pool -> conv2 (5x5, 16 channels) -> ReLU ->
/// 2x2 max-pool -> fc1 (120) -> ReLU -> fc2 (84) -> ReLU -> fc3 (num_classes), without padding,
/// for options.image_size() square images (at least 16). LibTorch's default initialisation.
/// Parameters for 10 classes: 61,706 for 1-channel 32x32 images (LeNet-5's layout), 44,426
/// for 1-channel 28x28, 62,006 for 3-channel 32x32.
class LeNetImpl : public torch::nn::Cloneable<LeNetImpl>, public Classifier {
 public:
  /// Throws c10::Error if options.image_size() < 16 or `options` are invalid.
  explicit LeNetImpl(const ModelOptions& options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// images: (B, in_channels, image_size, image_size), float32. Returns logits
  /// (B, num_classes). Throws c10::Error for another image size.
  at::Tensor forward(const at::Tensor& images) override;

  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder) const override;

 private:
  ModelOptions options_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
  torch::nn::Linear fc3_{nullptr};
};
TORCH_MODULE(LeNet);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_LENET_H_
