// Uses model_compression's public targets as an outside project does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_macros.h"
#include "common/status_matchers.h"

namespace {

using ::mc::IsOkAndHolds;
using ::mc::StatusIs;

absl::StatusOr<int> Half(int value) {
  if (value % 2 != 0) return absl::InvalidArgumentError("odd");
  return value / 2;
}

absl::StatusOr<int> Quarter(int value) {
  MC_ASSIGN_OR_RETURN(int half, Half(value));
  return Half(half);
}

// Tests that @model_compression//common:status_macros propagates values and errors.
TEST(ConsumerTest, StatusMacros) {
  EXPECT_THAT(Quarter(12), IsOkAndHolds(3));
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument, "odd"));
}

}  // namespace
