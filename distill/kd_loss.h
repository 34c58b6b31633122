// File: kd_loss.h
// The knowledge-distillation loss (Hinton et al. 2015) as quantized distillation uses it:
//   L = w * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - w) * CE(s, y)
// for student logits s, teacher logits t, labels y, temperature T and soft weight w. The T^2
// factor keeps the soft term's gradient scale independent of T.
//
// Reduction of the KL term: the reference (PyTorch 0.3's KLDivLoss default) averages over
// all N * C elements (kElementwiseMean), which divides the soft term by the number of
// classes C compared with the textbook per-example mean (kBatchMean, PyTorch's "batchmean").
// The cross-entropy is a per-example mean either way.
//
// Teacher annealing (Clark et al. 2019, "BAM! Born-again multi-task networks"), optional:
// w falls linearly with the fraction p of training done, w(p) = w * (1 - p), so the
// student learns from the teacher early and from the labels alone at the end, where a
// teacher no better than the student would otherwise hold it back.
//
// Example:
//   StudentLoss loss_fn(teacher, KDLossOptions());
//   at::Tensor loss = loss_fn(student->forward(images), images, labels);
//   at::Tensor loss = DistillationLoss(student_logits, teacher_logits.detach(), labels,
//                                      KDLossOptions().temperature(2).soft_weight(0.7));
#ifndef MC_DISTILL_KD_LOSS_H_
#define MC_DISTILL_KD_LOSS_H_

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <memory>

#include "nn_models/classifier.h"

namespace mc::distill {

enum class KLReduction {
  kElementwiseMean,  ///< sum / (N * C): the reference's semantics
  kBatchMean,        ///< sum / N: the KL divergence per example
};

struct KDLossOptions {
  /// Softmax temperature T > 0. Default 2 (reference CNN experiments).
  TORCH_ARG(double, temperature) = 2;
  /// Weight w in [0, 1] of the soft (teacher) term. Default 0.7 (reference).
  TORCH_ARG(double, soft_weight) = 0.7;
  TORCH_ARG(KLReduction, reduction) = KLReduction::kElementwiseMean;
  /// Teacher annealing: StudentLoss scales w by (1 - progress), the progress its owner sets
  /// with set_progress. Default false (reference).
  TORCH_ARG(bool, anneal_soft_weight) = false;
};

/// The loss above, a 0-d float tensor differentiable in `student_logits` (N, C); the teacher
/// logits (N, C) are treated as constants; labels (N) int64.
/// Throws c10::Error on mismatched shapes or options out of range.
at::Tensor DistillationLoss(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                            const at::Tensor& labels, const KDLossOptions& options = {});

/// The training loss of a student: DistillationLoss against a teacher's logits on the same
/// (augmented) batch, or plain cross-entropy without a teacher. The teacher runs in eval mode
/// without autograd and is never changed.
class StudentLoss {
 public:
  /// `teacher` may be null: cross-entropy only.
  StudentLoss(std::shared_ptr<nn_models::Classifier> teacher, KDLossOptions options);

  /// student_logits (N, C) of `images` (N, ...); labels (N) int64. Returns a 0-d tensor.
  at::Tensor operator()(const at::Tensor& student_logits, const at::Tensor& images,
                        const at::Tensor& labels) const;

  bool distills() const { return teacher_ != nullptr; }

  /// The fraction of training done, in [0, 1], for options.anneal_soft_weight (throws
  /// c10::Error outside it); 0 until set.
  void set_progress(double progress);
  /// The soft weight the next loss uses.
  double soft_weight() const;

 private:
  std::shared_ptr<nn_models::Classifier> teacher_;
  KDLossOptions options_;
  double progress_ = 0;
};

}  // namespace mc::distill

#endif  // MC_DISTILL_KD_LOSS_H_
