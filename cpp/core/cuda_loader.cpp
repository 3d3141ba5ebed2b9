#include "core/cuda_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "cuda/plugin_api.h"

namespace qkv::cuda {
namespace {

constexpr const char* kDriverLibrary = "libcuda.so.1";
constexpr const char* kPluginFile = "libqkv_cuda.so";

struct State {
  Info info;
  const qkv_cuda_plugin* plugin = nullptr;
  bool forced = false;
};

std::once_flag g_once;
State* g_state = nullptr;  // never freed: the plugin stays loaded for the life of the process

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool env_off(const std::string& v) {
  return v == "0" || v == "off" || v == "OFF" || v == "false" || v == "no";
}

bool env_on(const std::string& v) { return v == "1" || v == "on" || v == "true" || v == "yes"; }

std::string last_dl_error(const char* fallback) {
  const char* e = dlerror();
  return e ? std::string(e) : std::string(fallback);
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The file this function was loaded from: the addon (qkv.node), since the core links into it.
std::string own_binary_path() {
  Dl_info dl{};
  if (dladdr(reinterpret_cast<void*>(&own_binary_path), &dl) == 0 || dl.dli_fname == nullptr) return {};
  char* resolved = ::realpath(dl.dli_fname, nullptr);
  if (!resolved) return dl.dli_fname;
  std::string path(resolved);
  std::free(resolved);
  return path;
}

std::string dirname_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string version_str(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

void probe(State& s) {
  Info& info = s.info;
  info.addon_path = own_binary_path();
  const std::string switch_env = env("QKV_CUDA");
  if (env_off(switch_env)) {
    info.reason = "CUDA disabled by QKV_CUDA=" + switch_env;
    return;
  }
  s.forced = env_on(env("QKV_CUDA_FORCE_PLUGIN"));

  // 1. The driver. Without it the plugin is not loaded (unless forced, for diagnostics).
  dlerror();
  void* driver = dlopen(kDriverLibrary, RTLD_NOW | RTLD_LOCAL);
  if (driver) {
    info.driver_found = true;  // the handle is kept: the plugin's runtime opens the same library
  } else {
    info.driver_error = last_dl_error("dlopen failed");
    info.reason = std::string("CUDA driver not found (") + info.driver_error + ")";
  }

  // 2. The plugin, next to the addon (or where QKV_CUDA_PLUGIN says).
  std::string candidate = env("QKV_CUDA_PLUGIN");
  if (candidate.empty() && !info.addon_path.empty()) candidate = dirname_of(info.addon_path) + "/" + kPluginFile;
  if (!candidate.empty() && file_exists(candidate)) info.plugin_path = candidate;

  if (!info.driver_found && !s.forced) {
    info.plugin_error = "not loaded: no CUDA driver";
    return;
  }
  if (info.plugin_path.empty()) {
    info.plugin_error = candidate.empty() ? std::string("cannot locate the addon's directory")
                                          : kPluginFile + std::string(" not found at ") + candidate +
                                                " (the addon was built without nvcc)";
    if (info.reason.empty()) info.reason = "CUDA plugin " + info.plugin_error;
    return;
  }
  dlerror();
  void* handle = dlopen(info.plugin_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    info.plugin_error = last_dl_error("dlopen failed");
    if (info.reason.empty()) info.reason = "cannot load the CUDA plugin: " + info.plugin_error;
    return;
  }
  auto get = reinterpret_cast<qkv_cuda_plugin_get_fn>(dlsym(handle, QKV_CUDA_PLUGIN_ENTRY));
  const qkv_cuda_plugin* plugin = get ? get(QKV_CUDA_PLUGIN_ABI_VERSION) : nullptr;
  if (!plugin || plugin->abi_version != QKV_CUDA_PLUGIN_ABI_VERSION ||
      plugin->struct_size < sizeof(qkv_cuda_plugin_v1)) {
    info.plugin_error = get ? "the plugin does not implement ABI version " + std::to_string(QKV_CUDA_PLUGIN_ABI_VERSION)
                            : std::string("the plugin has no ") + QKV_CUDA_PLUGIN_ENTRY;
    if (info.reason.empty()) info.reason = "cannot use the CUDA plugin: " + info.plugin_error;
    dlclose(handle);
    return;
  }
  s.plugin = plugin;
  info.plugin_loaded = true;
  if (plugin->cuda_architectures) info.architectures = plugin->cuda_architectures;

  // 3. Versions and devices.
  int32_t rt = 0, drv = 0;
  const char* version_error = plugin->versions(&rt, &drv);
  info.runtime_version = rt;
  info.driver_version = drv;
  int32_t count = 0;
  if (const char* e = plugin->device_count(&count)) {
    const std::string err = e;
    if (info.reason.empty()) {
      info.reason = "CUDA runtime " + version_str(rt) + " cannot use the driver (" +
                    (drv ? "driver supports CUDA " + version_str(drv) : std::string("driver version unknown")) +
                    "): " + err;
    } else {
      info.reason += "; the forced plugin load reports: " + err;
    }
    return;
  }
  if (version_error && info.reason.empty()) info.reason = version_error;  // unusual; keep going
  info.device_count = count;
  for (int32_t d = 0; d < count; ++d) {
    qkv_cuda_device_info di;
    if (const char* e = plugin->device_info(d, &di)) {
      if (info.reason.empty()) info.reason = "device " + std::to_string(d) + ": " + e;
      continue;
    }
    DeviceInfo out;
    out.index = d;
    out.name = di.name;
    out.total_memory = di.total_memory;
    out.compute_major = di.compute_major;
    out.compute_minor = di.compute_minor;
    out.multiprocessors = di.multiprocessors;
    info.devices.push_back(std::move(out));
  }
  if (count == 0) {
    if (info.reason.empty()) info.reason = "no CUDA devices";
    return;
  }
  if (info.driver_found && info.reason.empty()) {
    info.available = true;
  } else if (info.reason.empty()) {
    info.reason = "CUDA driver not found";
  }
}

State& state() {
  std::call_once(g_once, [] {
    g_state = new State();
    probe(*g_state);
  });
  return *g_state;
}

}  // namespace

const Info& info() { return state().info; }

void add_f32(const float* a, const float* b, float* out, size_t n, int device) {
  State& s = state();
  const bool usable = s.plugin && (s.info.available || s.forced);
  if (!usable) {
    throw Error(ErrorKind::Unsupported, "cuda.add: CUDA is not available: " +
                                            (s.info.reason.empty() ? std::string("unknown reason") : s.info.reason));
  }
  if (s.info.available && (device < 0 || device >= s.info.device_count)) {
    throw Error(ErrorKind::Range, "cuda.add: device " + std::to_string(device) + " out of range [0, " +
                                      std::to_string(s.info.device_count) + ")");
  }
  if (const char* e = s.plugin->add_f32(device, a, b, out, static_cast<uint64_t>(n))) {
    throw CudaError(std::string("cuda.add: ") + e);
  }
}

}  // namespace qkv::cuda
