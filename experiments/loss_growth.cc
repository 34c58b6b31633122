#include "experiments/loss_growth.h"

#include "absl/strings/str_format.h"

namespace mc::experiments {

LossGrowthMonitor::LossGrowthMonitor(double factor, int64_t warmup_steps, double smoothing)
    : factor_(factor), warmup_steps_(warmup_steps), smoothing_(smoothing) {}

absl::Status LossGrowthMonitor::Add(int64_t step, double loss) {
  smoothed_ = seen_ == 0 ? loss : smoothed_ + smoothing_ * (loss - smoothed_);
  ++seen_;
  if (seen_ < warmup_steps_) return absl::OkStatus();
  if (seen_ == warmup_steps_ || smoothed_ < lowest_) {
    lowest_ = smoothed_;
    lowest_step_ = step;
    return absl::OkStatus();
  }
  if (smoothed_ <= factor_ * lowest_) return absl::OkStatus();
  return absl::InternalError(absl::StrFormat(
      "the training loss grew %.0f-fold, from %.4g at step %d to %.4g at step %d (moving "
      "averages); the run diverged, stopping (the last checkpoint, if any, is kept; try a "
      "lower --lr)",
      smoothed_ / lowest_, lowest_, lowest_step_, smoothed_, step));
}

}  // namespace mc::experiments
