// File: level_checks_test.cc
// LevelChecks' messages: the container's name first, then what is wrong and where.
#include "runtime/level_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>

namespace mc::runtime {
namespace {

using ::testing::StrEq;
using ::testing::ThrowsMessage;

constexpr LevelChecks kChecks("Container");

TEST(LevelChecksTest, ShapeNamesTheAllowedBlocks) {
  kChecks.Shape(0, 0, 16, {8, 16, 32});
  EXPECT_THAT([] { kChecks.Shape(2, 3, 4, {8, 16, 32}); },
              ThrowsMessage<std::invalid_argument>(
                  StrEq("Container: block must be 8, 16 or 32, got 4")));
  EXPECT_THAT([] { kChecks.Shape(2, 3, 32, {8, 16}); },
              ThrowsMessage<std::invalid_argument>(
                  StrEq("Container: block must be 8 or 16, got 32")));
  EXPECT_THAT([] { kChecks.Shape(-1, 3, 8, {8}); },
              ThrowsMessage<std::invalid_argument>(
                  StrEq("Container: rows and cols must not be negative, got -1 x 3")));
}

TEST(LevelChecksTest, InputsMayBeNullOnlyWithoutBlocks) {
  const uint8_t widths[1] = {1};
  kChecks.Inputs(0, nullptr, nullptr);
  kChecks.Inputs(1, widths, widths);
  EXPECT_THAT([] { kChecks.Inputs(1, nullptr, nullptr); },
              ThrowsMessage<std::invalid_argument>(
                  StrEq("Container: levels and widths must not be null")));
}

TEST(LevelChecksTest, WidthAndLevelNameTheirPlace) {
  kChecks.Width(1, 8, 0);
  kChecks.Width(16, 16, 0);
  EXPECT_THAT([] { kChecks.Width(0, 8, 5); },
              ThrowsMessage<std::invalid_argument>(
                  StrEq("Container: width of block 5 is 0, not in 1..8")));
  EXPECT_THAT([] { kChecks.Width(9, 8, 5); },
              ThrowsMessage<std::invalid_argument>(
                  StrEq("Container: width of block 5 is 9, not in 1..8")));
  kChecks.Level(7, 3, 0, 0);
  EXPECT_THAT([] { kChecks.Level(8, 3, 1, 2); },
              ThrowsMessage<std::invalid_argument>(StrEq(
                  "Container: level 8 at row 1, column 2 does not fit its block's width 3")));
}

}  // namespace
}  // namespace mc::runtime
