// Tensor handles (creation, views, data out) and the memory they report to V8.
#include <cstring>

#include "binding.h"
#include "autograd/functions.h"
#include "ops/ops.h"

namespace qkv::binding {

// ---- TensorHandle ---------------------------------------------------------------------------------

void TensorHandle::init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeTensor",
                                    {
                                        InstanceMethod("shape", &TensorHandle::shape),
                                        InstanceMethod("strides", &TensorHandle::strides),
                                        InstanceMethod("dtype", &TensorHandle::dtype),
                                        InstanceMethod("device", &TensorHandle::device),
                                        InstanceMethod("disposed", &TensorHandle::disposed),
                                        InstanceMethod("dispose", &TensorHandle::dispose),
                                        InstanceMethod("toTypedArray", &TensorHandle::to_typed_array),
                                    });
  instance(env).tensor_ctor = Napi::Persistent(ctor);
  exports.Set("NativeTensor", ctor);
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {}

TensorHandle::~TensorHandle() { release(Env()); }

void TensorHandle::release(Napi::Env env) {
  if (!alive_) return;
  alive_ = false;
  const std::shared_ptr<Storage>& s = tensor_.storage();
  if (s && --s->js_handles == 0) Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(s->nbytes));
  tensor_ = Tensor();
}

Napi::Object TensorHandle::wrap(Napi::Env env, Tensor t) {
  // Empty when JavaScript cannot run (a worker being terminated) or the constructor threw; the
  // constructor may also not have run then, leaving nothing to unwrap.
  Napi::Object obj = created(instance(env).tensor_ctor.New({}));
  TensorHandle* h = Unwrap(obj);
  if (!h) throw PendingException{};
  h->tensor_ = std::move(t);
  h->alive_ = true;
  const std::shared_ptr<Storage>& s = h->tensor_.storage();
  if (s && s->js_handles++ == 0) Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(s->nbytes));
  return obj;
}

bool TensorHandle::is_handle(Napi::Env env, const Napi::Value& v) {
  return v.IsObject() && v.As<Napi::Object>().InstanceOf(instance(env).tensor_ctor.Value());
}

Tensor& TensorHandle::unwrap(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length()) throw_type(std::string(op) + ": " + name + " must be a Tensor");
  return unwrap_value(info.Env(), info[i], op, name);
}

Tensor& TensorHandle::unwrap_value(Napi::Env env, const Napi::Value& v, const char* op, const char* name) {
  if (!is_handle(env, v)) throw_type(std::string(op) + ": " + name + " must be a Tensor");
  TensorHandle* h = Unwrap(v.As<Napi::Object>());
  if (!h) throw PendingException{};  // JavaScript cannot run (see wrap)
  if (!h->alive_) throw Error(ErrorKind::Disposed, std::string(op) + ": " + name + " is a disposed Tensor");
  if (h->tensor_.busy()) throw_busy_tensor(op, name);
  return h->tensor_;
}

void throw_busy_tensor(const std::string& op, const std::string& name) {
  throw Error(ErrorKind::Busy, op + ": " + name +
                                   " belongs to a model in use by a running job (fit, predict, evaluate, save or load); "
                                   "await it first");
}

static Napi::Array to_js_array(Napi::Env env, const Shape& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (uint32_t i = 0; i < v.size(); ++i) a.Set(i, Napi::Number::New(env, static_cast<double>(v[i])));
  return a;
}

Napi::Value TensorHandle::shape(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    if (!alive_) throw Error(ErrorKind::Disposed, "shape: the Tensor is disposed");
    return to_js_array(info.Env(), tensor_.shape());
  });
}

Napi::Value TensorHandle::strides(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    if (!alive_) throw Error(ErrorKind::Disposed, "strides: the Tensor is disposed");
    return to_js_array(info.Env(), tensor_.strides());
  });
}

Napi::Value TensorHandle::dtype(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    if (!alive_) throw Error(ErrorKind::Disposed, "dtype: the Tensor is disposed");
    return Napi::String::New(info.Env(), dtype_name(tensor_.dtype()));
  });
}

Napi::Value TensorHandle::device(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    if (!alive_) throw Error(ErrorKind::Disposed, "device: the Tensor is disposed");
    return Napi::String::New(info.Env(), device_name(tensor_.device()));
  });
}

Napi::Value TensorHandle::disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !alive_); }

Napi::Value TensorHandle::dispose(const Napi::CallbackInfo& info) {
  release(info.Env());
  return info.Env().Undefined();
}

Napi::Value TensorHandle::to_typed_array(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    if (!alive_) throw Error(ErrorKind::Disposed, "toArray: the Tensor is disposed");
    if (tensor_.busy()) throw_busy_tensor("toArray", "the Tensor");
    Napi::Env env = info.Env();
    const size_t n = static_cast<size_t>(tensor_.numel());
    Napi::ArrayBuffer buf = created(Napi::ArrayBuffer::New(env, tensor_.nbytes()));
    tensor_.to_host(buf.Data());
    switch (tensor_.dtype()) {
      case DType::F64: return Napi::Float64Array::New(env, n, buf, 0);
      case DType::I32: return Napi::Int32Array::New(env, n, buf, 0);
      default: return Napi::Float32Array::New(env, n, buf, 0);
    }
  });
}

// ---- creation, views ---------------------------------------------------------------------------------

static Napi::Value from_typed(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    if (info.Length() < 1 || !info[0].IsTypedArray()) throw_type("Tensor.from: data must be a Float32Array, Float64Array or Int32Array");
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    DType dtype;
    switch (ta.TypedArrayType()) {
      case napi_float32_array: dtype = DType::F32; break;
      case napi_float64_array: dtype = DType::F64; break;
      case napi_int32_array: dtype = DType::I32; break;
      default: throw_type("Tensor.from: data must be a Float32Array, Float64Array or Int32Array");
    }
    Shape shape = arg_shape(info, 1, "Tensor.from", "shape");
    for (int64_t d : shape)
      if (d < 0) throw_range("Tensor.from: invalid dimension in shape " + shape_str(shape));
    if (numel_of(shape) != static_cast<int64_t>(ta.ElementLength()))
      throw_range("Tensor.from: shape " + shape_str(shape) + " needs " + std::to_string(numel_of(shape)) +
                  " elements, the data has " + std::to_string(ta.ElementLength()));
    // The view's own data pointer: ta.ArrayBuffer() is null for a SharedArrayBuffer.
    const void* base = typed_array_data(info.Env(), ta);
    return TensorHandle::wrap(info.Env(), Tensor::from_host(base, shape, dtype));
  });
}

static Shape checked_shape(const Napi::CallbackInfo& info, size_t i, const char* op) {
  Shape s = arg_shape(info, i, op, "shape");
  for (int64_t d : s)
    if (d < 0) throw_range(std::string(op) + ": invalid dimension in shape " + shape_str(s));
  return s;
}

static Napi::Value full(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Shape s = checked_shape(info, 0, "full");
    return TensorHandle::wrap(info.Env(), Tensor::full(s, arg_dtype(info, 1, "full", "dtype"), arg_number(info, 2, "full", "value")));
  });
}

static uint64_t arg_seed(const Napi::CallbackInfo& info, size_t i, const char* op) {
  int64_t s = arg_int(info, i, op, "seed");
  if (s < 0) throw_range(std::string(op) + ": seed must be a non-negative integer");
  return static_cast<uint64_t>(s);
}

static Napi::Value randn(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Shape s = checked_shape(info, 0, "randn");
    return TensorHandle::wrap(info.Env(), ops::randn(s, arg_dtype(info, 1, "randn", "dtype"), arg_seed(info, 2, "randn"),
                                                     arg_number(info, 3, "randn", "mean"), arg_number(info, 4, "randn", "std")));
  });
}

static Napi::Value rand(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Shape s = checked_shape(info, 0, "rand");
    return TensorHandle::wrap(info.Env(), ops::rand_uniform(s, arg_dtype(info, 1, "rand", "dtype"), arg_seed(info, 2, "rand"),
                                                            arg_number(info, 3, "rand", "low"), arg_number(info, 4, "rand", "high")));
  });
}

static Napi::Value arange(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    return TensorHandle::wrap(info.Env(), ops::arange(arg_number(info, 0, "arange", "start"), arg_number(info, 1, "arange", "end"),
                                                      arg_number(info, 2, "arange", "step"), arg_dtype(info, 3, "arange", "dtype")));
  });
}

static Napi::Value reshape(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Tensor& t = TensorHandle::unwrap(info, 0, "reshape", "input");
    return TensorHandle::wrap(info.Env(), ag::reshape(t, arg_shape(info, 1, "reshape", "shape")));
  });
}

static Napi::Value permute(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Tensor& t = TensorHandle::unwrap(info, 0, "permute", "input");
    return TensorHandle::wrap(info.Env(), ag::permute(t, arg_shape(info, 1, "permute", "dims")));
  });
}

static Napi::Value transpose(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Tensor& t = TensorHandle::unwrap(info, 0, "transpose", "input");
    if (t.dim() < 2) throw_range("transpose: needs at least 2 dims, got shape " + shape_str(t.shape()));
    return TensorHandle::wrap(info.Env(), ag::transpose(t, arg_int(info, 1, "transpose", "dim0"), arg_int(info, 2, "transpose", "dim1")));
  });
}

static Napi::Value slice(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Tensor& t = TensorHandle::unwrap(info, 0, "slice", "input");
    return TensorHandle::wrap(info.Env(), ag::slice(t, arg_int(info, 1, "slice", "axis"), arg_int(info, 2, "slice", "start"),
                                                  arg_int(info, 3, "slice", "end"), arg_int(info, 4, "slice", "step")));
  });
}

static Napi::Value contiguous(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return TensorHandle::wrap(info.Env(), ag::contiguous(TensorHandle::unwrap(info, 0, "contiguous", "input"))); });
}

static Napi::Value clone(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return TensorHandle::wrap(info.Env(), ag::clone(TensorHandle::unwrap(info, 0, "clone", "input"))); });
}

static Napi::Value cast(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Tensor& t = TensorHandle::unwrap(info, 0, "to", "input");
    return TensorHandle::wrap(info.Env(), t.to(arg_dtype(info, 1, "to", "dtype")));
  });
}

static Napi::Value to_device(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Tensor& t = TensorHandle::unwrap(info, 0, "toDevice", "input");
    const std::string name = arg_string(info, 1, "toDevice", "device");
    Device d = Device::CPU;
    if (name == "cpu") d = Device::CPU;
    else if (name == "cuda") d = Device::CUDA;
    else if (name == "guarded") d = Device::Guarded;
    else throw_type("toDevice: device must be 'cpu', 'cuda' or 'guarded', got '" + name + "'");
    return TensorHandle::wrap(info.Env(), t.to_device(d));
  });
}

static Napi::Value item(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return Napi::Number::New(info.Env(), TensorHandle::unwrap(info, 0, "item", "input").item()); });
}

void init_tensor(Napi::Env env, Napi::Object exports) {
  exports.Set("fromTyped", Napi::Function::New(env, from_typed, "fromTyped"));
  exports.Set("full", Napi::Function::New(env, full, "full"));
  exports.Set("randn", Napi::Function::New(env, randn, "randn"));
  exports.Set("rand", Napi::Function::New(env, rand, "rand"));
  exports.Set("arange", Napi::Function::New(env, arange, "arange"));
  exports.Set("reshape", Napi::Function::New(env, reshape, "reshape"));
  exports.Set("permute", Napi::Function::New(env, permute, "permute"));
  exports.Set("transpose", Napi::Function::New(env, transpose, "transpose"));
  exports.Set("slice", Napi::Function::New(env, slice, "slice"));
  exports.Set("contiguous", Napi::Function::New(env, contiguous, "contiguous"));
  exports.Set("clone", Napi::Function::New(env, clone, "clone"));
  exports.Set("cast", Napi::Function::New(env, cast, "cast"));
  exports.Set("toDevice", Napi::Function::New(env, to_device, "toDevice"));
  exports.Set("item", Napi::Function::New(env, item, "item"));
}

}  // namespace qkv::binding
