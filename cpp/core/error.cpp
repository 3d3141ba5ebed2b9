#include "core/error.h"

namespace qkv {

const char* error_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Type: return "ERR_TYPE";
    case ErrorKind::Range: return "ERR_RANGE";
    case ErrorKind::Disposed: return "ERR_DISPOSED";
    case ErrorKind::Format: return "ERR_FORMAT";
    case ErrorKind::IO: return "ERR_IO";
    case ErrorKind::Aborted: return "ERR_ABORTED";
    case ErrorKind::NaN: return "ERR_NAN";
    case ErrorKind::Unsupported: return "ERR_UNSUPPORTED";
    case ErrorKind::Device: return "ERR_DEVICE";
    case ErrorKind::Cuda: return "ERR_CUDA";
    case ErrorKind::Busy: return "ERR_BUSY";
    case ErrorKind::Internal: return "ERR_INTERNAL";
  }
  return "ERR_INTERNAL";
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace qkv
