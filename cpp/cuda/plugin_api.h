#pragma once
/* The C ABI between the core (cpp/core/cuda_loader.cpp) and the optional CUDA plugin
 * (libqkv_cuda.so, built from the .cu files of cpp/cuda/ with a static CUDA runtime).
 *
 * The addon never links the plugin. It dlopen()s it from its own directory, only after
 * dlopen("libcuda.so.1") has shown that a driver exists, and then calls the single exported
 * entry point `qkv_cuda_plugin_get`, which returns a versioned table of function pointers.
 *
 * Rules of the table:
 *  - `abi_version` is QKV_CUDA_PLUGIN_ABI_VERSION of the plugin; the loader refuses any other.
 *  - `struct_size` is sizeof the plugin's table; later versions only append members, so a
 *    loader may use every member that lies below `struct_size`.
 *  - Every function returns NULL on success, or an error message ("cudaErrorX: text") that
 *    stays valid until the next call into the plugin on the same thread.
 *  - Pointers named host_* are host memory; the plugin copies to and from the device itself.
 * Plain C: no exceptions cross this boundary.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QKV_CUDA_PLUGIN_ABI_VERSION 1u
#define QKV_CUDA_PLUGIN_ENTRY "qkv_cuda_plugin_get"

typedef struct qkv_cuda_device_info {
  char name[256];
  uint64_t total_memory;     /* bytes */
  int32_t compute_major;     /* compute capability, e.g. 9.0 for H100/H200 */
  int32_t compute_minor;
  int32_t multiprocessors;
  int32_t reserved;
} qkv_cuda_device_info;

typedef struct qkv_cuda_plugin_v1 {
  uint32_t abi_version;
  uint32_t struct_size;
  /* The architectures the plugin was compiled for, e.g. "80;90". */
  const char* cuda_architectures;

  /* cudaGetDeviceCount. */
  const char* (*device_count)(int32_t* count);
  /* cudaRuntimeGetVersion and cudaDriverGetVersion (e.g. 13000 = 13.0). */
  const char* (*versions)(int32_t* runtime_version, int32_t* driver_version);
  /* cudaGetDeviceProperties of device `device`. */
  const char* (*device_info)(int32_t device, qkv_cuda_device_info* out);
  /* out[i] = a[i] + b[i] for i < n on device `device`: copies host→device, runs the kernel,
   * copies device→host and waits. */
  const char* (*add_f32)(int32_t device, const float* host_a, const float* host_b, float* host_out,
                         uint64_t n);
} qkv_cuda_plugin_v1;

typedef qkv_cuda_plugin_v1 qkv_cuda_plugin;

/* The plugin's only exported symbol. Returns NULL if it cannot serve `requested_abi`. */
typedef const qkv_cuda_plugin* (*qkv_cuda_plugin_get_fn)(uint32_t requested_abi);

#ifdef __cplusplus
}
#endif
