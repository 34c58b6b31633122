// File: lr_schedule.h
// Learning-rate schedules of TrainingConfig, as a pure function of the global step so that
// a resumed run follows exactly the schedule of an uninterrupted one.
//
// Example:
//   double lr = LearningRateAt(config.training(), step, steps_per_epoch);
#ifndef MC_EXPERIMENTS_LR_SCHEDULE_H_
#define MC_EXPERIMENTS_LR_SCHEDULE_H_

#include <cstdint>

#include "serialization/experiment_config.pb.h"

namespace mc::experiments {

/// Learning rate for global step `step` (0-based) of a run with `steps_per_epoch` steps per
/// epoch and training.epochs epochs:
///   CONSTANT: lr;
///   STEP:     lr * lr_gamma^floor(epoch / lr_step_epochs);
///   COSINE:   lr * (1 + cos(pi * step / total_steps)) / 2, annealed every step to 0;
/// each scaled by (step + 1) / (warmup_epochs * steps_per_epoch) during the warm-up.
double LearningRateAt(const serialization::TrainingConfig& training, int64_t step,
                      int64_t steps_per_epoch);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_LR_SCHEDULE_H_
