// Runtime facts and switches: SIMD level, thread count, the op registry, the QkvError class.
#include "binding.h"
#include "core/thread_pool.h"
#include "cpu/simd.h"
#include "ops/registry.h"

namespace qkv::binding {

static Napi::Value set_error_class(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(info.Env(), "setErrorClass: expected a constructor").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  instance(info.Env()).qkv_error_ctor = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

static Napi::Value simd_level(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cpu::simd_name(cpu::simd_level()));
}

static Napi::Value simd_supported(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cpu::simd_name(cpu::simd_supported()));
}

static Napi::Value set_simd_level(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    std::string name = arg_string(info, 0, "setSimdLevel", "level");
    cpu::SimdLevel level;
    if (!cpu::simd_from_name(name.c_str(), &level))
      throw_range("setSimdLevel: level must be 'avx512', 'avx2' or 'scalar', got '" + name + "'");
    cpu::set_simd_level(level);
    return info.Env().Undefined();
  });
}

static Napi::Value threads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ThreadPool::global().threads());
}

static Napi::Value set_threads(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    int64_t n = arg_int(info, 0, "setThreads", "threads");
    if (n < 1 || n > 256) throw_range("setThreads: threads must be in [1, 256], got " + std::to_string(n));
    ThreadPool::global().resize(static_cast<int>(n));
    return info.Env().Undefined();
  });
}

static Napi::Value op_registry(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, op_count());
  for (int i = 0; i < op_count(); ++i) {
    const OpInfo& op = op_info(static_cast<OpKind>(i));
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", op.name);
    o.Set("inputs", op.inputs);
    o.Set("differentiable", op.differentiable);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

void init_runtime(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorClass", Napi::Function::New(env, set_error_class, "setErrorClass"));
  exports.Set("simdLevel", Napi::Function::New(env, simd_level, "simdLevel"));
  exports.Set("simdSupported", Napi::Function::New(env, simd_supported, "simdSupported"));
  exports.Set("setSimdLevel", Napi::Function::New(env, set_simd_level, "setSimdLevel"));
  exports.Set("threads", Napi::Function::New(env, threads, "threads"));
  exports.Set("setThreads", Napi::Function::New(env, set_threads, "setThreads"));
  exports.Set("opRegistry", Napi::Function::New(env, op_registry, "opRegistry"));
}

}  // namespace qkv::binding
