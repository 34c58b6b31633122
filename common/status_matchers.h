// File: status_matchers.h
// gMock matchers for absl::Status and absl::StatusOr<T> (Abseil 20220623 has none).
//
// Example:
//   EXPECT_THAT(ReadModelFile(path), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("CRC")));
//   EXPECT_THAT(status, IsOk());
//   MC_ASSERT_OK_AND_ASSIGN(Dataset dataset, Load(dir));
#ifndef MC_COMMON_STATUS_MATCHERS_H_
#define MC_COMMON_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mc::testing_internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }

template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace mc::testing_internal

namespace mc {

/// Matches a Status or StatusOr whose code is `code` and whose message matches `message`.
MATCHER_P2(StatusIs, code, message,
           "has code " + ::testing::PrintToString(code) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message)) {
  const absl::Status& status = ::mc::testing_internal::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message, std::string(status.message()), result_listener);
}

/// Matches a Status or StatusOr whose code is `code`, whatever the message.
MATCHER_P(StatusIs, code, "has code " + ::testing::PrintToString(code)) {
  const absl::Status& status = ::mc::testing_internal::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code;
}

/// Matches an OK Status or StatusOr.
MATCHER(IsOk, "is OK") {
  const absl::Status& status = ::mc::testing_internal::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.ok();
}

/// Matches an OK StatusOr whose value matches `value_matcher`.
MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace mc

/// Asserts that `rexpr` (an absl::StatusOr<T>) is OK, printing its status otherwise, and
/// move-assigns its value to `lhs`, which may be a declaration:
///   MC_ASSERT_OK_AND_ASSIGN(at::Tensor weight, Decode(stored));
#define MC_ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                                   \
  MC_ASSERT_OK_AND_ASSIGN_IMPL_(MC_STATUS_MATCHERS_CONCAT_(mc_assert_statusor_, __LINE__), lhs, \
                                rexpr)

#define MC_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  ASSERT_TRUE(statusor.ok()) << statusor.status();          \
  lhs = *std::move(statusor)

#define MC_STATUS_MATCHERS_CONCAT_INNER_(x, y) x##y
#define MC_STATUS_MATCHERS_CONCAT_(x, y) MC_STATUS_MATCHERS_CONCAT_INNER_(x, y)

#endif  // MC_COMMON_STATUS_MATCHERS_H_
