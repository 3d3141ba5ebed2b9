#pragma once
// Finds and loads the optional CUDA plugin (libqkv_cuda.so, cpp/cuda/plugin_api.h) at run time.
//
// The addon has no link-time CUDA dependency. On first use the loader:
//  1. dlopen()s "libcuda.so.1" (the driver). If that fails, CUDA is unavailable, with the reason,
//     and the plugin is never loaded.
//  2. finds the directory of the binary it is linked into (dladdr on one of its own functions:
//     build/Release/ in a source build, prebuilds/linux-x64/ in a package) and dlopen()s
//     <that directory>/libqkv_cuda.so with RTLD_NOW | RTLD_LOCAL;
//  3. takes the plugin's function table, checks its ABI version, and asks for the devices.
//
// Environment:
//  QKV_CUDA=0 (or off/false/no)   never load the driver or the plugin (reason says so)
//  QKV_CUDA_PLUGIN=/path/lib.so    load the plugin from this path instead of the addon's directory
//  QKV_CUDA_FORCE_PLUGIN=1         load the plugin even without a driver (diagnostics and tests:
//                                  the plugin then reports the CUDA runtime's own error)
//
// No Node headers here; the binding (binding/cuda_binding.cpp) converts Info to JavaScript.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace qkv::cuda {

// A CUDA call that failed at run time (as opposed to CUDA being unavailable, which is
// ErrorKind::Unsupported). The binding gives it the code ERR_CUDA.
class CudaError : public Error {
 public:
  explicit CudaError(const std::string& message) : Error(ErrorKind::Internal, message) {}
};

struct DeviceInfo {
  int index = 0;
  std::string name;
  uint64_t total_memory = 0;  // bytes
  int compute_major = 0;
  int compute_minor = 0;
  int multiprocessors = 0;
};

struct Info {
  bool available = false;       // a driver, the plugin and at least one device
  std::string reason;           // why not, when !available
  bool driver_found = false;    // dlopen("libcuda.so.1") succeeded
  std::string driver_error;     // dlerror() of that attempt
  std::string addon_path;       // the binary the loader lives in (dladdr)
  std::string plugin_path;      // the plugin file, when one exists (loaded or not); else empty
  bool plugin_loaded = false;
  std::string plugin_error;
  std::string architectures;    // what the plugin was compiled for, e.g. "800,900"
  int device_count = 0;
  int runtime_version = 0;      // e.g. 13000 (0 when unknown)
  int driver_version = 0;       // e.g. 13000 (0 when unknown or no driver)
  std::vector<DeviceInfo> devices;
};

// The result of the first probe (done once, thread-safe; later calls return the same object).
const Info& info();
inline bool available() { return info().available; }

// out[i] = a[i] + b[i] on CUDA device `device`, through host memory.
// Throws qkv::Error: Unsupported when CUDA is unavailable (message gives the reason),
// Range for a bad device index or size, CudaError for a CUDA error (message from the runtime).
void add_f32(const float* a, const float* b, float* out, size_t n, int device = 0);

}  // namespace qkv::cuda
