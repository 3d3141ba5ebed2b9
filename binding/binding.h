#pragma once
// Shared helpers of the N-API glue: argument checks, error conversion, tensor handles, async jobs.
// Each binding/*.cpp registers its functions through an init_* function called from addon.cpp.
#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace qkv::binding {

// ---- errors -------------------------------------------------------------------------------------
// Throws the JavaScript error for a core error: TypeError, RangeError, or QkvError with `code`.
// (QkvError's constructor is handed to the addon by src/native.ts through `setErrorClass`.)
Napi::Error make_error(Napi::Env env, ErrorKind kind, const std::string& message);
void throw_error(Napi::Env env, ErrorKind kind, const std::string& message);
// Runs fn and turns a C++ exception into a pending JavaScript exception; returns undefined then.
// A JavaScript exception already pending (a getter or Proxy trap threw while the binding read a
// value) always wins: it propagates untouched, and no second error is thrown on top of it.
Napi::Value guarded(Napi::Env env, const std::function<Napi::Value()>& fn);
// Thrown (as a C++ exception) when a call into JavaScript left an exception pending; guarded()
// then returns with that exception, so the binding stops at the first throwing getter.
struct PendingException {};
void check_pending(Napi::Env env);
// Property reads that may run user code (getters, Proxy traps): each throws PendingException when
// that code threw. Every read of a JavaScript object in the binding goes through these.
Napi::Value get(const Napi::Object& o, const char* key);
Napi::Value get(const Napi::Object& o, const std::string& key);
Napi::Value get(const Napi::Object& o, uint32_t index);
// Throws QkvError ERR_BUSY: `name` of `op` is a tensor that a running job is using.
[[noreturn]] void throw_busy_tensor(const std::string& op, const std::string& name);
// While JavaScript cannot run (a worker being terminated) creating a value fails, and
// node-addon-api hands back an empty one: a null pointer behind its Data(), operator[] or Unwrap().
// Every value whose memory the binding writes is checked here first: PendingException then, so
// nothing is written (and nobody is left to see the result).
template <class V>
V created(V v) {
  if (v.IsEmpty()) throw PendingException{};
  return v;
}
// An External owning `box` (deleted by `finalize` once JavaScript drops it), tagged with `tag`.
// While JavaScript cannot run no External can be made: the box is deleted and PendingException
// thrown (the empty value node-addon-api returns then aborts the process on its first use).
template <class T, class Finalize>
Napi::External<T> tagged_external(Napi::Env env, T* box, Finalize finalize, const napi_type_tag* tag) {
  auto ext = Napi::External<T>::New(env, box, std::move(finalize));
  if (ext.IsEmpty()) {
    delete box;
    throw PendingException{};
  }
  ext.TypeTag(tag);
  return ext;
}
// A Promise and its resolver. node-addon-api's Promise::Deferred leaves its handles uninitialised
// when the promise cannot be made (JavaScript cannot run: a worker being terminated), and handing
// such a handle to JavaScript crashed the process; this one throws PendingException instead.
class Deferred {
 public:
  explicit Deferred(Napi::Env env);
  Napi::Promise Promise() const { return Napi::Promise(env_, promise_); }
  Napi::Env Env() const { return Napi::Env(env_); }
  // At most one of the two, once (a failure means JavaScript cannot run: nobody is waiting).
  void Resolve(napi_value v) const { napi_resolve_deferred(env_, deferred_, v); }
  void Reject(napi_value v) const { napi_reject_deferred(env_, deferred_, v); }

 private:
  napi_env env_;
  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;
};
// The first byte of a typed array's view, for ArrayBuffer and SharedArrayBuffer backings alike.
const void* typed_array_data(Napi::Env env, const Napi::TypedArray& ta);
#define QKV_GUARD(info, ...) return ::qkv::binding::guarded((info).Env(), [&]() -> Napi::Value __VA_ARGS__)

// ---- arguments (each throws qkv::Error naming `op` and the argument) ------------------------------
double arg_number(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
Shape arg_shape(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
DType arg_dtype(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
// Optional property of an options object (undefined → fallback).
double opt_number(const Napi::Object& o, const char* key, double fallback, const char* op);
bool opt_bool(const Napi::Object& o, const char* key, bool fallback, const char* op);
int64_t opt_int(const Napi::Object& o, const char* key, int64_t fallback, const char* op);  // a safe integer
int64_t required_int(const Napi::Object& o, const char* key, const char* op);               // the same, not optional
std::string opt_string(const Napi::Object& o, const char* key, const std::string& fallback, const char* op);
// The options object at argument i ({} when undefined or null); TypeError for anything else.
Napi::Object options_arg(const Napi::CallbackInfo& info, size_t i, const char* op);

// ---- tensors ------------------------------------------------------------------------------------
// The JavaScript handle class `NativeTensor` wraps one qkv::Tensor; src/tensor.ts wraps that again.
class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static void init(Napi::Env env, Napi::Object exports);
  static Napi::Object wrap(Napi::Env env, Tensor t);
  // The tensor of argument i; TypeError if it is not a handle, QkvError ERR_DISPOSED if disposed.
  static Tensor& unwrap(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
  static Tensor& unwrap_value(Napi::Env env, const Napi::Value& v, const char* op, const char* name);
  static bool is_handle(Napi::Env env, const Napi::Value& v);
  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;
  void release(Napi::Env env);

 private:
  Napi::Value shape(const Napi::CallbackInfo& info);
  Napi::Value strides(const Napi::CallbackInfo& info);
  Napi::Value dtype(const Napi::CallbackInfo& info);
  Napi::Value device(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value to_typed_array(const Napi::CallbackInfo& info);
  Tensor tensor_;
  bool alive_ = false;
};

// ---- async jobs (sharp's baton pattern) ---------------------------------------------------------
// work() runs on a libuv worker thread and must not touch N-API; done() runs on the main thread
// and builds the resolved value. A qkv::Error thrown by work() rejects the Promise with the
// matching JavaScript error.
struct AsyncJob {
  std::function<void()> work;
  std::function<Napi::Value(Napi::Env)> done;
};
Napi::Promise queue_job(Napi::Env env, AsyncJob job);

// Per-addon-instance state (one per Node environment / worker thread).
struct InstanceData {
  Napi::FunctionReference tensor_ctor;
  Napi::FunctionReference qkv_error_ctor;
};
InstanceData& instance(Napi::Env env);

// ---- registration -------------------------------------------------------------------------------
void init_tensor(Napi::Env env, Napi::Object exports);  // tensor_binding.cpp: creation, views, data
void init_ops(Napi::Env env, Napi::Object exports);     // ops_binding.cpp: the op registry's ops
void init_runtime(Napi::Env env, Napi::Object exports); // runtime_binding.cpp: simd, threads, registry
void init_cuda(Napi::Env env, Napi::Object exports);    // cuda_binding.cpp
void init_io(Napi::Env env, Napi::Object exports);      // io_binding.cpp: safetensors
void init_autograd(Napi::Env env, Napi::Object exports);  // autograd_binding.cpp
void init_nn(Napi::Env env, Napi::Object exports);        // nn_binding.cpp: modules, checkpoints
void init_optim(Napi::Env env, Napi::Object exports);     // optim_binding.cpp: optimizers, clipping
void init_tasks(Napi::Env env, Napi::Object exports);     // task_binding.cpp: every model's long calls (runTask)
void init_word2vec(Napi::Env env, Napi::Object exports);  // word2vec_binding.cpp: training, queries, files
void init_transformer(Napi::Env env, Napi::Object exports);  // transformer_binding.cpp: attention, layers, models
void init_transformer_parts(Napi::Env env, Napi::Object exports);
void init_bpe(Napi::Env env, Napi::Object exports);  // bpe_binding.cpp: byte-level BPE tokenizers
void init_norm(Napi::Env env, Napi::Object exports);   // norm_binding.cpp: batch norm, group norm
void init_image(Napi::Env env, Napi::Object exports);  // image_binding.cpp: image preprocessing

}  // namespace qkv::binding
