#include "common/status_macros.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/status_matchers.h"

namespace {

using ::mc::IsOkAndHolds;
using ::mc::StatusIs;
using ::testing::HasSubstr;

absl::StatusOr<int> ParsePositive(int value) {
  if (value <= 0) return absl::InvalidArgumentError("value must be positive");
  return value;
}

absl::Status Check(bool ok) { return ok ? absl::OkStatus() : absl::DataLossError("bad"); }

absl::StatusOr<int> DoubledPlusOne(int value, bool ok) {
  MC_RETURN_IF_ERROR(Check(ok));
  MC_ASSIGN_OR_RETURN(int parsed, ParsePositive(value));
  return 2 * parsed + 1;
}

absl::StatusOr<std::unique_ptr<std::string>> MakeName(bool ok) {
  if (!ok) return absl::NotFoundError("no name");
  return std::make_unique<std::string>("resnet20");
}

absl::StatusOr<size_t> NameLength(bool ok) {
  std::unique_ptr<std::string> name;
  MC_ASSIGN_OR_RETURN(name, MakeName(ok));  // assigns to an existing, move-only variable
  return name->size();
}

// Tests that values flow through when every step succeeds.
TEST(StatusMacrosTest, PassesValuesThrough) {
  EXPECT_THAT(DoubledPlusOne(4, true), IsOkAndHolds(9));
  EXPECT_THAT(NameLength(true), IsOkAndHolds(8u));
}

// Tests that the first failing step's status is returned unchanged.
TEST(StatusMacrosTest, ReturnsFirstError) {
  EXPECT_THAT(DoubledPlusOne(4, false), StatusIs(absl::StatusCode::kDataLoss, "bad"));
  EXPECT_THAT(DoubledPlusOne(-1, true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("positive")));
  EXPECT_THAT(NameLength(false), StatusIs(absl::StatusCode::kNotFound, "no name"));
}

}  // namespace
