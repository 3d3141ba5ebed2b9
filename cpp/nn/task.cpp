#include "nn/task.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "core/error.h"
#include "optim/schedule.h"

namespace qkv::nn {

// ---- options -------------------------------------------------------------------------------------

bool TaskOptions::has(const char* key) const {
  const json::Value* x = find(key);
  return x && !x->is_null();
}

std::optional<double> TaskOptions::number(const char* key) const {
  const json::Value* x = find(key);
  if (!x) return std::nullopt;
  if (!x->is_number()) throw_type(op_ + ": " + key + " must be a finite number");
  return x->as_double();
}

double TaskOptions::number_or(const char* key, double fallback) const { return number(key).value_or(fallback); }

int64_t TaskOptions::integer_or(const char* key, int64_t fallback) const {
  const std::optional<double> d = number(key);
  if (!d) return fallback;
  if (std::floor(*d) != *d || std::fabs(*d) > 9007199254740991.0) throw_range(op_ + ": " + key + " must be an integer, got " + std::to_string(*d));
  return static_cast<int64_t>(*d);
}

int64_t TaskOptions::integer_at_least(const char* key, int64_t fallback, int64_t min) const {
  const int64_t v = integer_or(key, fallback);
  if (v < min) throw_range(op_ + ": " + key + " must be an integer >= " + std::to_string(min) + ", got " + std::to_string(v));
  return v;
}

bool TaskOptions::boolean_or(const char* key, bool fallback) const {
  const json::Value* x = find(key);
  if (!x) return fallback;
  if (!x->is_bool()) throw_type(op_ + ": " + key + " must be a boolean");
  return x->as_bool();
}

std::string TaskOptions::string_or(const char* key, const std::string& fallback) const {
  const json::Value* x = find(key);
  if (!x) return fallback;
  if (!x->is_string()) throw_type(op_ + ": " + key + " must be a string");
  return x->as_string();
}

std::vector<int32_t> TaskOptions::int_list(const char* key) const {
  const json::Value* x = find(key);
  std::vector<int32_t> out;
  if (!x) return out;
  if (!x->is_array()) throw_type(op_ + ": " + key + " must be an array of integers");
  for (const json::Value& e : x->items()) {
    if (!e.is_int() || e.as_int() < INT32_MIN || e.as_int() > INT32_MAX) throw_type(op_ + ": " + key + " must hold int32 integers");
    out.push_back(static_cast<int32_t>(e.as_int()));
  }
  return out;
}

train::LoopOptions TaskOptions::loop(train::LoopOptions l) const {
  if (has("epochs")) l.epochs = integer_or("epochs", 1);
  l.max_steps = integer_or("maxSteps", l.max_steps);
  l.accumulate = integer_or("accumulate", l.accumulate);
  l.clip_norm = number_or("clipNorm", l.clip_norm);
  l.eval_every = integer_at_least("evalEvery", l.eval_every, 0);
  const int64_t seed = integer_or("seed", static_cast<int64_t>(l.seed));
  if (seed < 0) throw_type(op_ + ": seed must be a non-negative integer");
  l.seed = static_cast<uint64_t>(seed);
  return l;
}

train::HyperOptions TaskOptions::hyper() const {
  train::HyperOptions h;
  h.lr = number("lr");
  h.min_lr = number("minLr");
  h.weight_decay = number("weightDecay");
  h.beta1 = number("beta1");
  h.beta2 = number("beta2");
  h.eps = number("eps");
  h.warmup_steps = integer_or("warmupSteps", -1);
  if (has("schedule")) {
    optim::ScheduleKind kind;
    if (!optim::schedule_from_name(string_or("schedule", ""), &kind))
      throw_type(op_ + ": schedule must be 'warmupCosine', 'warmupLinear' or 'constant'");
    h.schedule = kind;
  }
  return h;
}

// ---- inputs --------------------------------------------------------------------------------------

const Tensor* TaskInput::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

const Tensor& TaskInput::tensor(const std::string& name, const char* op) const {
  const Tensor* t = find(name);
  if (!t || !t->defined()) throw_type(std::string(op) + ": the input '" + name + "' is missing");
  return *t;
}

// ---- the registry --------------------------------------------------------------------------------

namespace {

struct Registry {
  std::mutex mu;
  std::map<std::pair<std::string, std::string>, TaskSpec> tasks;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: tasks may run during shutdown
  return *r;
}

json::Value number_or_null(double v) { return std::isfinite(v) ? json::Value::number(v) : json::Value::null(); }

}  // namespace

void register_task(const std::string& module_type, const std::string& verb, TaskSpec spec) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  // Every Node environment (each worker thread) registers the same tasks: the first stays, so that
  // a task another thread is starting is never overwritten under it.
  r.tasks.try_emplace({module_type, verb}, std::move(spec));
}

TaskSpec find_task(const Module& m, const std::string& verb) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (const std::string& type : {m.type(), std::string("*")}) {
    auto it = r.tasks.find({type, verb});
    if (it != r.tasks.end()) return it->second;
  }
  throw_type("the " + m.type() + " has no task '" + verb + "'");
}

std::vector<std::string> task_verbs(const Module& m) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> out;
  for (const auto& [key, spec] : r.tasks)
    if (key.first == m.type() || key.first == "*") out.push_back(key.second);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

json::Value to_json(const train::EvalResult& e) {
  json::Value o = json::Value::object();
  o.set("loss", number_or_null(e.loss));
  if (std::isfinite(e.accuracy)) o.set("accuracy", json::Value::number(e.accuracy));
  o.set("count", json::Value::integer(e.count));
  return o;
}

json::Value to_json(const train::Result& r) {
  json::Value o = json::Value::object();
  o.set("steps", json::Value::integer(r.steps));
  o.set("samples", json::Value::integer(r.samples));
  o.set("tokens", json::Value::integer(r.tokens));
  o.set("seconds", number_or_null(r.seconds));
  o.set("samplesPerSec", number_or_null(r.samples_per_sec));
  o.set("tokensPerSec", number_or_null(r.tokens_per_sec));
  o.set("firstEpoch", json::Value::integer(r.first_epoch));
  json::Value epochs = json::Value::array();
  for (const train::EpochStats& e : r.epochs) {
    json::Value eo = json::Value::object();
    eo.set("epoch", json::Value::integer(e.epoch));
    eo.set("loss", number_or_null(e.loss));
    if (std::isfinite(e.val_loss)) eo.set("valLoss", json::Value::number(e.val_loss));
    if (std::isfinite(e.val_accuracy)) eo.set("valAccuracy", json::Value::number(e.val_accuracy));
    eo.set("seconds", number_or_null(e.seconds));
    epochs.push(std::move(eo));
  }
  o.set("epochs", std::move(epochs));
  // [step, loss, valLoss | null, valAccuracy | null] per step: compact for long runs.
  json::Value history = json::Value::array();
  for (const train::StepRecord& h : r.history)
    history.push(json::Value::array({json::Value::integer(h.step), number_or_null(h.loss), number_or_null(h.val_loss), number_or_null(h.val_accuracy)}));
  o.set("history", std::move(history));
  return o;
}

}  // namespace qkv::nn
