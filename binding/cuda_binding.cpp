// The optional CUDA plugin as seen from JavaScript: availability, a report of what was found, and
// one elementwise kernel. The loading itself lives in cpp/core/cuda_loader.cpp.
#include "binding.h"
#include "core/cuda_loader.h"
#include "core/cuda_runtime.h"

namespace qkv::binding {
namespace {

// cudaAvailable(): boolean
Napi::Value cuda_available(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return Napi::Boolean::New(info.Env(), cuda::available()); });
}

// cudaInfo(): the loader's report. Optional fields are left out rather than set to undefined.
Napi::Value cuda_info(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::Env env = info.Env();
    const cuda::Info& i = cuda::info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("available", Napi::Boolean::New(env, i.available));
    if (!i.reason.empty()) o.Set("reason", Napi::String::New(env, i.reason));
    o.Set("driverFound", Napi::Boolean::New(env, i.driver_found));
    if (!i.driver_error.empty()) o.Set("driverError", Napi::String::New(env, i.driver_error));
    o.Set("addonPath", i.addon_path.empty() ? env.Null() : Napi::String::New(env, i.addon_path));
    o.Set("pluginPath", i.plugin_path.empty() ? env.Null() : Napi::String::New(env, i.plugin_path));
    o.Set("pluginLoaded", Napi::Boolean::New(env, i.plugin_loaded));
    if (!i.plugin_error.empty()) o.Set("pluginError", Napi::String::New(env, i.plugin_error));
    if (i.plugin_abi) o.Set("pluginAbi", Napi::Number::New(env, i.plugin_abi));
    if (!i.architectures.empty()) o.Set("architectures", Napi::String::New(env, i.architectures));
    o.Set("deviceCount", Napi::Number::New(env, i.device_count));
    if (i.runtime_version) o.Set("runtimeVersion", Napi::Number::New(env, i.runtime_version));
    if (i.driver_version) o.Set("driverVersion", Napi::Number::New(env, i.driver_version));
    if (i.plugin_loaded) {
      Napi::Array devices = Napi::Array::New(env, i.devices.size());
      for (size_t k = 0; k < i.devices.size(); ++k) {
        const cuda::DeviceInfo& d = i.devices[k];
        Napi::Object dev = Napi::Object::New(env);
        dev.Set("index", Napi::Number::New(env, d.index));
        dev.Set("name", Napi::String::New(env, d.name));
        dev.Set("totalMemory", Napi::Number::New(env, static_cast<double>(d.total_memory)));
        dev.Set("computeCapability",
                Napi::String::New(env, std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor)));
        dev.Set("multiprocessors", Napi::Number::New(env, d.multiprocessors));
        devices.Set(static_cast<uint32_t>(k), dev);
      }
      o.Set("devices", devices);
    }
    return o;
  });
}

Napi::TypedArrayOf<float> arg_f32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw_type(std::string("cuda.add: ") + name + " must be a Float32Array");
  }
  return info[i].As<Napi::TypedArrayOf<float>>();
}

// cudaAddF32(a: Float32Array, b: Float32Array, device = 0): Float32Array, a + b computed on the GPU.
Napi::Value cuda_add_f32(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::TypedArrayOf<float> a = arg_f32(info, 0, "a");
    Napi::TypedArrayOf<float> b = arg_f32(info, 1, "b");
    int device = 0;
    if (info.Length() > 2 && !info[2].IsUndefined()) device = static_cast<int>(arg_int(info, 2, "cuda.add", "device"));
    if (a.ElementLength() != b.ElementLength()) {
      throw_range("cuda.add: a and b must have the same length, got " + std::to_string(a.ElementLength()) + " and " +
                  std::to_string(b.ElementLength()));
    }
    const size_t n = a.ElementLength();
    Napi::TypedArrayOf<float> out = created(Napi::TypedArrayOf<float>::New(info.Env(), n));
    cuda::add_f32(a.Data(), b.Data(), out.Data(), n, device);  // CudaError: QkvError ERR_CUDA
    return out;
  });
}

}  // namespace

void init_cuda(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaAvailable", Napi::Function::New(env, cuda_available, "cudaAvailable"));
  exports.Set("cudaInfo", Napi::Function::New(env, cuda_info, "cudaInfo"));
  exports.Set("cudaAddF32", Napi::Function::New(env, cuda_add_f32, "cudaAddF32"));
}

}  // namespace qkv::binding
