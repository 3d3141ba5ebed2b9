// Autograd entry points: requiresGrad, grad, backward, grad mode.
#include "autograd/autograd.h"
#include "binding.h"

namespace qkv::binding {

static Napi::Value requires_grad(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return Napi::Boolean::New(info.Env(), TensorHandle::unwrap(info, 0, "requiresGrad", "tensor").requires_grad()); });
}

static Napi::Value set_requires_grad(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Tensor& t = TensorHandle::unwrap(info, 0, "requiresGrad", "tensor");
    qkv::set_requires_grad(t, arg_bool(info, 1, "requiresGrad", "value"));
    return info.Env().Undefined();
  });
}

static Napi::Value grad(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Tensor g = grad_of(TensorHandle::unwrap(info, 0, "grad", "tensor"));
    return g.defined() ? TensorHandle::wrap(info.Env(), g) : info.Env().Null();
  });
}

static Napi::Value set_grad(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Tensor& t = TensorHandle::unwrap(info, 0, "grad", "tensor");
    Tensor g;
    if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) g = TensorHandle::unwrap(info, 1, "grad", "value");
    qkv::set_grad(t, g);
    return info.Env().Undefined();
  });
}

static Napi::Value grad_fn(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const Tensor& t = TensorHandle::unwrap(info, 0, "gradFn", "tensor");
    return is_leaf(t) ? info.Env().Null() : Napi::String::New(info.Env(), grad_fn_name(t));
  });
}

static Napi::Value run_backward(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const Tensor& t = TensorHandle::unwrap(info, 0, "backward", "tensor");
    Tensor g;
    if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) g = TensorHandle::unwrap(info, 1, "backward", "gradient");
    qkv::backward(t, g, arg_bool(info, 2, "backward", "retainGraph"), /*refuse_busy=*/true);
    return info.Env().Undefined();
  });
}

static Napi::Value detach(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return TensorHandle::wrap(info.Env(), TensorHandle::unwrap(info, 0, "detach", "tensor").detach()); });
}

// Returns the previous mode, so that the caller can restore it.
static Napi::Value set_grad_enabled(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    bool prev = grad_enabled();
    qkv::set_grad_enabled(arg_bool(info, 0, "setGradEnabled", "enabled"));
    return Napi::Boolean::New(info.Env(), prev);
  });
}

void init_autograd(Napi::Env env, Napi::Object exports) {
  exports.Set("requiresGrad", Napi::Function::New(env, requires_grad, "requiresGrad"));
  exports.Set("setRequiresGrad", Napi::Function::New(env, set_requires_grad, "setRequiresGrad"));
  exports.Set("grad", Napi::Function::New(env, grad, "grad"));
  exports.Set("setGrad", Napi::Function::New(env, set_grad, "setGrad"));
  exports.Set("gradFn", Napi::Function::New(env, grad_fn, "gradFn"));
  exports.Set("backward", Napi::Function::New(env, run_backward, "backward"));
  exports.Set("detach", Napi::Function::New(env, detach, "detach"));
  exports.Set("setGradEnabled", Napi::Function::New(env, set_grad_enabled, "setGradEnabled"));
}

}  // namespace qkv::binding
