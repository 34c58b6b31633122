// Stops a training run that is diverging without producing a non-finite loss yet: a loss that
// climbs tenfold from the lowest it reached (MetaQuant with BWN once went from 0.3 to 15 in
// one epoch) is a blow-up, not noise, and the epochs after it would be wasted.
//
// The loss is smoothed by an exponential moving average (about 50 steps) so that one hard
// batch does not trip it, and the lowest smoothed value is tracked only after a warm-up, so
// the first steps' noisy estimates are not taken as the baseline.
#ifndef MODEL_COMPRESSION_EXPERIMENTS_LOSS_GROWTH_H_
#define MODEL_COMPRESSION_EXPERIMENTS_LOSS_GROWTH_H_

#include <cstdint>

#include "absl/status/status.h"

namespace mc::experiments {

class LossGrowthMonitor {
 public:
  /// Fails once the smoothed loss exceeds `factor` times its lowest value after
  /// `warmup_steps` steps; `smoothing` is the moving average's weight of each new step.
  explicit LossGrowthMonitor(double factor = 10, int64_t warmup_steps = 50,
                             double smoothing = 0.02);

  /// Adds one step's training loss (finite). `step` (1-based, over the whole run) only
  /// labels the error.
  absl::Status Add(int64_t step, double loss);

 private:
  double factor_;
  int64_t warmup_steps_;
  double smoothing_;
  int64_t seen_ = 0;
  double smoothed_ = 0;
  double lowest_ = 0;
  int64_t lowest_step_ = 0;
};

}  // namespace mc::experiments

#endif  // MODEL_COMPRESSION_EXPERIMENTS_LOSS_GROWTH_H_
