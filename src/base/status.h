// Recoverable errors as values. A Status carries a code and a message that
// names the offending field and value, and optionally that field's name and
// a short reason as data (what an API reports as `param` and `code`, so no
// caller parses the message to recover them); StatusOr<T> carries either a
// value or the Status that explains why there is none. Nothing here throws.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/check.h"

namespace tf {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // the caller (user, client, CLI flag) sent something bad
  kNotFound,           // a file, key or tensor that should exist does not
  kOutOfRange,         // a value outside what the operation accepts
  kDataLoss,           // a file is malformed or truncated
  kUnimplemented,      // valid input we do not support (yet)
  kResourceExhausted,  // memory, KV blocks, queue slots
  kFailedPrecondition, // the system is not in a state to do this
  kUnavailable,        // try again later
  kIoError,            // the OS refused a read/write/mmap
  kInternal,           // a bug on our side, reported instead of crashing
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "code: message", for logs.
  std::string ToString() const;

  // Prepends context ("loading model: ") so errors read from outer to inner.
  Status WithContext(std::string_view context) const;

  // The parameter (request field, flag) the error is about; empty if none.
  const std::string& param() const { return param_; }
  Status WithParam(std::string param) const;
  // A machine-readable reason, e.g. "context_length_exceeded"; empty if none.
  const std::string& reason() const { return reason_; }
  Status WithReason(std::string reason) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string param_;
  std::string reason_;
};

inline Status InvalidArgumentError(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status NotFoundError(std::string m) {
  return Status(StatusCode::kNotFound, std::move(m));
}
inline Status OutOfRangeError(std::string m) {
  return Status(StatusCode::kOutOfRange, std::move(m));
}
inline Status DataLossError(std::string m) {
  return Status(StatusCode::kDataLoss, std::move(m));
}
inline Status UnimplementedError(std::string m) {
  return Status(StatusCode::kUnimplemented, std::move(m));
}
inline Status ResourceExhaustedError(std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(m));
}
inline Status FailedPreconditionError(std::string m) {
  return Status(StatusCode::kFailedPrecondition, std::move(m));
}
inline Status UnavailableError(std::string m) {
  return Status(StatusCode::kUnavailable, std::move(m));
}
inline Status IoError(std::string m) {
  return Status(StatusCode::kIoError, std::move(m));
}
inline Status InternalError(std::string m) {
  return Status(StatusCode::kInternal, std::move(m));
}

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const Status& status) : data_(status) {  // NOLINT: implicit by design
    TF_CHECK(!status.ok()) << "StatusOr constructed from an OK status";
  }
  StatusOr(Status&& status) : data_(std::move(status)) {  // NOLINT
    TF_CHECK(!std::get<Status>(data_).ok()) << "StatusOr constructed from an OK status";
  }
  StatusOr(const T& value) : data_(value) {}        // NOLINT
  StatusOr(T&& value) : data_(std::move(value)) {}  // NOLINT
  template <typename U,
            typename = std::enable_if_t<std::is_convertible_v<U&&, T> &&
                                        !std::is_same_v<std::decay_t<U>, Status> &&
                                        !std::is_same_v<std::decay_t<U>, T>>>
  StatusOr(U&& value) : data_(T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(data_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(data_); }

  T& value() & {
    CheckOk();
    return std::get<T>(data_);
  }
  const T& value() const& {
    CheckOk();
    return std::get<T>(data_);
  }
  T&& value() && {
    CheckOk();
    return std::get<T>(std::move(data_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void CheckOk() const {
    TF_CHECK(ok()) << "StatusOr::value() on error: " << std::get<Status>(data_).ToString();
  }
  std::variant<Status, T> data_;
};

}  // namespace tf

#define TF_STATUS_CONCAT_INNER(a, b) a##b
#define TF_STATUS_CONCAT(a, b) TF_STATUS_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define TF_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::tf::Status tf_status_ = (expr);         \
    if (!tf_status_.ok()) return tf_status_;  \
  } while (0)

// `TF_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a StatusOr or returns its error.
#define TF_ASSIGN_OR_RETURN(lhs, expr) \
  TF_ASSIGN_OR_RETURN_IMPL(TF_STATUS_CONCAT(tf_statusor_, __LINE__), lhs, expr)
#define TF_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
