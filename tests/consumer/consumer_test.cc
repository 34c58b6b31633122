// Uses model_compression's public targets as an outside project does.
#include <gtest/gtest.h>

#include "common/status_macros.h"

namespace {

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
  ASSERT_TRUE(Quarter(12).ok());
  EXPECT_EQ(*Quarter(12), 3);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
