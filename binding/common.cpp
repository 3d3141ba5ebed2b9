// Argument checks, error conversion and the async job queue shared by every binding file.
#include <cmath>

#include "binding.h"

namespace qkv::binding {

Deferred::Deferred(Napi::Env env) : env_(env) {
  if (napi_create_promise(env_, &deferred_, &promise_) != napi_ok || promise_ == nullptr) throw PendingException{};
}

InstanceData& instance(Napi::Env env) { return *env.GetInstanceData<InstanceData>(); }

Napi::Error make_error(Napi::Env env, ErrorKind kind, const std::string& message) {
  if (kind == ErrorKind::Type) return Napi::TypeError::New(env, message);
  if (kind == ErrorKind::Range) return Napi::RangeError::New(env, message);
  InstanceData& data = instance(env);
  if (!data.qkv_error_ctor.IsEmpty()) {
    Napi::Value err = data.qkv_error_ctor.New({Napi::String::New(env, message), Napi::String::New(env, error_code(kind))});
    if (!env.IsExceptionPending() && err.IsObject()) return Napi::Error(env, err);
  }
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, error_code(kind)));
  return e;
}

void throw_error(Napi::Env env, ErrorKind kind, const std::string& message) {
  // Throwing on top of a pending exception is fatal in N-API; the first exception wins.
  if (env.IsExceptionPending()) return;
  make_error(env, kind, message).ThrowAsJavaScriptException();
}

void check_pending(Napi::Env env) {
  if (env.IsExceptionPending()) throw PendingException{};
}

Napi::Value get(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  check_pending(o.Env());
  return v;
}

Napi::Value get(const Napi::Object& o, const std::string& key) { return get(o, key.c_str()); }

Napi::Value get(const Napi::Object& o, uint32_t index) {
  Napi::Value v = o.Get(index);
  check_pending(o.Env());
  return v;
}

const void* typed_array_data(Napi::Env env, const Napi::TypedArray& ta) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, ta, &type, &length, &data, &buffer, &offset) != napi_ok) {
    check_pending(env);
    throw Error(ErrorKind::Internal, "cannot read a typed array");
  }
  static const char empty = 0;
  return data ? data : &empty;  // a zero-length view may have no memory behind it
}

Napi::Value guarded(Napi::Env env, const std::function<Napi::Value()>& fn) {
  try {
    return fn();
  } catch (const PendingException&) {
    // The JavaScript exception is pending already: return and let it propagate.
  } catch (const Error& e) {
    throw_error(env, e.kind(), e.what());
  } catch (const std::bad_alloc&) {
    throw_error(env, ErrorKind::Range, "out of memory");
  } catch (const std::exception& e) {
    throw_error(env, ErrorKind::Internal, e.what());
  }
  return env.Undefined();
}

static std::string where(const char* op, const char* name) { return std::string(op) + ": " + name; }

double arg_number(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) throw_type(where(op, name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  double v = arg_number(info, i, op, name);
  if (!std::isfinite(v) || std::floor(v) != v || std::fabs(v) > 9007199254740991.0)
    throw_range(where(op, name) + " must be an integer, got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || !info[i].IsBoolean()) throw_type(where(op, name) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || !info[i].IsString()) throw_type(where(op, name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Shape arg_shape(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || !info[i].IsArray()) throw_type(where(op, name) + " must be an array of integers");
  Napi::Array arr = info[i].As<Napi::Array>();
  Shape shape(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = get(arr, k);
    if (!v.IsNumber()) throw_type(where(op, name) + " must be an array of integers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::floor(d) != d || d < -1 || d > 9007199254740991.0)
      throw_range(where(op, name) + ": invalid dimension " + std::to_string(d));
    shape[k] = static_cast<int64_t>(d);
  }
  return shape;
}

DType arg_dtype(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  std::string s = arg_string(info, i, op, name);
  DType t;
  if (!dtype_from_name(s, &t)) throw_type(where(op, name) + " must be 'float32', 'float64' or 'int32', got '" + s + "'");
  return t;
}

double opt_number(const Napi::Object& o, const char* key, double fallback, const char* op) {
  Napi::Value v = get(o, key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw_type(std::string(op) + ": option " + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool opt_bool(const Napi::Object& o, const char* key, bool fallback, const char* op) {
  Napi::Value v = get(o, key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw_type(std::string(op) + ": option " + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

static int64_t safe_int(double d, const char* key, const char* op) {
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
    throw_range(std::string(op) + ": " + key + " must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

int64_t opt_int(const Napi::Object& o, const char* key, int64_t fallback, const char* op) {
  return safe_int(opt_number(o, key, static_cast<double>(fallback), op), key, op);
}

int64_t required_int(const Napi::Object& o, const char* key, const char* op) {
  Napi::Value v = get(o, key);  // read once: a getter may answer differently the second time
  if (!v.IsNumber()) throw_type(std::string(op) + ": option " + key + " must be an integer");
  return safe_int(v.As<Napi::Number>().DoubleValue(), key, op);
}

Napi::Object options_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return Napi::Object::New(info.Env());
  if (!info[i].IsObject()) throw_type(std::string(op) + ": options must be an object");
  return info[i].As<Napi::Object>();
}

std::string opt_string(const Napi::Object& o, const char* key, const std::string& fallback, const char* op) {
  Napi::Value v = get(o, key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) throw_type(std::string(op) + ": option " + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// ---- async jobs ---------------------------------------------------------------------------------

namespace {

class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, AsyncJob job) : Napi::AsyncWorker(env), job_(std::move(job)), deferred_(env) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      job_.work();
    } catch (const Error& e) {
      kind_ = e.kind();
      message_ = e.what();
      failed_ = true;
    } catch (const std::bad_alloc&) {
      kind_ = ErrorKind::Range;
      message_ = "out of memory";
      failed_ = true;
    } catch (const std::exception& e) {
      kind_ = ErrorKind::Internal;
      message_ = e.what();
      failed_ = true;
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (failed_) {
      deferred_.Reject(make_error(env, kind_, message_).Value());
      return;
    }
    Napi::Value result = guarded(env, [&] { return job_.done ? job_.done(env) : env.Undefined(); });
    if (env.IsExceptionPending()) {
      deferred_.Reject(env.GetAndClearPendingException().Value());
      return;
    }
    deferred_.Resolve(result);
  }

 private:
  AsyncJob job_;
  Deferred deferred_;
  bool failed_ = false;
  ErrorKind kind_ = ErrorKind::Internal;
  std::string message_;
};

}  // namespace

Napi::Promise queue_job(Napi::Env env, AsyncJob job) {
  auto* worker = new JobWorker(env, std::move(job));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

}  // namespace qkv::binding
