#include "experiments/loss_growth.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mc::experiments {
namespace {

using ::testing::HasSubstr;

TEST(LossGrowthMonitorTest, AcceptsATrainingRunThatConverges) {
  LossGrowthMonitor monitor;
  for (int step = 1; step <= 2000; ++step) {
    const double noise = (step % 7 == 0) ? 2.0 : 1.0;  // occasional hard batches
    ASSERT_TRUE(monitor.Add(step, noise * 2.3 / (1 + step / 100.0)).ok()) << step;
  }
}

TEST(LossGrowthMonitorTest, OneHardBatchDoesNotStopTheRun) {
  LossGrowthMonitor monitor;
  for (int step = 1; step <= 100; ++step) ASSERT_TRUE(monitor.Add(step, 0.3).ok());
  EXPECT_TRUE(monitor.Add(101, 30.0).ok());  // the average moves to 0.894 < 3
  for (int step = 102; step <= 200; ++step) ASSERT_TRUE(monitor.Add(step, 0.3).ok());
}

TEST(LossGrowthMonitorTest, StopsWhenTheSmoothedLossGrowsTenfold) {
  LossGrowthMonitor monitor;
  int step = 1;
  for (; step <= 100; ++step) ASSERT_TRUE(monitor.Add(step, 0.3).ok());
  absl::Status status;
  for (; step <= 1000 && status.ok(); ++step) status = monitor.Add(step, 15.0);
  ASSERT_FALSE(status.ok());
  // The average passes 3 = 10 x 0.3 on the 11th step at 15: 0.3 + 14.7 (1 - 0.98^n) > 3 for
  // n > 10.04; it is then 3.229.
  EXPECT_EQ(step - 1, 111);
  EXPECT_THAT(status.message(),
              HasSubstr("grew 11-fold, from 0.3 at step 50 to 3.229 at step 111"));
}

TEST(LossGrowthMonitorTest, TheWarmUpsHighLossesAreNotTheBaseline) {
  LossGrowthMonitor monitor(10, /*warmup_steps=*/50);
  // A loss that starts at 0.1 (a lucky first batch) and settles at 2: no baseline before step 50.
  ASSERT_TRUE(monitor.Add(1, 0.1).ok());
  for (int step = 2; step <= 300; ++step) ASSERT_TRUE(monitor.Add(step, 2.0).ok()) << step;
}

}  // namespace
}  // namespace mc::experiments
