// The device tables and the checks every dispatch shares.
#include "backend/backend.h"

#include <string>

#include "core/error.h"

namespace qkv::backend {

Backend make_cpu_backend() {
  Backend b;
  b.device = Device::CPU;
#define QKV_BACKEND_SET(name, ret, params) b.name = &cpu_impl::name;
  QKV_BACKEND_OPS(QKV_BACKEND_SET)
#undef QKV_BACKEND_SET
  return b;
}

// Each table is made on its device's first use: CUDA's looks at the plugin, which CPU work must
// never load.
const Backend& backend(Device d) {
  switch (d) {
    case Device::CPU: {
      static const Backend cpu = make_cpu_backend();
      return cpu;
    }
    case Device::Guarded: {
      static const Backend guarded = make_guarded_backend();
      return guarded;
    }
    case Device::CUDA: {
      static const Backend cuda = make_cuda_backend();
      return cuda;
    }
  }
  throw Error(ErrorKind::Unsupported, "no op table for this device");
}

[[noreturn]] void not_on_device(Device d, const char* op) {
  throw Error(ErrorKind::Unsupported, std::string(op) + ": not implemented on device " + device_name(d));
}

namespace {
[[noreturn]] void mixed(Device a, Device b, const char* op) {
  throw_range(std::string(op) + ": the tensors are on different devices (" + device_name(a) + " and " + device_name(b) +
              "); move them to one device first");
}
}  // namespace

Device common_device(std::initializer_list<const Tensor*> inputs, const char* op) {
  bool seen = false;
  Device d = current_device();
  for (const Tensor* t : inputs) {
    if (!t || !t->defined()) continue;
    if (!seen) d = t->device(), seen = true;
    else if (t->device() != d) mixed(d, t->device(), op);
  }
  return d;
}

Device common_device(const std::vector<Tensor>& inputs, const char* op) {
  bool seen = false;
  Device d = current_device();
  for (const Tensor& t : inputs) {
    if (!t.defined()) continue;
    if (!seen) d = t.device(), seen = true;
    else if (t.device() != d) mixed(d, t.device(), op);
  }
  return d;
}

}  // namespace qkv::backend
