#pragma once
// Errors as values: a Result<T> holds either a T or the message saying why there is none.
// [[nodiscard]], so a failure cannot be dropped silently; the message is written for the
// report or the log (it names what failed and why).

#include <optional>
#include <string>
#include <utility>

namespace kvip {

// The failure side of a Result: `return Error{"..."};` from a function returning Result<T>.
struct Error {
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}              // NOLINT: implicit, like std::optional
  Result(Error error) : error_(std::move(error.message)) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  // Empty when ok().
  const std::string& error() const { return error_; }

 private:
  std::optional<T> value_;
  std::string error_;
};

}  // namespace kvip
