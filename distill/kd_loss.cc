#include "distill/kd_loss.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

namespace mc::distill {

at::Tensor DistillationLoss(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                            const at::Tensor& labels, const KDLossOptions& options) {
  TORCH_CHECK(student_logits.dim() == 2 && student_logits.sizes() == teacher_logits.sizes(),
              "DistillationLoss: student logits ", student_logits.sizes(), " and teacher logits ",
              teacher_logits.sizes(), " must both be (N, C)");
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == student_logits.size(0),
              "DistillationLoss: labels ", labels.sizes(), " must be (N) for N = ",
              student_logits.size(0));
  TORCH_CHECK(options.temperature() > 0, "DistillationLoss: temperature must be > 0, got ",
              options.temperature());
  TORCH_CHECK(options.soft_weight() >= 0 && options.soft_weight() <= 1,
              "DistillationLoss: soft_weight must be in [0, 1], got ", options.soft_weight());
  const double t = options.temperature();
  const at::Tensor log_student = at::log_softmax(student_logits / t, 1);
  const at::Tensor teacher = at::softmax(teacher_logits.detach() / t, 1);
  at::Tensor kl = at::kl_div(log_student, teacher, at::Reduction::Sum);
  kl = options.reduction() == KLReduction::kElementwiseMean ? kl / student_logits.numel()
                                                            : kl / student_logits.size(0);
  const at::Tensor hard = at::cross_entropy_loss(student_logits, labels);
  return options.soft_weight() * t * t * kl + (1 - options.soft_weight()) * hard;
}

StudentLoss::StudentLoss(std::shared_ptr<nn_models::Classifier> teacher, KDLossOptions options)
    : teacher_(std::move(teacher)), options_(options) {}

at::Tensor StudentLoss::operator()(const at::Tensor& student_logits, const at::Tensor& images,
                                   const at::Tensor& labels) const {
  if (!teacher_) return at::cross_entropy_loss(student_logits, labels);
  at::Tensor teacher_logits;
  {
    torch::NoGradGuard no_grad;
    teacher_->eval();
    teacher_logits = teacher_->forward(images);
  }
  KDLossOptions options = options_;
  options.soft_weight(soft_weight());
  return DistillationLoss(student_logits, teacher_logits, labels, options);
}

void StudentLoss::set_progress(double progress) {
  TORCH_CHECK(progress >= 0 && progress <= 1, "StudentLoss: progress must be in [0, 1], got ",
              progress);
  progress_ = progress;
}

double StudentLoss::soft_weight() const {
  return options_.anneal_soft_weight() ? options_.soft_weight() * (1 - progress_)
                                       : options_.soft_weight();
}

}  // namespace mc::distill
