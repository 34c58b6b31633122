#include "experiments/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mc::experiments {
namespace {

using serialization::TrainingConfig;

TrainingConfig Training(TrainingConfig::LrSchedule schedule) {
  TrainingConfig training;
  training.set_lr(0.1);
  training.set_epochs(4);
  training.set_lr_schedule(schedule);
  training.set_lr_step_epochs(2);
  training.set_lr_gamma(0.1);
  return training;
}

// Tests that the cosine schedule starts at lr, halves midway and ends near 0.
TEST(LrScheduleTest, CosineAnnealsWithinTheRun) {
  const TrainingConfig training = Training(TrainingConfig::COSINE);
  EXPECT_DOUBLE_EQ(LearningRateAt(training, 0, 100), 0.1);
  EXPECT_NEAR(LearningRateAt(training, 200, 100), 0.05, 1e-12);
  EXPECT_NEAR(LearningRateAt(training, 300, 100), 0.1 * (1 + std::cos(M_PI * 0.75)) / 2, 1e-12);
  EXPECT_LT(LearningRateAt(training, 399, 100), 1e-5);
  EXPECT_EQ(LearningRateAt(training, 400, 100), 0.0);
}

// Tests that the step schedule decays by gamma every lr_step_epochs epochs.
TEST(LrScheduleTest, StepDecaysPerPeriod) {
  const TrainingConfig training = Training(TrainingConfig::STEP);
  EXPECT_DOUBLE_EQ(LearningRateAt(training, 0, 10), 0.1);
  EXPECT_DOUBLE_EQ(LearningRateAt(training, 19, 10), 0.1);
  EXPECT_NEAR(LearningRateAt(training, 20, 10), 0.01, 1e-15);
  EXPECT_NEAR(LearningRateAt(training, 45, 10), 0.001, 1e-15);
}

// Tests that the warm-up ramps the schedule's rate linearly over its steps, fractions of an
// epoch included, then leaves it unchanged.
TEST(LrScheduleTest, WarmupRampsLinearly) {
  TrainingConfig training = Training(TrainingConfig::COSINE);
  training.set_warmup_epochs(0.5);
  const TrainingConfig plain = Training(TrainingConfig::COSINE);
  EXPECT_NEAR(LearningRateAt(training, 0, 100), LearningRateAt(plain, 0, 100) / 50, 1e-15);
  EXPECT_NEAR(LearningRateAt(training, 24, 100), LearningRateAt(plain, 24, 100) / 2, 1e-15);
  EXPECT_EQ(LearningRateAt(training, 49, 100), LearningRateAt(plain, 49, 100));
  EXPECT_EQ(LearningRateAt(training, 50, 100), LearningRateAt(plain, 50, 100));
  training.set_lr_schedule(TrainingConfig::CONSTANT);
  EXPECT_NEAR(LearningRateAt(training, 9, 100), 0.1 * 10 / 50, 1e-15);
}

// Tests that the constant schedule ignores the step.
TEST(LrScheduleTest, ConstantIsConstant) {
  const TrainingConfig training = Training(TrainingConfig::CONSTANT);
  EXPECT_EQ(LearningRateAt(training, 0, 10), 0.1);
  EXPECT_EQ(LearningRateAt(training, 1000, 10), 0.1);
}

}  // namespace
}  // namespace mc::experiments
