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
  const qkv_cuda_table_v2* plugin = nullptr;
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

// The plugin's table when it speaks our ABI version; else null, with the reason returned.
std::string check_abi(void* handle, const qkv_cuda_table_v2** out, uint32_t* abi) {
  *out = nullptr;
  const std::string ours = std::to_string(QKV_CUDA_ABI_VERSION);
  auto entry = reinterpret_cast<qkv_cuda_plugin_entry_fn>(dlsym(handle, QKV_CUDA_PLUGIN_ENTRY));
  if (!entry) {
    if (dlsym(handle, QKV_CUDA_PLUGIN_ENTRY_V1)) {
      *abi = 1;
      return "ABI version mismatch: the plugin implements ABI version 1, this addon needs version " + ours +
             " (rebuild the plugin with the addon)";
    }
    return std::string("the plugin has no ") + QKV_CUDA_PLUGIN_ENTRY;
  }
  const qkv_cuda_table_v2* table = entry();
  if (!table) return std::string(QKV_CUDA_PLUGIN_ENTRY) + " returned no table";
  *abi = table->abi_version;
  if (table->abi_version != QKV_CUDA_ABI_VERSION) {
    return "ABI version mismatch: the plugin implements ABI version " + std::to_string(table->abi_version) +
           ", this addon needs version " + ours + " (rebuild the plugin with the addon)";
  }
  if (table->struct_size < sizeof(qkv_cuda_table_v2)) {
    return "ABI version " + ours + " table too small: " + std::to_string(table->struct_size) + " bytes, expected at least " +
           std::to_string(sizeof(qkv_cuda_table_v2));
  }
  *out = table;
  return {};
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
  const qkv_cuda_table_v2* plugin = nullptr;
  info.plugin_error = check_abi(handle, &plugin, &info.plugin_abi);
  if (!plugin) {
    const std::string why = "cannot use the CUDA plugin: " + info.plugin_error;
    info.reason = info.reason.empty() ? why : info.reason + "; the forced plugin load reports: " + why;
    dlclose(handle);
    return;
  }
  s.plugin = plugin;
  info.plugin_loaded = true;
  if (plugin->cuda_architectures) info.architectures = plugin->cuda_architectures;

  // 3. Versions and devices.
  int32_t rt = 0, drv = 0;
  const bool versions_ok = plugin->versions(&rt, &drv) == QKV_CUDA_OK;
  const std::string version_error = versions_ok ? std::string() : plugin->last_error();
  info.runtime_version = rt;
  info.driver_version = drv;
  int32_t count = 0;
  if (plugin->device_count(&count) != QKV_CUDA_OK) {
    const std::string err = plugin->last_error();
    if (info.reason.empty()) {
      info.reason = "CUDA runtime " + version_str(rt) + " cannot use the driver (" +
                    (drv ? "driver supports CUDA " + version_str(drv) : std::string("driver version unknown")) +
                    "): " + err;
    } else {
      info.reason += "; the forced plugin load reports: " + err;
    }
    return;
  }
  if (!versions_ok && info.reason.empty()) info.reason = version_error;  // unusual; keep going
  info.device_count = count;
  for (int32_t d = 0; d < count; ++d) {
    qkv_cuda_device_info di;
    if (plugin->device_info(d, &di) != QKV_CUDA_OK) {
      if (info.reason.empty()) info.reason = "device " + std::to_string(d) + ": " + plugin->last_error();
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

const qkv_cuda_table_v2* plugin_table() { return state().plugin; }
bool forced() { return state().forced; }

}  // namespace qkv::cuda
