#include "common/status_macros.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace {

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
  absl::StatusOr<int> result = DoubledPlusOne(4, true);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, 9);
  absl::StatusOr<size_t> length = NameLength(true);
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, 8u);
}

// Tests that the first failing step's status is returned unchanged.
TEST(StatusMacrosTest, ReturnsFirstError) {
  EXPECT_EQ(DoubledPlusOne(4, false).status().code(), absl::StatusCode::kDataLoss);
  absl::Status parse_error = DoubledPlusOne(-1, true).status();
  EXPECT_EQ(parse_error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parse_error.message()), testing::HasSubstr("positive"));
  EXPECT_EQ(NameLength(false).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
