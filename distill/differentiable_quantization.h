// File: differentiable_quantization.h
// Differentiable quantization (Polino et al. 2018): the quantization points themselves are
// learned. Starting from a trained float model, each quantized tensor is scaled per bucket
// once (quant/learned_points.h: scale and offset frozen from the float weights) and gets its
// own sorted points, initialised at quantiles of its scaled values or uniformly on [0, 1].
// Each step writes offset + scale * p[nearest point] into a copy of the model, runs it in
// training mode (its BatchNorm statistics follow the quantized weights), and moves the
// points by SGD on the loss (distillation from a teacher, by default the float model itself
// as the reference; or cross-entropy): dL/dp_j = sum over elements assigned to j of
// scale * dL/dw. The network weights never change; the assignment is recomputed every step
// and the points are kept sorted.
//
// Points per tensor start at 2^bits; with redistribute_points they are shared out again by
// the norm of each tensor's mean cross-entropy gradient over a few calibration batches (the
// reference's rule: each keeps half its points, the rest goes in proportion to the norms).
//
// Example:
//   DifferentiableQuantization dq(*float_model, float_model, options, calibration_batches);
//   torch::optim::SGD optimizer(dq.points(), SGDOptions(1e-4).momentum(0.9).nesterov(true));
//   for (each batch) dq.Step(images, labels, optimizer);
//   serialization::CompressedModel model = dq.GetQuantizedState();
#ifndef MC_DISTILL_DIFFERENTIABLE_QUANTIZATION_H_
#define MC_DISTILL_DIFFERENTIABLE_QUANTIZATION_H_

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "distill/kd_loss.h"
#include "distributed/gradient_sync.h"
#include "nn_models/classifier.h"
#include "quant/learned_points.h"
#include "serialization/compressed_model.pb.h"

namespace torch::optim {
class Optimizer;
}

namespace mc::distill {

enum class PointsInit {
  kQuantiles,  ///< p_j = quantile j / (n - 1) of the tensor's scaled values (reference default)
  kUniform,    ///< p_j = j / (n - 1)
};

struct DifferentiableQuantizationOptions {
  /// Each tensor starts with 2^bits points; bits is an integer in [1, 15]. Default 2.
  TORCH_ARG(double, bits) = 2;
  /// Elements per bucket (0: one per tensor). Default 256 (reference).
  TORCH_ARG(int64_t, bucket_size) = 256;
  TORCH_ARG(PointsInit, init) = PointsInit::kQuantiles;
  /// Share the points out again by gradient norm (needs calibration batches). Default true.
  TORCH_ARG(bool, redistribute_points) = true;
  /// Quantize the first and last layers too. Default true (reference).
  TORCH_ARG(bool, quantize_first_last_layer) = true;
  /// The distillation loss when a teacher is given.
  TORCH_ARG(KDLossOptions, kd) = {};
};

/// A batch: images (B, C, H, W) float32 and labels (B) int64.
using Batch = std::pair<at::Tensor, at::Tensor>;

/// The reference's redistribution of points: with total = sum(initial), each tensor keeps
/// initial / 2 and the rest is shared in proportion to `norms` (rounded half to even); the
/// difference to the total is taken from the first largest count or given to the first
/// smallest. Throws c10::Error on mismatched sizes, negative norms or a count below 1.
std::vector<int64_t> RedistributePoints(const std::vector<double>& norms,
                                        const std::vector<int64_t>& initial);

/// For each parameter named in `names`: the norm of its cross-entropy gradient averaged over
/// `batches`, computed in eval mode. `model`'s weights, statistics and gradients are unchanged.
std::vector<double> MeanGradientNorms(nn_models::Classifier& model,
                                      const std::vector<std::string>& names,
                                      const std::vector<Batch>& batches);

class DifferentiableQuantization {
 public:
  /// Quantizes a copy of `float_model` (which is not changed). `teacher` (may be null for
  /// cross-entropy) is only evaluated; pass the float model to distill from it.
  /// `calibration` batches are required when options.redistribute_points().
  /// Throws c10::Error on invalid options or missing calibration batches.
  DifferentiableQuantization(const nn_models::Classifier& float_model,
                             std::shared_ptr<nn_models::Classifier> teacher,
                             const DifferentiableQuantizationOptions& options,
                             const std::vector<Batch>& calibration = {});
  ~DifferentiableQuantization();

  /// Names of the quantized parameters, in the model's order.
  const std::vector<std::string>& quantized_names() const { return names_; }
  /// The points of each quantized parameter: float32 (n_i) leaves that require grad, sorted.
  const std::vector<at::Tensor>& points() const { return points_; }
  /// The quantized model (weights on the points).
  std::shared_ptr<nn_models::Classifier> model() const { return model_; }
  /// The training loss, e.g. to set its progress for teacher annealing.
  StudentLoss& loss() { return loss_; }

  struct StepOutput {
    at::Tensor loss;    ///< 0-d float
    at::Tensor logits;  ///< (B, classes)
  };
  /// One step: runs the quantized model in training mode, backpropagates to the points,
  /// steps `points_optimizer` (which must hold points()), sorts the points again and writes
  /// the weights of the new assignment into model(). A data-parallel caller passes
  /// `sync_gradients`, which averages the points' gradients before the update.
  StepOutput Step(const at::Tensor& images, const at::Tensor& labels,
                  torch::optim::Optimizer& points_optimizer,
                  const distributed::GradientSync& sync_gradients = {});

  /// Assigns each weight to its nearest current point and writes the weights into model():
  /// call after changing points() outside Step (e.g. when loading them).
  void WriteQuantizedWeights();

  /// model() in the shared format: quantized parameters as learned points, the others and
  /// the buffers as float32 (int64 for integer buffers).
  serialization::CompressedModel GetQuantizedState() const;

 private:
  struct Quantized;
  std::shared_ptr<nn_models::Classifier> model_;
  StudentLoss loss_;
  std::vector<std::string> names_;
  std::vector<at::Tensor> points_;
  std::vector<Quantized> quantized_;
};

}  // namespace mc::distill

#endif  // MC_DISTILL_DIFFERENTIABLE_QUANTIZATION_H_
