// The one entry for every model's long calls: runTask runs a task registered in the core
// (nn/task.h) off the event loop, as a progress job (progress_job.h) with abort, progress and
// streamed items.
//
//   runTask(module, verb, optionsJson, tensors: [name, tensor][], optimizer | null, onProgress | null, onItem | null)
//     → { promise: Promise<{ value: string (JSON), tensors: [name, tensor][] }>, abort(), optimizer? }
//
// The module (and the optimizer) are marked busy on the main thread before the task starts and
// released there when it settles, so that synchronous calls meanwhile get ERR_BUSY instead of
// racing. A training task continues the optimizer given, or starts the task's own, made here
// before the work starts and returned on the job object at once: the caller keeps the state of the
// steps taken even when the task is aborted or fails.
#include <cmath>
#include <memory>

#include "binding.h"
#include "modules.h"
#include "nn/task.h"
#include "progress_job.h"
#include "train/fit_tasks.h"
#include "transformer/tasks.h"

namespace qkv::binding {

namespace {

Napi::Value arg(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() ? info[i] : info.Env().Undefined(); }
bool absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

// The engine's progress as numbers. Reports are coalesced (the newest wins), so the latest
// validation results ride along in every later report (with valStep, the step they were measured
// at), where coalescing cannot hide them.
class ProgressReporter {
 public:
  explicit ProgressReporter(JobControl& ctl) : ctl_(ctl) {}
  void operator()(const train::Progress& p) {
    if (!std::isnan(p.val_loss) || !std::isnan(p.val_accuracy)) {
      val_loss_ = p.val_loss;
      val_accuracy_ = p.val_accuracy;
      val_step_ = static_cast<double>(p.step);
    }
    ProgressFields f = {
        {"step", static_cast<double>(p.step)},       {"totalSteps", static_cast<double>(p.total_steps)},
        {"epoch", static_cast<double>(p.epoch)},     {"loss", p.loss},
        {"lr", p.lr},                                {"gradNorm", p.grad_norm},
        {"samples", static_cast<double>(p.samples)}, {"tokens", static_cast<double>(p.tokens)},
        {"samplesPerSec", p.samples_per_sec},        {"tokensPerSec", p.tokens_per_sec},
        {"seconds", p.seconds},                      {"epochEnd", p.epoch_end ? 1.0 : 0.0},
        {"epochLoss", p.epoch_loss},
    };
    if (!std::isnan(val_loss_)) f.emplace_back("valLoss", val_loss_);
    if (!std::isnan(val_accuracy_)) f.emplace_back("valAccuracy", val_accuracy_);
    if (val_step_ > 0) f.emplace_back("valStep", val_step_);
    ctl_.report(std::move(f));
  }

 private:
  JobControl& ctl_;
  double val_loss_ = train::kNoValue, val_accuracy_ = train::kNoValue, val_step_ = 0;
};

std::vector<std::pair<std::string, Tensor>> named_tensors_arg(Napi::Env env, const Napi::Value& v, const char* op) {
  std::vector<std::pair<std::string, Tensor>> out;
  if (absent(v)) return out;
  if (!v.IsArray()) throw_type(std::string(op) + ": tensors must be an array of [name, tensor] pairs");
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = get(arr, i);
    if (!e.IsArray() || e.As<Napi::Array>().Length() != 2) throw_type(std::string(op) + ": tensors must be [name, tensor] pairs");
    const Napi::Value n = get(e.As<Napi::Object>(), 0u), t = get(e.As<Napi::Object>(), 1u);
    if (!n.IsString()) throw_type(std::string(op) + ": tensors must be [name, tensor] pairs");
    const std::string name = n.As<Napi::String>().Utf8Value();
    out.emplace_back(name, TensorHandle::unwrap_value(env, t, op, name.c_str()));
  }
  return out;
}

Napi::Value run_task(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::Env env = info.Env();
    nn::ModulePtr m = unwrap_module(env, arg(info, 0), "runTask", "module");
    const std::string verb = arg_string(info, 1, "runTask", "verb");
    const nn::TaskSpec spec = nn::find_task(*m, verb);
    const std::string name = m->type() + "." + verb;
    const char* op = name.c_str();
    auto input = std::make_shared<nn::TaskInput>();
    input->options = json::parse(arg_string(info, 2, op, "options"), op);
    input->tensors = named_tensors_arg(env, arg(info, 3), op);
    check_not_busy(*m, op);
    if (spec.make_optimizer) {
      if (absent(arg(info, 4))) {
        input->optimizer = spec.make_optimizer(*m);
      } else {
        input->optimizer = unwrap_optimizer(env, arg(info, 4), op, "optimizer");
        check_optimizer_not_busy(*input->optimizer, op);
      }
    }
    const bool streams = !absent(arg(info, 6));
    auto run = spec.run;
    auto output = std::make_shared<nn::TaskOutput>();
    auto hold = hold_for_job(m, input->optimizer);
    ProgressJobSpec job;
    job.name = name;
    job.on_progress = arg(info, 5);
    job.on_item = arg(info, 6);
    job.work = [m, run, input, output, streams](JobControl& ctl) {
      nn::TaskContext ctx;
      ctx.progress = ProgressReporter(ctl);
      ctx.aborted = [&ctl] { return ctl.aborted(); };
      if (streams) ctx.emit = [&ctl](json::Value item) { ctl.emit(json::dump(item)); };
      *output = run(*m, *input, ctx);
    };
    job.done = [output](Napi::Env e) -> Napi::Value {
      Napi::Object r = Napi::Object::New(e);
      r.Set("value", Napi::String::New(e, json::dump(output->value)));
      r.Set("tensors", named_tensors(e, output->tensors));
      return r;
    };
    std::shared_ptr<optim::Optimizer> opt = input->optimizer;
    return start_progress_job(env, std::move(job), [hold, opt](Napi::Object handle, std::shared_ptr<JobControl> ctl) {
      if (opt) handle.Set("optimizer", wrap_optimizer(handle.Env(), opt));
      // The hook owns the hold: settling runs and clears the hooks, which releases it.
      ctl->on_settle([hold]() { (void)hold; });
    });
  });
}

// taskVerbs(module) → string[]: what runTask accepts for this module.
Napi::Value task_verbs(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::Env env = info.Env();
    const std::vector<std::string> verbs = nn::task_verbs(*unwrap_module(env, arg(info, 0), "taskVerbs", "module"));
    Napi::Array out = Napi::Array::New(env, verbs.size());
    for (uint32_t i = 0; i < verbs.size(); ++i) out.Set(i, Napi::String::New(env, verbs[i]));
    return out;
  });
}

}  // namespace

void init_tasks(Napi::Env env, Napi::Object exports) {
  train::register_fit_tasks();
  transformer::register_transformer_tasks();
  exports.Set("runTask", Napi::Function::New(env, run_task, "runTask"));
  exports.Set("taskVerbs", Napi::Function::New(env, task_verbs, "taskVerbs"));
}

}  // namespace qkv::binding
