#pragma once
// The training engine's types (cpp/train/engine.h) across the binding, written once for every
// model: the loop and optimizer options read from a JS options object, progress reports, and the
// result and evaluation objects that the TypeScript side (src/train.ts) types.
#include <napi.h>

#include "progress_job.h"
#include "train/engine.h"

namespace qkv::binding {

// epochs, maxSteps, accumulate, clipNorm, seed; unset ones keep `defaults`.
train::LoopOptions loop_options(const Napi::Object& o, const char* op, train::LoopOptions defaults);
// lr, minLr, weightDecay, beta1, beta2, eps, warmupSteps, schedule; unset ones stay unset.
train::HyperOptions hyper_options(const Napi::Object& o, const char* op);

// Progress as numbers. Reports are coalesced (the newest wins), so the validation results of the
// latest finished epoch ride along in every later report, where coalescing cannot hide them.
class ProgressReporter {
 public:
  explicit ProgressReporter(JobControl& ctl) : ctl_(ctl) {}
  void operator()(const train::Progress& p);

 private:
  JobControl& ctl_;
  double val_loss_ = train::kNoValue, val_accuracy_ = train::kNoValue;
};

Napi::Object result_object(Napi::Env env, const train::Result& r);
Napi::Object eval_object(Napi::Env env, const train::EvalResult& r);

}  // namespace qkv::binding
