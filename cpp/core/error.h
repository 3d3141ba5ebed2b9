#pragma once
// Errors thrown by the core. The binding maps each kind to a JavaScript error class:
// Type -> TypeError, Range -> RangeError, everything else -> QkvError with a `code`.
#include <stdexcept>
#include <string>
#include <vector>
#include <cstdint>

namespace qkv {

enum class ErrorKind { Type, Range, Disposed, Format, IO, Aborted, NaN, Unsupported, Device, Cuda, Busy, Internal };

const char* error_code(ErrorKind kind);  // "ERR_DISPOSED", ...

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void throw_type(const std::string& m) { throw Error(ErrorKind::Type, m); }
[[noreturn]] inline void throw_range(const std::string& m) { throw Error(ErrorKind::Range, m); }

std::string shape_str(const std::vector<int64_t>& shape);  // "[2, 3]"

}  // namespace qkv
