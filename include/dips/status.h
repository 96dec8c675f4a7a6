#pragma once
#include <string>
#include <utility>

namespace dips {

// The outcome of a fallible call: ok, or an error with a message a user can act on.
// Errors are values in dips; no exception crosses a library boundary or an MPI call.
class Status {
 public:
  // An ok status.
  Status() = default;
  // An error status with the given message (what failed, where, what to do).
  static Status Error(std::string message) { return Status(std::move(message)); }

  // True when the call succeeded.
  bool ok() const { return !failed_; }
  // The error message; empty when ok().
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

}  // namespace dips
