#include "training.h"

#include <cmath>

#include "binding.h"

namespace qkv::binding {

namespace {

// A number option left unset stays unset (the optimizer's own value then applies).
std::optional<double> opt_given(const Napi::Object& o, const char* key, const char* op) {
  if (o.Get(key).IsUndefined()) return std::nullopt;
  return opt_number(o, key, 0, op);
}

void set_number(Napi::Object& o, const char* key, double v) { o.Set(key, Napi::Number::New(o.Env(), v)); }

}  // namespace

train::LoopOptions loop_options(const Napi::Object& o, const char* op, train::LoopOptions l) {
  if (!o.Get("epochs").IsUndefined()) l.epochs = opt_int(o, "epochs", 1, op);
  l.max_steps = opt_int(o, "maxSteps", l.max_steps, op);
  l.accumulate = opt_int(o, "accumulate", l.accumulate, op);
  l.clip_norm = opt_number(o, "clipNorm", l.clip_norm, op);
  const int64_t seed = opt_int(o, "seed", static_cast<int64_t>(l.seed), op);
  if (seed < 0) throw_type(std::string(op) + ": seed must be a non-negative integer");
  l.seed = static_cast<uint64_t>(seed);
  return l;
}

train::HyperOptions hyper_options(const Napi::Object& o, const char* op) {
  train::HyperOptions h;
  h.lr = opt_given(o, "lr", op);
  h.min_lr = opt_given(o, "minLr", op);
  h.weight_decay = opt_given(o, "weightDecay", op);
  h.beta1 = opt_given(o, "beta1", op);
  h.beta2 = opt_given(o, "beta2", op);
  h.eps = opt_given(o, "eps", op);
  h.warmup_steps = opt_int(o, "warmupSteps", -1, op);
  Napi::Value s = o.Get("schedule");
  if (!s.IsUndefined()) {
    optim::ScheduleKind kind;
    if (!s.IsString() || !optim::schedule_from_name(s.As<Napi::String>().Utf8Value(), &kind))
      throw_type(std::string(op) + ": schedule must be 'warmupCosine', 'warmupLinear' or 'constant'");
    h.schedule = kind;
  }
  return h;
}

void ProgressReporter::operator()(const train::Progress& p) {
  if (p.epoch_end) {
    val_loss_ = p.val_loss;
    val_accuracy_ = p.val_accuracy;
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
  ctl_.report(std::move(f));
}

Napi::Object result_object(Napi::Env env, const train::Result& r) {
  Napi::Object o = Napi::Object::New(env);
  set_number(o, "steps", static_cast<double>(r.steps));
  set_number(o, "samples", static_cast<double>(r.samples));
  set_number(o, "tokens", static_cast<double>(r.tokens));
  set_number(o, "seconds", r.seconds);
  set_number(o, "samplesPerSec", r.samples_per_sec);
  set_number(o, "tokensPerSec", r.tokens_per_sec);
  set_number(o, "firstEpoch", static_cast<double>(r.first_epoch));
  Napi::Array epochs = Napi::Array::New(env, r.epochs.size());
  for (uint32_t i = 0; i < r.epochs.size(); ++i) {
    const train::EpochStats& e = r.epochs[i];
    Napi::Object eo = Napi::Object::New(env);
    set_number(eo, "epoch", static_cast<double>(e.epoch));
    set_number(eo, "loss", e.loss);
    if (!std::isnan(e.val_loss)) set_number(eo, "valLoss", e.val_loss);
    if (!std::isnan(e.val_accuracy)) set_number(eo, "valAccuracy", e.val_accuracy);
    set_number(eo, "seconds", e.seconds);
    epochs.Set(i, eo);
  }
  o.Set("epochs", epochs);
  return o;
}

Napi::Object eval_object(Napi::Env env, const train::EvalResult& r) {
  Napi::Object o = Napi::Object::New(env);
  set_number(o, "loss", r.loss);  // NaN when nothing counted
  if (!std::isnan(r.accuracy)) set_number(o, "accuracy", r.accuracy);
  set_number(o, "count", static_cast<double>(r.count));
  return o;
}

}  // namespace qkv::binding
