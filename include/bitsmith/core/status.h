// Status and Expected<T>: errors as values that carry context.
//
// Contract: library functions never abort on bad input; they return a Status whose message
// names the file, the place and what was expected, e.g.
//   "model.onnx: node 'conv3' (Conv): weight has rank 3, expected 4".
// Context is added outward with Status::with_context("model.onnx").
// The StatusCode maps onto the CLI's exit codes (see exit_code()).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace bitsmith {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad option / flag / recipe value            -> exit 1
  kInvalidModel,     // malformed or inconsistent model file         -> exit 2
  kIoError,          // missing file, read/write failure              -> exit 2
  kUnsupported,      // op, attribute or dtype this build can't handle -> exit 2
  kDataError,        // data file malformed, wrong shape or dtype     -> exit 2
  kGateFailed,       // a quality gate failed                         -> exit 3
  kInternal,         // a bug in bitsmith                             -> exit 2
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "prefix: message" (no-op on OK).
  Status with_context(const std::string& prefix) const;

  // CLI exit code for this status: 0 ok, 1 usage/options, 2 model/data/I/O, 3 gate failed.
  int exit_code() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Convenience constructors.
Status invalid_argument(std::string message);
Status invalid_model(std::string message);
Status io_error(std::string message);
Status unsupported(std::string message);
Status data_error(std::string message);
Status internal_error(std::string message);

// Expected<T>: a T or a non-OK Status (C++20 has no std::expected).
template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Expected(Status status) : v_(std::move(status)) {}   // NOLINT(google-explicit-constructor)

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; Status::ok() when a value is held.
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace bitsmith

#define BS_CONCAT_INNER_(a, b) a##b
#define BS_CONCAT_(a, b) BS_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define BS_TRY(expr)                                      \
  do {                                                    \
    ::bitsmith::Status bs_status_ = (expr);               \
    if (!bs_status_.is_ok()) return bs_status_;           \
  } while (0)

// `BS_ASSIGN_OR_RETURN(auto x, f());` declares x from an Expected or returns its Status.
#define BS_ASSIGN_OR_RETURN(lhs, expr) \
  BS_ASSIGN_OR_RETURN_IMPL_(BS_CONCAT_(bs_expected_, __LINE__), lhs, expr)
#define BS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.is_ok()) return tmp.status();          \
  lhs = std::move(tmp).value()
