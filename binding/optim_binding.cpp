// Optimizers (cpp/optim): creation over parameter tensors, step, zero_grad, learning rate and
// schedule, gradient clipping. An optimizer crosses to JavaScript as a type-tagged External.
#include <cmath>

#include "autograd/autograd.h"
#include "binding.h"
#include "modules.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace qkv::binding {

namespace {

const napi_type_tag kOptimizerTag = {0x3c9e51f08d7a4b2eULL, 0xb41f6a2d95c7e803ULL};

struct OptimizerBox {
  std::shared_ptr<optim::Optimizer> opt;
};

OptimizerBox* unwrap_box(Napi::Env env, const Napi::Value& v, const char* op, const char* name) {
  if (!v.IsExternal() || !v.As<Napi::External<OptimizerBox>>().CheckTypeTag(&kOptimizerTag))
    throw_type(std::string(op) + ": " + name + " must be an optimizer");
  return v.As<Napi::External<OptimizerBox>>().Data();
}

std::vector<Tensor> tensor_list(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsArray()) throw_type(std::string(op) + ": params must be an array of Tensors");
  Napi::Array arr = info[i].As<Napi::Array>();
  std::vector<Tensor> out;
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    const std::string label = "params[" + std::to_string(k) + "]";
    out.push_back(TensorHandle::unwrap_value(info.Env(), get(arr, k), op, label.c_str()));
  }
  return out;
}

optim::Schedule schedule_arg(const Napi::Value& v, const char* op) {
  optim::Schedule s;
  if (v.IsUndefined() || v.IsNull()) return s;
  if (!v.IsObject()) throw_type(std::string(op) + ": schedule must be an object from qkv.optim.schedule");
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value kind = get(o, "kind");
  if (!kind.IsString() || !optim::schedule_from_name(kind.As<Napi::String>().Utf8Value(), &s.kind))
    throw_type(std::string(op) + ": schedule.kind must be 'constant', 'warmupCosine' or 'warmupLinear'");
  auto integer = [&](const char* key) -> int64_t {
    double d = opt_number(o, key, 0, op);
    if (!std::isfinite(d) || std::floor(d) != d || d < 0) throw_range(std::string(op) + ": schedule." + key + " must be an integer >= 0");
    return static_cast<int64_t>(d);
  };
  s.warmup_steps = integer("warmupSteps");
  s.total_steps = integer("totalSteps");
  s.min_lr = opt_number(o, "minLr", 0, op);
  s.validate(op);
  return s;
}

Napi::Object schedule_object(Napi::Env env, const optim::Schedule& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", Napi::String::New(env, optim::schedule_name(s.kind)));
  o.Set("warmupSteps", Napi::Number::New(env, static_cast<double>(s.warmup_steps)));
  o.Set("totalSteps", Napi::Number::New(env, static_cast<double>(s.total_steps)));
  o.Set("minLr", Napi::Number::New(env, s.min_lr));
  return o;
}

std::shared_ptr<optim::Optimizer> opt_arg(const Napi::CallbackInfo& info, const char* op) {
  return unwrap_optimizer(info.Env(), info.Length() ? info[0] : info.Env().Undefined(), op, "optimizer");
}

// optimCreate(type, params: Tensor[], decay: boolean[], options) → optimizer
Napi::Value optim_create(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::Env env = info.Env();
    std::string type = arg_string(info, 0, "optim", "type");
    const std::string where = "optim." + type;
    const char* op = where.c_str();
    std::vector<Tensor> params = tensor_list(info, 1, op);
    std::vector<bool> decay;
    if (info.Length() > 2 && info[2].IsArray()) {
      Napi::Array arr = info[2].As<Napi::Array>();
      for (uint32_t k = 0; k < arr.Length(); ++k) decay.push_back(get(arr, k).ToBoolean().Value());
    }
    Napi::Object o = info.Length() > 3 && info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object::New(env);
    std::shared_ptr<optim::Optimizer> opt;
    if (type == "SGD") {
      optim::SGDOptions so;
      so.lr = opt_number(o, "lr", so.lr, op);
      so.momentum = opt_number(o, "momentum", 0, op);
      so.dampening = opt_number(o, "dampening", 0, op);
      so.weight_decay = opt_number(o, "weightDecay", 0, op);
      so.nesterov = opt_bool(o, "nesterov", false, op);
      opt = std::make_shared<optim::SGD>(params, so, decay);
    } else if (type == "Adam" || type == "AdamW") {
      optim::AdamOptions ao;
      ao.decoupled = type == "AdamW";
      ao.lr = opt_number(o, "lr", ao.lr, op);
      ao.eps = opt_number(o, "eps", ao.eps, op);
      ao.weight_decay = opt_number(o, "weightDecay", ao.decoupled ? 0.01 : 0.0, op);
      Napi::Value betas = get(o, "betas");
      if (!betas.IsUndefined()) {
        if (!betas.IsArray() || betas.As<Napi::Array>().Length() != 2) throw_type(std::string(op) + ": betas must be [beta1, beta2]");
        const Napi::Value b1 = get(betas.As<Napi::Object>(), 0u), b2 = get(betas.As<Napi::Object>(), 1u);
        if (!b1.IsNumber() || !b2.IsNumber()) throw_type(std::string(op) + ": betas must be [beta1, beta2]");
        ao.beta1 = b1.As<Napi::Number>().DoubleValue();
        ao.beta2 = b2.As<Napi::Number>().DoubleValue();
      }
      opt = std::make_shared<optim::Adam>(params, ao, decay);
    } else {
      throw_type("optim: unknown optimizer '" + type + "' (SGD, Adam, AdamW)");
    }
    opt->set_schedule(schedule_arg(get(o, "schedule"), op));
    return wrap_optimizer(env, opt);
  });
}

Napi::Value optim_step(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    auto opt = opt_arg(info, "step");
    check_optimizer_not_busy(*opt, "step");
    return Napi::Number::New(info.Env(), opt->step());
  });
}

Napi::Value optim_zero_grad(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    auto opt = opt_arg(info, "zeroGrad");
    check_optimizer_not_busy(*opt, "zeroGrad");
    opt->zero_grad();
    return info.Env().Undefined();
  });
}

// optimInfo(opt) → { type, lr, currentLr, stepCount, weightDecay, schedule, hyperparameters (JSON) }
Napi::Value optim_info(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::Env env = info.Env();
    auto opt = opt_arg(info, "optimizer");
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", Napi::String::New(env, opt->type()));
    o.Set("lr", Napi::Number::New(env, opt->lr()));
    o.Set("currentLr", Napi::Number::New(env, opt->current_lr()));
    o.Set("stepCount", Napi::Number::New(env, static_cast<double>(opt->step_count())));
    o.Set("weightDecay", Napi::Number::New(env, opt->weight_decay()));
    o.Set("schedule", schedule_object(env, opt->schedule()));
    o.Set("hyperparameters", Napi::String::New(env, json::dump(opt->hyperparameters())));
    Napi::Array decay = Napi::Array::New(env, opt->size());
    for (uint32_t i = 0; i < opt->size(); ++i) decay.Set(i, Napi::Boolean::New(env, opt->state(i).decay));
    o.Set("decay", decay);
    return o;
  });
}

Napi::Value optim_set_lr(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    auto opt = opt_arg(info, "lr");
    check_optimizer_not_busy(*opt, "lr");
    opt->set_lr(arg_number(info, 1, "lr", "value"));
    return info.Env().Undefined();
  });
}

Napi::Value optim_set_schedule(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    auto opt = opt_arg(info, "schedule");
    check_optimizer_not_busy(*opt, "schedule");
    opt->set_schedule(schedule_arg(info.Length() > 1 ? info[1] : info.Env().Undefined(), "schedule"));
    return info.Env().Undefined();
  });
}

// optimState(opt, i) → [[name, Tensor]] of parameter i's state (copies), and its step count
Napi::Value optim_state(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::Env env = info.Env();
    auto opt = opt_arg(info, "state");
    int64_t i = arg_int(info, 1, "state", "index");
    if (i < 0 || static_cast<size_t>(i) >= opt->size()) throw_range("state: index out of range");
    const optim::ParamState& s = opt->state(static_cast<size_t>(i));
    Napi::Object o = Napi::Object::New(env);
    o.Set("step", Napi::Number::New(env, static_cast<double>(s.step)));
    Napi::Object bufs = Napi::Object::New(env);
    std::vector<std::string> names = opt->state_names();
    for (size_t k = 0; k < s.buffers.size() && k < names.size(); ++k) set_data(bufs, names[k], TensorHandle::wrap(env, s.buffers[k].clone()));
    o.Set("buffers", bufs);
    return o;
  });
}

// scheduleLr(schedule, baseLr, step) → the rate of that step
Napi::Value schedule_lr(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    optim::Schedule s = schedule_arg(info.Length() ? info[0] : info.Env().Undefined(), "schedule");
    double base = arg_number(info, 1, "schedule", "baseLr");
    int64_t step = arg_int(info, 2, "schedule", "step");
    if (step < 0) throw_range("schedule: step must be >= 0");
    return Napi::Number::New(info.Env(), s.lr_at(base, step));
  });
}

Napi::Value clip_grad_norm(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    std::vector<Tensor> params = tensor_list(info, 0, "clipGradNorm");
    return Napi::Number::New(info.Env(), optim::clip_grad_norm(params, arg_number(info, 1, "clipGradNorm", "maxNorm")));
  });
}

Napi::Value grad_norm(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return Napi::Number::New(info.Env(), optim::grad_norm(tensor_list(info, 0, "gradNorm"))); });
}

}  // namespace

std::shared_ptr<optim::Optimizer> unwrap_optimizer(Napi::Env env, const Napi::Value& v, const char* op, const char* name) {
  return unwrap_box(env, v, op, name)->opt;
}

Napi::Value wrap_optimizer(Napi::Env env, std::shared_ptr<optim::Optimizer> opt) {
  return tagged_external(env, new OptimizerBox{std::move(opt)}, [](Napi::Env, OptimizerBox* b) { delete b; }, &kOptimizerTag);
}

void check_optimizer_not_busy(const optim::Optimizer& o, const char* op) {
  if (o.busy.load() != 0)
    throw Error(ErrorKind::Busy, std::string(op) + ": the " + o.type() + " optimizer is in use by a running job (fit, save or load); await it first");
  for (const Tensor& p : o.params())
    if (p.busy())
      throw Error(ErrorKind::Busy, std::string(op) + ": the " + o.type() +
                                       " optimizer's parameters belong to a model in use by a running job (fit, save or load); await it first");
}

void init_optim(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
      {"optimCreate", optim_create},   {"optimStep", optim_step},
      {"optimZeroGrad", optim_zero_grad}, {"optimInfo", optim_info},
      {"optimSetLr", optim_set_lr},    {"optimSetSchedule", optim_set_schedule},
      {"optimState", optim_state},     {"scheduleLr", schedule_lr},
      {"clipGradNorm", clip_grad_norm}, {"gradNorm", grad_norm},
  };
  for (auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace qkv::binding
