#pragma once
// Devices, their allocators, and who may touch their memory.
//
// Every tensor's storage belongs to a device. The host (any code outside a device's own op
// implementations, cpp/backend/) may read and write only CPU memory directly. The guarded device
// is the proof of that rule without a GPU: its memory is ordinary host memory, but Tensor::data()
// and raw() refuse it (Error ERR_DEVICE) unless the calling thread is inside one of the guarded
// device's op implementations (a HostAccessScope, which the thread pool hands on to its workers).
// QKV_DEVICE_GUARD=1 makes it the default device for the whole process, so that any code that
// bypasses dispatch fails loudly on a CPU-only machine long before a GPU is there to find it.
#include <cstddef>
#include <cstdint>

namespace qkv {

enum class Device : uint8_t { CPU = 0, CUDA = 1, Guarded = 2 };
constexpr int kDeviceCount = 3;

const char* device_name(Device d);  // "cpu", "cuda", "guarded"
// The device new tensors are made on: Guarded under QKV_DEVICE_GUARD=1, else the CPU.
Device default_device();

// ---- allocators -----------------------------------------------------------------------------------
// One per device; CUDA's comes from the plugin when it is loaded (none until then).
struct Allocator {
  void* (*alloc)(size_t nbytes) = nullptr;  // null on failure
  void (*free)(void* p) = nullptr;
};
const Allocator& allocator_for(Device d);  // Error(Unsupported) for a device without one
void register_allocator(Device d, const Allocator& a);

// ---- the calling thread's execution context --------------------------------------------------------
// The device whose op is running (new tensors default to it) and whether host access to non-CPU
// memory is open. Pool tasks run with the context of the thread that started them.
struct ThreadContext {
  Device device;
  bool in_op = false;  // `device` is set by an op implementation (else default_device() applies)
  int host_access = 0;
};
ThreadContext thread_context();
void set_thread_context(const ThreadContext& c);

// The device allocations go to: the running op's device, else default_device().
Device current_device();

// Marks the calling thread as running an op implementation of `d` for its lifetime: tensors it
// allocates without naming a device go to `d`, and for the devices whose memory the host cannot
// touch (all but the CPU) host access opens for the scope.
class DeviceScope {
 public:
  explicit DeviceScope(Device d);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  ThreadContext saved_;
};

// Throws Error(Device) unless memory of `d` may be touched by the calling thread now.
void check_host_access(Device d, const char* what);

}  // namespace qkv
