// Status helpers. Debian 12's Abseil (20220623) has no ABSL_RETURN_IF_ERROR, so we define our own
// with the same meaning; swap for Abseil's once the distribution ships them.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define QWEN_STATUS_CONCAT_INNER_(a, b) a##b
#define QWEN_STATUS_CONCAT_(a, b) QWEN_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if it is not OK.
#define QWEN_RETURN_IF_ERROR(expr)                   \
  do {                                               \
    ::absl::Status qwen_status_ = (expr);            \
    if (!qwen_status_.ok()) return qwen_status_;     \
  } while (0)

// `lhs` = value of `rexpr` (an absl::StatusOr<T>), or returns its error from the enclosing function.
#define QWEN_ASSIGN_OR_RETURN(lhs, rexpr) \
  QWEN_ASSIGN_OR_RETURN_IMPL_(QWEN_STATUS_CONCAT_(qwen_statusor_, __LINE__), lhs, rexpr)

#define QWEN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
