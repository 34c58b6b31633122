#include "experiments/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

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

}  // namespace
}  // namespace mc::experiments
