#include "common/status_matchers.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace mc {
namespace {

absl::StatusOr<std::unique_ptr<std::string>> MakeString(bool ok) {
  if (!ok) return absl::NotFoundError("no string here");
  return std::make_unique<std::string>("value");
}

void AssignFromError() {
  MC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<std::string> value, MakeString(false));
  ADD_FAILURE() << "not reached: " << *value;
}

// Tests that MC_ASSERT_OK_AND_ASSIGN moves the value of an OK StatusOr into a declaration.
TEST(StatusMatchersTest, AssertOkAndAssignMovesTheValue) {
  MC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<std::string> value, MakeString(true));
  EXPECT_EQ(*value, "value");
  MC_ASSERT_OK_AND_ASSIGN(value, MakeString(true));  // and into an existing variable
  EXPECT_EQ(*value, "value");
}

// Tests that MC_ASSERT_OK_AND_ASSIGN fails fatally with the status and returns.
TEST(StatusMatchersTest, AssertOkAndAssignFailsOnError) {
  EXPECT_FATAL_FAILURE(AssignFromError(), "NOT_FOUND: no string here");
}

// Tests the matchers on an OK and a failed StatusOr.
TEST(StatusMatchersTest, Matchers) {
  EXPECT_THAT(MakeString(true), IsOk());
  EXPECT_THAT(MakeString(false), StatusIs(absl::StatusCode::kNotFound,
                                          ::testing::HasSubstr("no string")));
  EXPECT_THAT(absl::StatusOr<int>(3), IsOkAndHolds(3));
}

}  // namespace
}  // namespace mc
