#pragma once
// Tasks: a module's long calls (fit, evaluate, predict, encode, translate, score, classify, ...),
// registered in the core per module type and verb, so that the binding needs one generic entry
// that runs any of them off the event loop with progress, streamed items and abort.
//
// A task reads its inputs from a TaskInput (the call's options as JSON, named tensors, and for
// training the optimizer to continue) and returns a TaskOutput (a JSON value and named tensors).
// Tasks registered under "*" apply to every module type (fit, evaluate, predict of nn modules);
// a type's own task of the same verb wins.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/json.h"
#include "nn/module.h"
#include "optim/optimizer.h"
#include "train/engine.h"

namespace qkv::nn {

// A call's options object, read with the errors of a JavaScript API: TypeError for a wrong type,
// RangeError for a number out of range, each naming the call and the option.
class TaskOptions {
 public:
  TaskOptions(const json::Value& v, std::string op) : v_(v), op_(std::move(op)) {}
  const std::string& op() const { return op_; }
  bool has(const char* key) const;
  int64_t integer_or(const char* key, int64_t fallback) const;
  int64_t integer_at_least(const char* key, int64_t fallback, int64_t min) const;
  std::optional<double> number(const char* key) const;  // unset: nullopt
  double number_or(const char* key, double fallback) const;
  bool boolean_or(const char* key, bool fallback) const;
  std::string string_or(const char* key, const std::string& fallback) const;
  std::vector<int32_t> int_list(const char* key) const;  // unset: empty
  const json::Value* find(const char* key) const { return v_.is_object() ? v_.find(key) : nullptr; }

  // The training engine's options: epochs, maxSteps, accumulate, clipNorm, seed (unset ones keep
  // `defaults`), and the optimizer's: lr, minLr, weightDecay, beta1, beta2, eps, warmupSteps, schedule.
  train::LoopOptions loop(train::LoopOptions defaults) const;
  train::HyperOptions hyper() const;

 private:
  const json::Value& v_;
  std::string op_;
};

struct TaskInput {
  json::Value options = json::Value::object();
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::shared_ptr<optim::Optimizer> optimizer;  // training tasks: the one to train (made by make_optimizer when not given)

  const Tensor* find(const std::string& name) const;
  // The tensor of that name; TypeError naming op when it is missing.
  const Tensor& tensor(const std::string& name, const char* op) const;
};

struct TaskOutput {
  json::Value value = json::Value::object();
  std::vector<std::pair<std::string, Tensor>> tensors;
};

struct TaskContext {
  std::function<void(const train::Progress&)> progress;  // may be empty
  std::function<void(json::Value)> emit;                 // streamed items, delivered in order; may be empty
  std::function<bool()> aborted;                         // polled between steps/batches; may be empty
};

struct TaskSpec {
  std::function<TaskOutput(Module&, const TaskInput&, TaskContext&)> run;
  // Training tasks: the optimizer a call starts when it continues none. Made on the caller's
  // thread before the task runs, so that the caller holds it (and the state of the steps taken)
  // even when the task is aborted.
  std::function<std::shared_ptr<optim::Optimizer>(Module&)> make_optimizer;
};

// Registers a task for a module type ("*": every type). The first registration of a type and verb
// stays; registering it again (each Node environment registers at load) changes nothing.
void register_task(const std::string& module_type, const std::string& verb, TaskSpec spec);
// A copy of the task of `verb` for m's type (or "*"); TypeError naming the type when there is none.
TaskSpec find_task(const Module& m, const std::string& verb);
// The verbs registered for m's type (its own and "*"), sorted.
std::vector<std::string> task_verbs(const Module& m);

// EvalResult and Result as JSON values (NaN as null), the shapes the TypeScript side types.
json::Value to_json(const train::EvalResult& r);
json::Value to_json(const train::Result& r);

}  // namespace qkv::nn
