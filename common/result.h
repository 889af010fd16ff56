// Result<T>: errors as values, carrying errno, the failed operation and its context.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace ember {

struct Error {
  int code = 0;         // errno value, or 0 when the error is not a system call failure
  std::string op;       // what was being done, e.g. "open kernel image"
  std::string context;  // details: a path, a value, what to do about it

  // "op: context: strerror(code)", leaving out empty parts.
  std::string message() const;
};

// An error from the current errno.
Error errno_error(std::string op, std::string context = {});
// An error that is not a system call failure.
Error make_error(std::string op, std::string context = {});

// A value or an error. E is Error for everything but the API layer, which answers with
// its own error type (host/api/api_error.h).
template <typename T, typename E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(E error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(E error) : error_(std::move(error)), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const E& error() const { return error_; }

 private:
  E error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace ember

#define EMBER_CONCAT_INNER(a, b) a##b
#define EMBER_CONCAT(a, b) EMBER_CONCAT_INNER(a, b)

// Returns the error of a failed Status/Result from the enclosing function.
#define EMBER_CHECK(expr)                                   \
  do {                                                      \
    auto ember_check_result_ = (expr);                      \
    if (!ember_check_result_.ok()) return ember_check_result_.error(); \
  } while (0)

// EMBER_TRY(auto x, make_x()); declares x from a successful Result or returns its error.
#define EMBER_TRY(decl, expr) EMBER_TRY_IMPL(EMBER_CONCAT(ember_try_, __LINE__), decl, expr)
#define EMBER_TRY_IMPL(tmp, decl, expr)      \
  auto tmp = (expr);                         \
  if (!tmp.ok()) return tmp.error();         \
  decl = std::move(tmp).value()
