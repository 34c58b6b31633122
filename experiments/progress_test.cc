#include "experiments/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

namespace mc::experiments {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Tests that without a terminal the bar prints plain lines, about one per 10% of the epoch.
TEST(ProgressBarTest, PlainLinesWhenNotATerminal) {
  std::ostringstream out;
  ProgressBar bar("epoch 1/2", 100, out, /*interactive=*/false);
  for (int64_t done = 1; done <= 100; ++done) bar.Update(done, done * 10, 0.5, 0.25);
  bar.Finish("test acc 0.9");
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 10);
  EXPECT_THAT(text, Not(HasSubstr("\r")));
  EXPECT_THAT(text, HasSubstr("epoch 1/2 50/100 loss 0.5000 acc 0.2500"));
  EXPECT_THAT(text, HasSubstr("100/100"));
  EXPECT_THAT(text, HasSubstr("| test acc 0.9"));
}

// Tests that on a terminal the bar redraws one line in place and shows a bar and an ETA.
TEST(ProgressBarTest, RedrawsInPlaceOnATerminal) {
  std::ostringstream out;
  ProgressBar bar("epoch 3/5", 4, out, /*interactive=*/true);
  bar.Update(1, 128, 2.0, 0.1);
  const std::string first = out.str();
  EXPECT_THAT(first, HasSubstr("\r"));
  EXPECT_THAT(first, HasSubstr("[======>"));
  EXPECT_THAT(first, HasSubstr("ETA"));
  bar.Finish("");
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

// Tests that the final line's rate and time are those of the batches: what runs between the
// last batch and Finish (the evaluation of an epoch) is not counted.
TEST(ProgressBarTest, FinishReportsTheBatchesTime) {
  std::ostringstream out;
  ProgressBar bar("epoch 1/1", 1, out, /*interactive=*/false);
  bar.Update(1, 128, 1.0, 0.5);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  bar.Finish("test acc 0.5");
  EXPECT_THAT(out.str(), HasSubstr(" in 0:00 | test acc 0.5"));
  EXPECT_GE(bar.elapsed_seconds(), 0.7);
}

}  // namespace
}  // namespace mc::experiments
