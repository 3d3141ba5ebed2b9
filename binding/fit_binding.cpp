// The training loop (cpp/train) as progress jobs (progress_job.h): fit, evaluate and predict each
// return { promise, abort } and run on their own thread. Each job marks its module (and optimizer)
// busy on the main thread before it starts and releases them on the main thread when it settles,
// so that sync calls from JavaScript meanwhile get ERR_BUSY instead of racing.
#include <cmath>

#include "binding.h"
#include "progress_job.h"
#include "training.h"
#include "train/fit.h"

namespace qkv::binding {

nn::ModulePtr unwrap_module(Napi::Env env, const Napi::Value& v, const char* op, const char* name);
bool refuse_if_busy(Napi::Env env, const nn::Module& m, const char* op);
std::shared_ptr<optim::Optimizer> unwrap_optimizer(Napi::Env env, const Napi::Value& v, const char* op, const char* name);
bool refuse_if_optimizer_busy(Napi::Env env, const optim::Optimizer& o, const char* op);
std::shared_ptr<void> hold_for_job(const nn::ModulePtr& m, const std::shared_ptr<optim::Optimizer>& opt);

namespace {

Tensor optional_tensor(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return Tensor();
  return TensorHandle::unwrap(info, i, op, name);
}

train::LossOptions loss_options(const Napi::Object& o, const char* op) {
  train::LossOptions lo;
  Napi::Value v = o.Get("loss");
  if (!v.IsUndefined()) {
    if (!v.IsString()) throw_type(std::string(op) + ": loss must be 'crossEntropy' or 'mse'");
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s == "crossEntropy") lo.kind = train::LossKind::CrossEntropy;
    else if (s == "mse") lo.kind = train::LossKind::MSE;
    else throw_type(std::string(op) + ": loss must be 'crossEntropy' or 'mse', got '" + s + "'");
  }
  lo.ignore_index = opt_int(o, "ignoreIndex", -100, op);
  lo.label_smoothing = opt_number(o, "labelSmoothing", 0, op);
  if (!(lo.label_smoothing >= 0 && lo.label_smoothing <= 1)) throw_range(std::string(op) + ": labelSmoothing must be in [0, 1]");
  return lo;
}

// Starts `work` as a progress job holding the module (and optimizer) busy until it settles.
Napi::Value start_job(Napi::Env env, const char* name, const nn::ModulePtr& m, const std::shared_ptr<optim::Optimizer>& opt,
                      Napi::Value on_progress, std::function<void(JobControl&)> work,
                      std::function<Napi::Value(Napi::Env)> done) {
  auto hold = hold_for_job(m, opt);
  ProgressJobSpec spec;
  spec.name = name;
  spec.work = std::move(work);
  spec.done = std::move(done);
  spec.on_progress = on_progress;
  return start_progress_job(env, std::move(spec), [hold](Napi::Object, std::shared_ptr<JobControl> ctl) {
    ctl->on_settle([hold]() mutable { hold.reset(); });
  });
}

// nnFit(module, optimizer, inputs, targets, valInputs | null, valTargets | null, options, onProgress | null)
//   → { promise: Promise<FitResult>, abort() }
Napi::Value nn_fit(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "fit";
    Napi::Env env = info.Env();
    nn::ModulePtr m = unwrap_module(env, info.Length() ? info[0] : env.Undefined(), op, "model");
    auto opt = unwrap_optimizer(env, info.Length() > 1 ? info[1] : env.Undefined(), op, "optimizer");
    train::Dataset data{TensorHandle::unwrap(info, 2, op, "inputs"), TensorHandle::unwrap(info, 3, op, "targets")};
    auto val = std::make_shared<train::Dataset>();
    val->inputs = optional_tensor(info, 4, op, "validation inputs");
    val->targets = optional_tensor(info, 5, op, "validation targets");
    Napi::Object o = options_arg(info, 6, op);
    train::FitOptions fo;
    fo.loop = loop_options(o, op, fo.loop);
    fo.batch_size = opt_int(o, "batchSize", 32, op);
    fo.shuffle = opt_bool(o, "shuffle", true, op);
    fo.loss = loss_options(o, op);
    fo.eval_batch_size = opt_int(o, "evalBatchSize", 0, op);
    // Argument errors are thrown now, synchronously, rather than from the worker.
    train::check_dataset(data, op, "the dataset");
    if (val->inputs.defined() || val->targets.defined()) train::check_dataset(*val, op, "the validation set");
    Napi::Value on_progress = info.Length() > 7 ? info[7] : env.Undefined();
    if (refuse_if_busy(env, *m, op) || refuse_if_optimizer_busy(env, *opt, op)) return env.Undefined();
    auto result = std::make_shared<train::Result>();
    const bool has_val = val->inputs.defined();
    return start_job(
        env, op, m, opt, on_progress,
        [m, opt, data, val, has_val, fo, result](JobControl& ctl) {
          *result = train::fit(*m, *opt, data, has_val ? val.get() : nullptr, fo, ProgressReporter(ctl), [&ctl] { return ctl.aborted(); });
        },
        [result](Napi::Env e) -> Napi::Value { return result_object(e, *result); });
  });
}

// nnEvaluate(module, inputs, targets, options) → { promise: Promise<{ loss, accuracy?, samples }>, abort() }
Napi::Value nn_evaluate(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "evaluate";
    Napi::Env env = info.Env();
    nn::ModulePtr m = unwrap_module(env, info.Length() ? info[0] : env.Undefined(), op, "model");
    train::Dataset data{TensorHandle::unwrap(info, 1, op, "inputs"), TensorHandle::unwrap(info, 2, op, "targets")};
    Napi::Object o = options_arg(info, 3, op);
    train::LossOptions lo = loss_options(o, op);
    int64_t batch = opt_int(o, "batchSize", 256, op);
    if (batch < 1) throw_range("evaluate: batchSize must be a positive integer");
    train::check_dataset(data, op, "the dataset");
    if (refuse_if_busy(env, *m, op)) return env.Undefined();
    auto result = std::make_shared<train::EvalResult>();
    return start_job(
        env, op, m, nullptr, env.Undefined(),
        [m, data, lo, batch, result](JobControl& ctl) { *result = train::evaluate(*m, data, lo, batch, [&ctl] { return ctl.aborted(); }); },
        [result](Napi::Env e) -> Napi::Value { return eval_object(e, *result); });
  });
}

// nnPredict(module, inputs, batchSize) → { promise: Promise<Tensor>, abort() }
Napi::Value nn_predict(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "predict";
    Napi::Env env = info.Env();
    nn::ModulePtr m = unwrap_module(env, info.Length() ? info[0] : env.Undefined(), op, "model");
    Tensor inputs = TensorHandle::unwrap(info, 1, op, "inputs");
    int64_t batch = arg_int(info, 2, op, "batchSize");
    if (batch < 1) throw_range("predict: batchSize must be a positive integer");
    if (inputs.dim() < 1 || inputs.size(0) == 0) throw_range("predict: inputs must have a non-empty batch dimension, got " + shape_str(inputs.shape()));
    if (refuse_if_busy(env, *m, op)) return env.Undefined();
    auto result = std::make_shared<Tensor>();
    return start_job(
        env, op, m, nullptr, env.Undefined(),
        [m, inputs, batch, result](JobControl& ctl) { *result = train::predict(*m, inputs, batch, [&ctl] { return ctl.aborted(); }); },
        [result](Napi::Env e) -> Napi::Value { return TensorHandle::wrap(e, *result); });
  });
}

}  // namespace

void init_fit(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
      {"nnFit", nn_fit}, {"nnEvaluate", nn_evaluate}, {"nnPredict", nn_predict},
  };
  for (auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace qkv::binding
