#include "core/device.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "core/error.h"
#include "core/host_memory.h"

namespace qkv {

namespace {

struct Allocators {
  std::mutex mu;
  Allocator table[kDeviceCount];
  Allocators() {
    table[static_cast<int>(Device::CPU)] = {host_alloc, host_free};
    table[static_cast<int>(Device::Guarded)] = {host_alloc, host_free};
  }
};

Allocators& allocators() {
  static Allocators* a = new Allocators();  // never destroyed: storages may outlive static destruction
  return *a;
}

thread_local ThreadContext t_context{Device::CPU, false, 0};

}  // namespace

const char* device_name(Device d) {
  switch (d) {
    case Device::CPU: return "cpu";
    case Device::CUDA: return "cuda";
    case Device::Guarded: return "guarded";
  }
  return "cpu";
}

Device default_device() {
  static const Device d = [] {
    const char* v = std::getenv("QKV_DEVICE_GUARD");
    return v && std::strcmp(v, "1") == 0 ? Device::Guarded : Device::CPU;
  }();
  return d;
}

const Allocator& allocator_for(Device d) {
  Allocators& a = allocators();
  std::lock_guard<std::mutex> lock(a.mu);
  const Allocator& r = a.table[static_cast<int>(d)];
  if (!r.alloc) throw Error(ErrorKind::Unsupported, std::string("no memory is available on device ") + device_name(d));
  return r;
}

void register_allocator(Device d, const Allocator& alloc) {
  Allocators& a = allocators();
  std::lock_guard<std::mutex> lock(a.mu);
  a.table[static_cast<int>(d)] = alloc;
}

ThreadContext thread_context() { return t_context; }
void set_thread_context(const ThreadContext& c) { t_context = c; }

Device current_device() { return t_context.in_op ? t_context.device : default_device(); }

DeviceScope::DeviceScope(Device d) : saved_(t_context) {
  t_context.device = d;
  t_context.in_op = true;
  if (d != Device::CPU) ++t_context.host_access;
}

DeviceScope::~DeviceScope() { t_context = saved_; }

void check_host_access(Device d, const char* what) {
  if (d == Device::CPU || t_context.host_access > 0) return;
  throw Error(ErrorKind::Device, std::string(what) + ": the memory of a " + device_name(d) +
                                     " tensor was touched outside that device's op implementations (go through an op, or "
                                     "copy it to the host)");
}

}  // namespace qkv
