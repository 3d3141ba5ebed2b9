// batchNorm and groupNorm (cpp/ops/norm.h), recorded by the autograd. batchNorm updates the running
// statistics it is given in place, in training mode.
#include "autograd/functions.h"
#include "binding.h"

namespace qkv::binding {

// A tensor argument that may be null or undefined (then an undefined tensor).
static Tensor maybe_tensor(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  const bool absent = i >= info.Length() || info[i].IsNull() || info[i].IsUndefined();
  return absent ? Tensor() : TensorHandle::unwrap(info, i, op, name);
}

// batchNorm(x, runningMean | null, runningVar | null, gamma | null, beta | null, training, momentum, eps)
static Napi::Value batch_norm(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "batchNorm";
    const Tensor& x = TensorHandle::unwrap(info, 0, op, "input");
    Tensor running_mean = maybe_tensor(info, 1, op, "runningMean"), running_var = maybe_tensor(info, 2, op, "runningVar");
    const Tensor gamma = maybe_tensor(info, 3, op, "gamma"), beta = maybe_tensor(info, 4, op, "beta");
    ops::BatchNormOptions o;
    o.training = arg_bool(info, 5, op, "training");
    o.momentum = arg_number(info, 6, op, "momentum");
    o.eps = arg_number(info, 7, op, "eps");
    // The copies share the handles' storage, so the update lands in the caller's tensors.
    return TensorHandle::wrap(info.Env(), ag::batch_norm(x, &running_mean, &running_var, gamma, beta, o));
  });
}

// groupNorm(x, groups, gamma | null, beta | null, eps)
static Napi::Value group_norm(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "groupNorm";
    const Tensor& x = TensorHandle::unwrap(info, 0, op, "input");
    const int64_t groups = arg_int(info, 1, op, "groups");
    const Tensor gamma = maybe_tensor(info, 2, op, "gamma"), beta = maybe_tensor(info, 3, op, "beta");
    return TensorHandle::wrap(info.Env(), ag::group_norm(x, groups, gamma, beta, arg_number(info, 4, op, "eps")));
  });
}

void init_norm(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNorm", Napi::Function::New(env, batch_norm, "batchNorm"));
  exports.Set("groupNorm", Napi::Function::New(env, group_norm, "groupNorm"));
}

}  // namespace qkv::binding
