#include "experiments/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace mc::experiments {
namespace {

// The schedule's rate, before the warm-up; steps_per_epoch >= 1.
double ScheduledRate(const serialization::TrainingConfig& training, int64_t step,
                     int64_t steps_per_epoch) {
  using serialization::TrainingConfig;
  switch (training.lr_schedule()) {
    case TrainingConfig::STEP: {
      const int64_t epoch = step / steps_per_epoch;
      const int64_t period = std::max(training.lr_step_epochs(), 1);
      return training.lr() * std::pow(training.lr_gamma(), static_cast<double>(epoch / period));
    }
    case TrainingConfig::COSINE: {
      const double total = static_cast<double>(steps_per_epoch) * std::max(training.epochs(), 1);
      const double progress = std::min(static_cast<double>(step) / total, 1.0);
      return training.lr() * 0.5 * (1.0 + std::cos(M_PI * progress));
    }
    default:
      return training.lr();
  }
}

}  // namespace

double LearningRateAt(const serialization::TrainingConfig& training, int64_t step,
                      int64_t steps_per_epoch) {
  steps_per_epoch = std::max<int64_t>(steps_per_epoch, 1);
  const double rate = ScheduledRate(training, step, steps_per_epoch);
  const double warmup_steps = training.warmup_epochs() * static_cast<double>(steps_per_epoch);
  return step < warmup_steps ? rate * static_cast<double>(step + 1) / warmup_steps : rate;
}

}  // namespace mc::experiments
