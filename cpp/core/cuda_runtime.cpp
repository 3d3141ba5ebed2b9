#include "core/cuda_runtime.h"

#include <algorithm>
#include <mutex>

#include "core/device.h"

namespace qkv::cuda {
namespace {

std::mutex g_mu;
bool g_ready = false;
const qkv_cuda_table_v2* g_table = nullptr;  // set once ready; read by the allocator

void* device_alloc(size_t nbytes) {
  void* p = nullptr;
  // Storage never asks for 0 bytes of a real buffer, but the ABI wants at least one.
  if (g_table->alloc(&p, std::max<size_t>(nbytes, 1)) != QKV_CUDA_OK) return nullptr;
  return p;
}

void device_free(void* p) { g_table->free(p); }

[[noreturn]] void unavailable(const char* op) {
  const Info& i = info();
  throw Error(ErrorKind::Unsupported, std::string(op) + ": CUDA is not available: " +
                                          (i.reason.empty() ? std::string("unknown reason") : i.reason));
}

}  // namespace

void check(const qkv_cuda_table_v2& p, qkv_cuda_status status, const char* op) {
  if (status == QKV_CUDA_OK) return;
  const std::string message = std::string(op) + ": " + p.last_error();
  if (status == QKV_CUDA_ERR_RANGE) throw_range(message);
  throw CudaError(message);
}

const qkv_cuda_table_v2& runtime(const char* op) {
  const qkv_cuda_table_v2* p = plugin_table();
  // A forced load is tried even without a driver, so that the runtime's own error comes back.
  if (!p || !(available() || forced())) unavailable(op);
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_ready) {
    check(*p, p->select_device(0), op);
    g_table = p;
    register_allocator(Device::CUDA, Allocator{device_alloc, device_free});
    g_ready = true;
  }
  return *p;
}

namespace {
// Device memory freed on every path out of add_f32.
struct Buffer {
  const qkv_cuda_table_v2& p;
  void* ptr = nullptr;
  Buffer(const qkv_cuda_table_v2& table, size_t nbytes, const char* op) : p(table) { check(p, p.alloc(&ptr, nbytes), op); }
  ~Buffer() { p.free(ptr); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};
}  // namespace

void add_f32(const float* a, const float* b, float* out, size_t n, int device) {
  const char* op = "cuda.add";
  const qkv_cuda_table_v2& p = runtime(op);
  const Info& i = info();
  if (i.available && (device < 0 || device >= i.device_count)) {
    throw Error(ErrorKind::Range, std::string(op) + ": device " + std::to_string(device) + " out of range [0, " +
                                      std::to_string(i.device_count) + ")");
  }
  // Another device is a diagnostic of that device: the process's selection moves to it for the
  // call (under the lock, so no second activation interleaves) and back to 0 after.
  std::lock_guard<std::mutex> lock(g_mu);
  if (device != 0) check(p, p.select_device(device), op);
  struct Restore {
    const qkv_cuda_table_v2& p;
    bool on;
    ~Restore() { if (on) p.select_device(0); }
  } restore{p, device != 0};
  if (n == 0) return;
  const size_t bytes = n * sizeof(float);
  Buffer da(p, bytes, op), db(p, bytes, op), dout(p, bytes, op);
  const qkv_cuda_stream s = stream();
  check(p, p.copy_to_device(s, da.ptr, a, bytes), op);
  check(p, p.copy_to_device(s, db.ptr, b, bytes), op);
  check(p, p.add_f32(s, static_cast<const float*>(da.ptr), static_cast<const float*>(db.ptr), static_cast<float*>(dout.ptr), n), op);
  check(p, p.copy_to_host(s, out, dout.ptr, bytes), op);
}

}  // namespace qkv::cuda
