// File: conv_forward_net.h
// The plain convolutional nets of "Model compression via distillation and quantization"
// (Polino, Pascanu & Alistarh 2018): the CIFAR-10 teacher and the students that are distilled
// and quantized from it, re-implemented from the description of the authors' ConvolForwardNet.
// Each layer is convolution (or linear) -> ReLU -> BatchNorm, optionally followed by 2x2
// max-pooling and dropout; the output layer's logits also pass through a ReLU, as in the
// authors' code.
//
// Example:
//   ConvForwardNet teacher(QdTeacherSpec(), ModelOptions());                  // 5,346,142
//   ConvForwardNet student(QdStudentSpec(1, /*with_dropout=*/false), ModelOptions());
//   at::Tensor logits = student->forward(images);   // (B, 3, 32, 32) -> (B, 10), all >= 0
#ifndef MC_NN_MODELS_CONV_FORWARD_NET_H_
#define MC_NN_MODELS_CONV_FORWARD_NET_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <map>
#include <ostream>
#include <vector>

#include "nn_models/classifier.h"
#include "nn_models/model_options.h"

namespace mc::nn_models {

/// Architecture of a ConvForwardNet. Layers are numbered from 0 over the convolutions, then
/// the hidden linear layers.
struct ConvForwardNetSpec {
  /// Output channels of each convolution (stride 1, "same" padding, with bias), in order.
  std::vector<int64_t> conv_channels;
  /// Side of every convolution's square kernel; odd.
  int64_t kernel_size = 3;
  /// Numbers of the convolutions followed by 2x2 max-pooling (stride 2, rounding down).
  std::vector<int64_t> max_pool_after;
  /// Widths of the hidden linear layers, in order; the first flattens the last feature map.
  std::vector<int64_t> hidden_widths;
  /// Dropout probability after each listed layer, active in training mode only: channel
  /// dropout (Dropout2d) after convolutions, element dropout after linear layers.
  std::map<int64_t, double> dropout_after;
};

/// The teacher: 3x3 convolutions with 76, 76, 126, 126, 148, 148, 148, 148 channels, max-pool
/// after layers 1, 3, 7, hidden layers 1200, 1200, dropout 0.2, 0.3, 0.35, 0.4, 0.4 after
/// layers 1, 3, 7, 8, 9. 5,346,142 parameters for 3 channels, 32x32 images, 10 classes
/// (the paper's 5.3M).
ConvForwardNetSpec QdTeacherSpec();

/// Student 1, 2 or 3 (the authors' spec0, spec1, spec2): 5x5 convolutions with 75-50-50-25,
/// 50-25-25-10 or 25-10-10-5 channels, max-pool after layers 1 and 3, one hidden layer of 500,
/// 400 or 300; 1,000,235, 318,415 or 111,935 parameters (the paper's 1M, 0.3M, 0.1M). Distilled
/// students have no dropout; `with_dropout` adds the normally-trained baselines' dropout 0.2,
/// 0.3, 0.4 after layers 1, 3, 4. Throws c10::Error unless 1 <= `student` <= 3.
ConvForwardNetSpec QdStudentSpec(int student, bool with_dropout);

/// The deeper student trained with 4-bit quantized distillation: 3x3 convolutions with 76, 76,
/// 76, 126, 126, 126, 148, 148, 148, 148, 148 channels, max-pool after layers 2, 5, 10, hidden
/// layers 1000, 1000, 1000, dropout 0.2, 0.3, 0.35, 0.4, 0.4 after layers 2, 5, 10, 11, 12.
/// 5,825,396 parameters (the paper's 5.8M).
ConvForwardNetSpec QdDeepStudentSpec();

/// A ConvForwardNet for options.image_size() square images. Children: convs.i (Conv2d),
/// conv_norms.i (BatchNorm2d), linears.j (Linear), linear_norms.j (BatchNorm1d), output
/// (Linear to num_classes), registered in that order, so parameters() runs from the first
/// convolution to the output layer (the authors' code registers the output layer first).
/// Initialisation as the authors' code: Xavier uniform convolution weights; LibTorch's default
/// biases and Linear, which match PyTorch 0.3's. BatchNorm starts at weight 1 and bias 0
/// (PyTorch 0.3 drew the weight from U(0, 1)).
class ConvForwardNetImpl : public torch::nn::Cloneable<ConvForwardNetImpl>, public Classifier {
 public:
  /// Throws c10::Error if `spec` is malformed (no convolution, non-positive sizes, even
  /// kernel, layer numbers out of range, dropout outside [0, 1)), if its max-pools shrink
  /// options.image_size() below 1, or if `options` are invalid.
  ConvForwardNetImpl(ConvForwardNetSpec spec, const ModelOptions& options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// images: (B, in_channels, image_size, image_size), float32. Returns ReLU'd logits
  /// (B, num_classes), all >= 0. Throws c10::Error for another image size.
  at::Tensor forward(const at::Tensor& images) override;

  ForwardGraphBuilder::Value DescribeForward(ForwardGraphBuilder& builder) const override;

 private:
  ConvForwardNetSpec spec_;
  ModelOptions options_;
  torch::nn::ModuleList convs_{nullptr};
  torch::nn::ModuleList conv_norms_{nullptr};
  torch::nn::ModuleList linears_{nullptr};
  torch::nn::ModuleList linear_norms_{nullptr};
  torch::nn::Linear output_{nullptr};
};
TORCH_MODULE(ConvForwardNet);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_CONV_FORWARD_NET_H_
