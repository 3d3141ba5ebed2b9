#pragma once
// Finds and loads the optional CUDA plugin (libqkv_cuda.so, cpp/cuda/plugin_api.h) at run time.
//
// The addon has no link-time CUDA dependency. On first use the loader:
//  1. dlopen()s "libcuda.so.1" (the driver). If that fails, CUDA is unavailable, with the reason,
//     and the plugin is never loaded.
//  2. finds the directory of the binary it is linked into (dladdr on one of its own functions:
//     build/Release/ in a source build, prebuilds/linux-x64/ in a package) and dlopen()s
//     <that directory>/libqkv_cuda.so with RTLD_NOW | RTLD_LOCAL;
//  3. takes the plugin's function table (cpp/cuda/plugin_api.h), checks its ABI version (a plugin
//     of another version is refused, with both versions in the reason), and asks for the devices.
// Making the plugin ready for tensors (device selection, the allocator) is core/cuda_runtime.h.
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
#include "cuda/plugin_api.h"

namespace qkv::cuda {

// A CUDA call that failed at run time (as opposed to CUDA being unavailable, which is
// ErrorKind::Unsupported): QkvError with the code ERR_CUDA in JavaScript.
class CudaError : public Error {
 public:
  explicit CudaError(const std::string& message) : Error(ErrorKind::Cuda, message) {}
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
  uint32_t plugin_abi = 0;      // the ABI version the plugin's table declares (0 when none was read)
  std::string architectures;    // what the plugin was compiled for, e.g. "800,900"
  int device_count = 0;
  int runtime_version = 0;      // e.g. 13000 (0 when unknown)
  int driver_version = 0;       // e.g. 13000 (0 when unknown or no driver)
  std::vector<DeviceInfo> devices;
};

// The result of the first probe (done once, thread-safe; later calls return the same object).
const Info& info();
inline bool available() { return info().available; }

// The table of the loaded plugin (after the probe), or null when none was loaded.
const qkv_cuda_table_v2* plugin_table();
// QKV_CUDA_FORCE_PLUGIN asked for the plugin without a driver: its calls are then tried anyway,
// so that the CUDA runtime's own errors surface.
bool forced();

}  // namespace qkv::cuda
