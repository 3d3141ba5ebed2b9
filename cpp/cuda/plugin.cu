// The optional CUDA plugin: implements cpp/cuda/plugin_api.h (ABI version 2) with the CUDA runtime
// (linked statically, so the plugin needs libcuda.so.1 from the driver and nothing else from CUDA).
// Devices, memory, copies and streams are real; of the op kernels only fill and copy exist, the
// other slots stay NULL. Only the entry point is exported; everything else has hidden visibility.
#include <cuda_runtime.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "cuda/plugin_api.h"

namespace {

// The message of this thread's last failure (plugin_api.h: valid until its next failing call).
thread_local std::string g_error;

qkv_cuda_status fail(const char* what, cudaError_t err) {
  g_error = std::string(what) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  return QKV_CUDA_ERR_CUDA;
}

qkv_cuda_status fail(qkv_cuda_status status, const std::string& message) {
  g_error = message;
  return status;
}

const char* last_error() { return g_error.c_str(); }

#define QKV_CUDA_TRY(what, call)                   \
  do {                                             \
    cudaError_t e_ = (call);                       \
    if (e_ != cudaSuccess) return fail(what, e_);  \
  } while (0)

#define QKV_CUDA_CHECK(status)                     \
  do {                                             \
    qkv_cuda_status s_ = (status);                 \
    if (s_ != QKV_CUDA_OK) return s_;              \
  } while (0)

#define QKV_STR2(...) #__VA_ARGS__
#define QKV_STR(...) QKV_STR2(__VA_ARGS__)
#ifdef __CUDA_ARCH_LIST__
const char* const kArchitectures = QKV_STR(__CUDA_ARCH_LIST__);
#else
const char* const kArchitectures = "unknown";
#endif

cudaStream_t as_cuda(qkv_cuda_stream s) { return reinterpret_cast<cudaStream_t>(s); }

// ---- devices ----------------------------------------------------------------------------------
// The CUDA runtime's current device is per thread; the ABI's selection is per process. Each entry
// point makes the selected device current on its thread when that thread has not seen it yet.
std::atomic<int> g_device{0};
thread_local int t_applied = -1;

qkv_cuda_status check_device(int32_t device) {
  int n = 0;
  QKV_CUDA_TRY("cudaGetDeviceCount", cudaGetDeviceCount(&n));
  if (device < 0 || device >= n) {
    char msg[96];
    std::snprintf(msg, sizeof(msg), "device %d out of range: %d CUDA device(s)", static_cast<int>(device), n);
    return fail(QKV_CUDA_ERR_ARGUMENT, msg);
  }
  return QKV_CUDA_OK;
}

qkv_cuda_status on_device() {
  const int d = g_device.load(std::memory_order_acquire);
  if (t_applied == d) return QKV_CUDA_OK;
  QKV_CUDA_TRY("cudaSetDevice", cudaSetDevice(d));
  t_applied = d;
  return QKV_CUDA_OK;
}

qkv_cuda_status device_count(int32_t* count) {
  if (!count) return fail(QKV_CUDA_ERR_ARGUMENT, "device_count: null output pointer");
  *count = 0;
  int n = 0;
  QKV_CUDA_TRY("cudaGetDeviceCount", cudaGetDeviceCount(&n));
  *count = n;
  return QKV_CUDA_OK;
}

qkv_cuda_status versions(int32_t* runtime_version, int32_t* driver_version) {
  if (!runtime_version || !driver_version) return fail(QKV_CUDA_ERR_ARGUMENT, "versions: null output pointer");
  int rt = 0, drv = 0;
  *runtime_version = 0;
  *driver_version = 0;
  QKV_CUDA_TRY("cudaRuntimeGetVersion", cudaRuntimeGetVersion(&rt));
  *runtime_version = rt;
  QKV_CUDA_TRY("cudaDriverGetVersion", cudaDriverGetVersion(&drv));
  *driver_version = drv;
  return QKV_CUDA_OK;
}

qkv_cuda_status device_info(int32_t device, qkv_cuda_device_info* out) {
  if (!out) return fail(QKV_CUDA_ERR_ARGUMENT, "device_info: null output pointer");
  std::memset(out, 0, sizeof(*out));
  QKV_CUDA_CHECK(check_device(device));
  cudaDeviceProp prop;
  QKV_CUDA_TRY("cudaGetDeviceProperties", cudaGetDeviceProperties(&prop, device));
  std::snprintf(out->name, sizeof(out->name), "%s", prop.name);
  out->total_memory = static_cast<uint64_t>(prop.totalGlobalMem);
  out->compute_major = prop.major;
  out->compute_minor = prop.minor;
  out->multiprocessors = prop.multiProcessorCount;
  return QKV_CUDA_OK;
}

qkv_cuda_status select_device(int32_t device) {
  QKV_CUDA_CHECK(check_device(device));
  QKV_CUDA_TRY("cudaSetDevice", cudaSetDevice(device));  // creates the context now, not at the first op
  g_device.store(device, std::memory_order_release);
  t_applied = device;
  return QKV_CUDA_OK;
}

// ---- memory -----------------------------------------------------------------------------------
qkv_cuda_status alloc(void** out, uint64_t nbytes) {
  if (!out) return fail(QKV_CUDA_ERR_ARGUMENT, "alloc: null output pointer");
  *out = nullptr;
  if (nbytes == 0) return fail(QKV_CUDA_ERR_ARGUMENT, "alloc: 0 bytes");
  QKV_CUDA_CHECK(on_device());
  QKV_CUDA_TRY("cudaMalloc", cudaMalloc(out, static_cast<size_t>(nbytes)));
  return QKV_CUDA_OK;
}

void free_memory(void* ptr) {
  if (ptr && on_device() == QKV_CUDA_OK) cudaFree(ptr);
}

qkv_cuda_status memset_async(qkv_cuda_stream s, void* dst, int32_t byte, uint64_t nbytes) {
  if (nbytes == 0) return QKV_CUDA_OK;
  QKV_CUDA_CHECK(on_device());
  QKV_CUDA_TRY("cudaMemsetAsync", cudaMemsetAsync(dst, byte, static_cast<size_t>(nbytes), as_cuda(s)));
  return QKV_CUDA_OK;
}

// Host copies wait for the stream so that the host buffer may be reused (or read) on return.
qkv_cuda_status host_copy(qkv_cuda_stream s, void* dst, const void* src, uint64_t nbytes, cudaMemcpyKind kind,
                          const char* what) {
  if (nbytes == 0) return QKV_CUDA_OK;
  if (!dst || !src) return fail(QKV_CUDA_ERR_ARGUMENT, std::string(what) + ": null pointer");
  QKV_CUDA_CHECK(on_device());
  QKV_CUDA_TRY(what, cudaMemcpyAsync(dst, src, static_cast<size_t>(nbytes), kind, as_cuda(s)));
  QKV_CUDA_TRY("cudaStreamSynchronize", cudaStreamSynchronize(as_cuda(s)));
  return QKV_CUDA_OK;
}

qkv_cuda_status copy_to_device(qkv_cuda_stream s, void* dst, const void* host_src, uint64_t nbytes) {
  return host_copy(s, dst, host_src, nbytes, cudaMemcpyHostToDevice, "cudaMemcpyAsync (host to device)");
}

qkv_cuda_status copy_to_host(qkv_cuda_stream s, void* host_dst, const void* src, uint64_t nbytes) {
  return host_copy(s, host_dst, src, nbytes, cudaMemcpyDeviceToHost, "cudaMemcpyAsync (device to host)");
}

qkv_cuda_status copy_on_device(qkv_cuda_stream s, void* dst, const void* src, uint64_t nbytes) {
  if (nbytes == 0) return QKV_CUDA_OK;
  QKV_CUDA_CHECK(on_device());
  QKV_CUDA_TRY("cudaMemcpyAsync (device to device)",
               cudaMemcpyAsync(dst, src, static_cast<size_t>(nbytes), cudaMemcpyDeviceToDevice, as_cuda(s)));
  return QKV_CUDA_OK;
}

// ---- streams ----------------------------------------------------------------------------------
qkv_cuda_status stream_create(qkv_cuda_stream* out) {
  if (!out) return fail(QKV_CUDA_ERR_ARGUMENT, "stream_create: null output pointer");
  *out = nullptr;
  QKV_CUDA_CHECK(on_device());
  cudaStream_t s = nullptr;
  QKV_CUDA_TRY("cudaStreamCreateWithFlags", cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  *out = reinterpret_cast<qkv_cuda_stream>(s);
  return QKV_CUDA_OK;
}

qkv_cuda_status stream_destroy(qkv_cuda_stream s) {
  if (!s) return QKV_CUDA_OK;  // the default stream is not ours to destroy
  QKV_CUDA_CHECK(on_device());
  QKV_CUDA_TRY("cudaStreamDestroy", cudaStreamDestroy(as_cuda(s)));
  return QKV_CUDA_OK;
}

qkv_cuda_status stream_synchronize(qkv_cuda_stream s) {
  QKV_CUDA_CHECK(on_device());
  QKV_CUDA_TRY("cudaStreamSynchronize", cudaStreamSynchronize(as_cuda(s)));
  return QKV_CUDA_OK;
}

// ---- kernels ----------------------------------------------------------------------------------
constexpr int kThreads = 256;

int blocks_for(uint64_t n) {
  const uint64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 ? b : 65535);  // grid-stride loops cover the rest
}

qkv_cuda_status launched(const char* what) {
  QKV_CUDA_TRY(what, cudaGetLastError());
  return QKV_CUDA_OK;
}

int64_t numel(qkv_cuda_t t) {
  int64_t n = 1;
  for (int32_t i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

size_t dtype_size(int32_t dtype) { return dtype == QKV_CUDA_F64 ? 8 : 4; }

// out = a + b, elementwise. Shapes: a, b, out [n]. Reference: the scalar loop `out[i] = a[i] + b[i]`.
__global__ void add_f32_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out,
                               uint64_t n) {
  const uint64_t stride = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) out[i] = a[i] + b[i];
}

qkv_cuda_status add_f32(qkv_cuda_stream s, const float* a, const float* b, float* out, uint64_t n) {
  if (n == 0) return QKV_CUDA_OK;
  if (!a || !b || !out) return fail(QKV_CUDA_ERR_ARGUMENT, "add_f32: null pointer");
  QKV_CUDA_CHECK(on_device());
  add_f32_kernel<<<blocks_for(n), kThreads, 0, as_cuda(s)>>>(a, b, out, n);
  return launched("add_f32_kernel launch");
}

// p[i] = v for i < n. Reference: std::fill.
template <class T>
__global__ void fill_kernel(T* __restrict__ p, T v, uint64_t n) {
  const uint64_t stride = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) p[i] = v;
}

qkv_cuda_status fill(qkv_cuda_stream s, qkv_cuda_t dst, double value) {
  const uint64_t n = static_cast<uint64_t>(numel(dst));
  if (n == 0) return QKV_CUDA_OK;
  QKV_CUDA_CHECK(on_device());
  cudaStream_t st = as_cuda(s);
  switch (dst->dtype) {
    case QKV_CUDA_F32: fill_kernel<float><<<blocks_for(n), kThreads, 0, st>>>(static_cast<float*>(dst->data), static_cast<float>(value), n); break;
    case QKV_CUDA_F64: fill_kernel<double><<<blocks_for(n), kThreads, 0, st>>>(static_cast<double*>(dst->data), value, n); break;
    case QKV_CUDA_I32: fill_kernel<int32_t><<<blocks_for(n), kThreads, 0, st>>>(static_cast<int32_t*>(dst->data), static_cast<int32_t>(value), n); break;
    default: return fail(QKV_CUDA_ERR_ARGUMENT, "fill: unknown dtype");
  }
  return launched("fill_kernel launch");
}

// A strided layout small enough to pass by value: dims merged where both sides are contiguous
// across them, size-1 dims dropped (as the CPU's copy does).
constexpr int kMaxDims = 8;
struct Layout {
  int nd;
  int64_t dims[kMaxDims], src[kMaxDims], dst[kMaxDims];
};

bool collapse(qkv_cuda_t src, qkv_cuda_t dst, Layout* c) {
  c->nd = 0;
  for (int32_t i = 0; i < dst->ndim; ++i) {
    const int64_t n = dst->shape[i];
    if (n == 1) continue;
    if (c->nd > 0 && c->src[c->nd - 1] == src->strides[i] * n && c->dst[c->nd - 1] == dst->strides[i] * n) {
      c->dims[c->nd - 1] *= n;
      c->src[c->nd - 1] = src->strides[i];
      c->dst[c->nd - 1] = dst->strides[i];
      continue;
    }
    if (c->nd == kMaxDims) return false;
    c->dims[c->nd] = n;
    c->src[c->nd] = src->strides[i];
    c->dst[c->nd] = dst->strides[i];
    ++c->nd;
  }
  return true;
}

// dst = src element by element over a strided layout; E is a same-size integer (copies are bitwise).
// Reference: backend/cpu_memory.cpp's copy_strided.
template <class E>
__global__ void copy_strided_kernel(const E* __restrict__ src, E* __restrict__ dst, Layout c, uint64_t n) {
  const uint64_t stride = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    uint64_t rem = i;
    int64_t so = 0, dof = 0;
    for (int d = c.nd - 1; d >= 0; --d) {
      const int64_t idx = static_cast<int64_t>(rem % static_cast<uint64_t>(c.dims[d]));
      rem /= static_cast<uint64_t>(c.dims[d]);
      so += idx * c.src[d];
      dof += idx * c.dst[d];
    }
    dst[dof] = src[so];
  }
}

qkv_cuda_status copy(qkv_cuda_stream s, qkv_cuda_t src, qkv_cuda_t dst) {
  const uint64_t n = static_cast<uint64_t>(numel(dst));
  if (n == 0) return QKV_CUDA_OK;
  Layout c;
  if (!collapse(src, dst, &c)) return fail(QKV_CUDA_ERR_ARGUMENT, "copy: more than 8 non-mergeable dims");
  if (c.nd == 0 || (c.nd == 1 && c.src[0] == 1 && c.dst[0] == 1))
    return copy_on_device(s, dst->data, src->data, n * dtype_size(dst->dtype));
  QKV_CUDA_CHECK(on_device());
  cudaStream_t st = as_cuda(s);
  if (dtype_size(dst->dtype) == 8)
    copy_strided_kernel<uint64_t><<<blocks_for(n), kThreads, 0, st>>>(static_cast<const uint64_t*>(src->data), static_cast<uint64_t*>(dst->data), c, n);
  else
    copy_strided_kernel<uint32_t><<<blocks_for(n), kThreads, 0, st>>>(static_cast<const uint32_t*>(src->data), static_cast<uint32_t*>(dst->data), c, n);
  return launched("copy_strided_kernel launch");
}

// The table. Members not set here (the op kernels not written yet) stay NULL.
qkv_cuda_table_v2 make_plugin() {
  qkv_cuda_table_v2 p;
  std::memset(&p, 0, sizeof(p));
  p.abi_version = QKV_CUDA_ABI_VERSION;
  p.struct_size = static_cast<uint32_t>(sizeof(qkv_cuda_table_v2));
  p.cuda_architectures = kArchitectures;
  p.device_count = device_count;
  p.versions = versions;
  p.device_info = device_info;
  p.select_device = select_device;
  p.last_error = last_error;
  p.alloc = alloc;
  p.free = free_memory;
  p.memset = memset_async;
  p.copy_to_device = copy_to_device;
  p.copy_to_host = copy_to_host;
  p.copy_on_device = copy_on_device;
  p.stream_create = stream_create;
  p.stream_destroy = stream_destroy;
  p.stream_synchronize = stream_synchronize;
  p.add_f32 = add_f32;
  p.fill = fill;
  p.copy = copy;
  return p;
}

const qkv_cuda_table_v2 kPlugin = make_plugin();

}  // namespace

extern "C" __attribute__((visibility("default"))) const qkv_cuda_table_v2* qkv_cuda_plugin_v2() { return &kPlugin; }
