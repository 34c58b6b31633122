// File: quantized_distillation.h
// Quantized distillation (Polino et al. 2018): a student trains with its weights quantized
// while it learns from a teacher. The student keeps full-precision shadow weights; before
// each forward they are quantized (bucketed uniform, quant/bucketed_uniform.h), the loss
// (distillation from the teacher, or cross-entropy) is computed at the quantized weights,
// and its gradient goes straight through onto the full-precision weights, which the
// optimizer updates (momentum and weight decay act on them). BatchNorm statistics are
// updated by the quantized forwards. At the end the weights are quantized once more: that is
// the model. Every parameter is quantized, biases and BatchNorm affine ones included, except
// the first and last layers' when quantize_first_last_layer is off and the vectors (biases,
// normalization parameters) when quantize_vectors is off (distill/layer_selection.h).
//
// Example:
//   QuantizedDistillation trainer(student, teacher, QuantizedDistillationOptions().bits(4));
//   torch::optim::SGD optimizer(student->parameters(), SGDOptions(0.1).momentum(0.9));
//   for (each batch) { trainer.Step(images, labels); optimizer.step(); }
//   serialization::CompressedModel model = trainer.quantizer().get_quantized_state();
#ifndef MC_DISTILL_QUANTIZED_DISTILLATION_H_
#define MC_DISTILL_QUANTIZED_DISTILLATION_H_

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <memory>

#include "distill/kd_loss.h"
#include "nn_models/classifier.h"
#include "quant/bucketed_uniform.h"

namespace mc::distill {

struct QuantizedDistillationOptions {
  /// Bits per weight, an integer in [1, 15]. Default 4.
  TORCH_ARG(double, bits) = 4;
  /// Elements per bucket (0: one per tensor). Default 256 (reference).
  TORCH_ARG(int64_t, bucket_size) = 256;
  /// One bucket per output channel of each weight (quant/bucketed_uniform.h). Default false.
  TORCH_ARG(bool, per_channel) = false;
  /// Round stochastically in training steps. Default false (reference).
  TORCH_ARG(bool, stochastic_rounding) = false;
  /// Quantize the first and last layers too. Default true (reference).
  TORCH_ARG(bool, quantize_first_last_layer) = true;
  /// Quantize parameters of fewer than two dimensions too (biases, BatchNorm's scales and
  /// shifts). Default true (reference); post-training quantization of a model trained
  /// without it keeps them float: a BatchNorm scale rounded to 4 bits moves every output
  /// of its channel, and they are a small part of the size.
  TORCH_ARG(bool, quantize_vectors) = true;
  /// Learn from the teacher; off, the student trains on the labels alone. Default true.
  TORCH_ARG(bool, distillation) = true;
  /// Temperature and soft weight of the distillation loss (T = 2, w = 0.7).
  TORCH_ARG(KDLossOptions, kd) = {};
};

/// The bucketed uniform quantizer of a student, attached to `student`, with the options'
/// bits, buckets, rounding and first/last-layer choice.
std::unique_ptr<quant::BucketedUniformQuantizer> AttachStudentQuantizer(
    std::shared_ptr<torch::nn::Module> student, const QuantizedDistillationOptions& options);

class QuantizedDistillation {
 public:
  /// `teacher` is required when options.distillation() (throws c10::Error otherwise); it is
  /// only evaluated, never changed.
  QuantizedDistillation(std::shared_ptr<nn_models::Classifier> student,
                        std::shared_ptr<nn_models::Classifier> teacher,
                        const QuantizedDistillationOptions& options = {});

  struct StepOutput {
    at::Tensor loss;    ///< 0-d float
    at::Tensor logits;  ///< (B, classes), of the quantized student
  };

  /// One training step on images (B, C, H, W) and labels (B): clears the student's
  /// gradients, runs the quantized forward, and leaves the straight-through gradient of the
  /// loss in the full-precision weights' .grad for the caller's optimizer.step().
  StepOutput Step(const at::Tensor& images, const at::Tensor& labels);

  /// The student's quantizer: quantize() for evaluation, get_quantized_state() for the model.
  quant::BucketedUniformQuantizer& quantizer() { return *quantizer_; }
  /// The training loss, e.g. to set its progress for teacher annealing.
  StudentLoss& loss() { return loss_; }

 private:
  std::shared_ptr<nn_models::Classifier> student_;
  std::unique_ptr<quant::BucketedUniformQuantizer> quantizer_;
  StudentLoss loss_;
};

}  // namespace mc::distill

#endif  // MC_DISTILL_QUANTIZED_DISTILLATION_H_
