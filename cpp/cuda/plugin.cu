// The optional CUDA plugin: implements cpp/cuda/plugin_api.h with the CUDA runtime (linked
// statically, so the plugin needs libcuda.so.1 from the driver and nothing else from CUDA).
// Only `qkv_cuda_plugin_get` is exported; everything else has hidden visibility.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "cuda/plugin_api.h"

namespace {

// The message returned to the loader; valid until the next call on this thread.
thread_local std::string g_error;

const char* fail(const char* what, cudaError_t err) {
  g_error = std::string(what) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  return g_error.c_str();
}

const char* fail(const std::string& message) {
  g_error = message;
  return g_error.c_str();
}

#define QKV_CUDA_TRY(what, call)                \
  do {                                          \
    cudaError_t e_ = (call);                    \
    if (e_ != cudaSuccess) return fail(what, e_); \
  } while (0)

#define QKV_STR2(...) #__VA_ARGS__
#define QKV_STR(...) QKV_STR2(__VA_ARGS__)
#ifdef __CUDA_ARCH_LIST__
const char* const kArchitectures = QKV_STR(__CUDA_ARCH_LIST__);
#else
const char* const kArchitectures = "unknown";
#endif

// out = a + b, elementwise. Shapes: a, b, out [n]. Reference: the scalar loop `out[i] = a[i] + b[i]`.
__global__ void add_f32_kernel(const float* __restrict__ a, const float* __restrict__ b,
                               float* __restrict__ out, uint64_t n) {
  const uint64_t stride = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    out[i] = a[i] + b[i];
  }
}

// Device memory freed on every path out of a function.
struct DeviceBuffer {
  void* ptr = nullptr;
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
};

const char* device_count(int32_t* count) {
  if (!count) return fail("device_count: null output pointer");
  *count = 0;
  int n = 0;
  QKV_CUDA_TRY("cudaGetDeviceCount", cudaGetDeviceCount(&n));
  *count = n;
  return nullptr;
}

const char* versions(int32_t* runtime_version, int32_t* driver_version) {
  if (!runtime_version || !driver_version) return fail("versions: null output pointer");
  int rt = 0, drv = 0;
  *runtime_version = 0;
  *driver_version = 0;
  QKV_CUDA_TRY("cudaRuntimeGetVersion", cudaRuntimeGetVersion(&rt));
  *runtime_version = rt;
  QKV_CUDA_TRY("cudaDriverGetVersion", cudaDriverGetVersion(&drv));
  *driver_version = drv;
  return nullptr;
}

const char* check_device(int32_t device) {
  int n = 0;
  QKV_CUDA_TRY("cudaGetDeviceCount", cudaGetDeviceCount(&n));
  if (device < 0 || device >= n) {
    char msg[96];
    std::snprintf(msg, sizeof(msg), "device %d out of range: %d CUDA device(s)", static_cast<int>(device), n);
    return fail(std::string(msg));
  }
  return nullptr;
}

const char* device_info(int32_t device, qkv_cuda_device_info* out) {
  if (!out) return fail("device_info: null output pointer");
  std::memset(out, 0, sizeof(*out));
  if (const char* e = check_device(device)) return e;
  cudaDeviceProp prop;
  QKV_CUDA_TRY("cudaGetDeviceProperties", cudaGetDeviceProperties(&prop, device));
  std::snprintf(out->name, sizeof(out->name), "%s", prop.name);
  out->total_memory = static_cast<uint64_t>(prop.totalGlobalMem);
  out->compute_major = prop.major;
  out->compute_minor = prop.minor;
  out->multiprocessors = prop.multiProcessorCount;
  return nullptr;
}

const char* add_f32(int32_t device, const float* host_a, const float* host_b, float* host_out,
                    uint64_t n) {
  if (n == 0) return nullptr;
  if (!host_a || !host_b || !host_out) return fail("add_f32: null pointer");
  if (const char* e = check_device(device)) return e;
  QKV_CUDA_TRY("cudaSetDevice", cudaSetDevice(device));
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  DeviceBuffer a, b, out;
  QKV_CUDA_TRY("cudaMalloc", cudaMalloc(&a.ptr, bytes));
  QKV_CUDA_TRY("cudaMalloc", cudaMalloc(&b.ptr, bytes));
  QKV_CUDA_TRY("cudaMalloc", cudaMalloc(&out.ptr, bytes));
  QKV_CUDA_TRY("cudaMemcpy (host to device)", cudaMemcpy(a.ptr, host_a, bytes, cudaMemcpyHostToDevice));
  QKV_CUDA_TRY("cudaMemcpy (host to device)", cudaMemcpy(b.ptr, host_b, bytes, cudaMemcpyHostToDevice));
  const int threads = 256;
  uint64_t blocks64 = (n + threads - 1) / threads;
  const int blocks = static_cast<int>(blocks64 < 65535 ? blocks64 : 65535);  // grid-stride loop covers the rest
  add_f32_kernel<<<blocks, threads>>>(static_cast<const float*>(a.ptr), static_cast<const float*>(b.ptr),
                                      static_cast<float*>(out.ptr), n);
  QKV_CUDA_TRY("add_f32_kernel launch", cudaGetLastError());
  QKV_CUDA_TRY("cudaMemcpy (device to host)", cudaMemcpy(host_out, out.ptr, bytes, cudaMemcpyDeviceToHost));
  return nullptr;
}

const qkv_cuda_plugin_v1 kPlugin = {
    QKV_CUDA_PLUGIN_ABI_VERSION,
    static_cast<uint32_t>(sizeof(qkv_cuda_plugin_v1)),
    kArchitectures,
    device_count,
    versions,
    device_info,
    add_f32,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const qkv_cuda_plugin* qkv_cuda_plugin_get(
    uint32_t requested_abi) {
  return requested_abi == QKV_CUDA_PLUGIN_ABI_VERSION ? &kPlugin : nullptr;
}
