// File: status_macros.h
// Propagation macros for absl::Status and absl::StatusOr<T>. Abseil 20220623 has no
// ABSL_RETURN_IF_ERROR / ABSL_ASSIGN_OR_RETURN; these have the same shape so that moving to
// Abseil's own is a find-and-replace.
//
// Example:
//   absl::StatusOr<Dataset> Load(const std::string& dir) {
//     MC_ASSIGN_OR_RETURN(std::string bytes, ReadFile(dir + "/labels"));
//     MC_RETURN_IF_ERROR(CheckHeader(bytes));
//     return Dataset(bytes);
//   }
#ifndef MC_COMMON_STATUS_MACROS_H_
#define MC_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

/// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define MC_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::absl::Status mc_status_ = (expr);          \
    if (!mc_status_.ok()) return mc_status_;     \
  } while (false)

/// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status if not OK, otherwise
/// move-assigns its value to `lhs`, which may be a declaration (`auto x`, `T x`).
#define MC_ASSIGN_OR_RETURN(lhs, rexpr) \
  MC_ASSIGN_OR_RETURN_IMPL_(MC_STATUS_MACROS_CONCAT_(mc_statusor_, __LINE__), lhs, rexpr)

#define MC_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#define MC_STATUS_MACROS_CONCAT_INNER_(x, y) x##y
#define MC_STATUS_MACROS_CONCAT_(x, y) MC_STATUS_MACROS_CONCAT_INNER_(x, y)

#endif  // MC_COMMON_STATUS_MACROS_H_
