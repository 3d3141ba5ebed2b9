#pragma once
// The training engine: the one step loop every gradient-trained model runs. A model's training is
// an adapter that supplies
//   - a BatchSource: which rows make each batch of an epoch (shuffled rows of a tensor dataset,
//     length-bucketed sequences or pairs of them; packed token streams can be another source),
//   - an Objective: the recorded loss of a batch's rows, its weight (samples or tokens), and
//     optionally the validation run at each epoch end,
// and the engine does the rest: gradient accumulation, clipping, the optimizer step and its
// schedule, progress, abort between micro-batches, a NaN stop, and resuming.
//
// Resuming is exact. A run continues the optimizer's step count s0: its steps are s0+1..s0+n. The
// order of epoch e is drawn from a generator seeded by (seed, e), so a continued run skips the
// s0 steps already taken without replaying anything; the objective's random draws (MLM masks)
// are seeded by (seed, step) the same way, and dropout follows per-module call counters that are
// saved with the model and advance only in training mode. So n1 steps, a checkpoint (model and
// optimizer), then n2 continued steps give the same parameters as n1 + n2 steps in one call.
//
// Accumulation: each optimizer step sums the gradients of `accumulate` micro-batches, each
// micro-batch's mean loss weighted by its share of the step's total weight, so that the step sees
// the gradient of the mean over all of them. The last step of an epoch takes what is left.
//
// Errors: Error(Aborted) when `aborted` turns true, Error(NaN) for a non-finite loss or gradient
// norm (naming the step and epoch). On any error the gradients are cleared and the model's mode is
// restored; steps already taken are kept, so the model and optimizer stay usable.
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace qkv::train {

constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

// ---- batch sources -------------------------------------------------------------------------------
using Rows = std::vector<int64_t>;

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t size() const = 0;  // samples
  // The batches of one epoch, drawn from `rng` (seeded per epoch by the engine).
  virtual std::vector<Rows> epoch(Rng& rng) const = 0;
  // Micro-batches per epoch (the same every epoch).
  virtual int64_t batches_per_epoch() const = 0;
};

// Rows 0..N-1, shuffled or in order, cut into batches of batch_size (the last one smaller).
class ShuffledBatches : public BatchSource {
 public:
  ShuffledBatches(int64_t size, int64_t batch_size, bool shuffle);
  int64_t size() const override { return n_; }
  std::vector<Rows> epoch(Rng& rng) const override;
  int64_t batches_per_epoch() const override { return (n_ + b_ - 1) / b_; }

 private:
  int64_t n_, b_;
  bool shuffle_;
};

// Length-bucketed batches: the rows are shuffled, cut into pools of 50 batches, each pool sorted
// by key (a length, or a combination of a pair's lengths) and cut into batches whose order is
// shuffled again. Padding stays small without fixing the order of the data.
class BucketedBatches : public BatchSource {
 public:
  BucketedBatches(std::vector<int64_t> keys, int64_t batch_size, bool shuffle);
  int64_t size() const override { return static_cast<int64_t>(keys_.size()); }
  std::vector<Rows> epoch(Rng& rng) const override;
  int64_t batches_per_epoch() const override;

 private:
  std::vector<int64_t> keys_;
  int64_t b_;
  bool shuffle_;
};

// ---- the objective ------------------------------------------------------------------------------
struct EvalResult {
  double loss = kNoValue;
  double accuracy = kNoValue;  // where the objective has one
  int64_t count = 0;           // what the loss averages over: samples or tokens
};

struct BatchLoss {
  Tensor loss;         // recorded; the mean over the batch's weight
  int64_t tokens = 0;  // tokens the batch trained on (0 where the data has none)
};

class Objective {
 public:
  virtual ~Objective() = default;
  // The loss of `rows` at optimizer step `step` (seed the batch's random draws from it).
  virtual BatchLoss loss(const Rows& rows, int64_t step) = 0;
  // What the batch's mean loss averages over (samples, or target tokens); weighs micro-batches.
  virtual int64_t weight(const Rows& rows) const { return static_cast<int64_t>(rows.size()); }
  // After each optimizer step: constraints on the parameters (a dual encoder clamps its temperature).
  virtual void after_step() {}
  virtual bool has_validation() const { return false; }
  virtual EvalResult validate() { return {}; }
};

// ---- options, progress, result -------------------------------------------------------------------
struct LoopOptions {
  std::optional<int64_t> epochs;  // this call's epochs; unset: default_epochs, or what max_steps takes
  int64_t default_epochs = 1;
  int64_t max_steps = 0;          // > 0: at most this many steps in this call
  int64_t accumulate = 1;         // micro-batches per optimizer step
  double clip_norm = 0;           // 0: none (the norm is still reported)
  uint64_t seed = 0;              // data order (and the objective's draws) derive from it
  int64_t eval_every = 0;         // > 0: validate also every this many steps (besides epoch ends)
};

struct Progress {
  int64_t step = 0, total_steps = 0, epoch = 0;  // the optimizer's steps: s0+1.. of s0+n
  double loss = 0, lr = 0, grad_norm = 0;
  int64_t samples = 0, tokens = 0;               // this call's so far
  double samples_per_sec = 0, tokens_per_sec = 0, seconds = 0;
  bool epoch_end = false;
  double epoch_loss = 0;                         // weighted mean over the epoch so far
  double val_loss = kNoValue, val_accuracy = kNoValue;  // where this step validated (epoch ends, evalEvery)
};

struct EpochStats {
  int64_t epoch = 0;
  double loss = 0, val_loss = kNoValue, val_accuracy = kNoValue, seconds = 0;
};

// One optimizer step of a run: its loss and, where it validated, the validation loss (a loss curve).
struct StepRecord {
  int64_t step = 0;
  double loss = 0, val_loss = kNoValue, val_accuracy = kNoValue;
};

struct Result {
  int64_t steps = 0, samples = 0, tokens = 0;  // of this call
  int64_t first_epoch = 1;                     // the epoch of this call's first step
  double seconds = 0, samples_per_sec = 0, tokens_per_sec = 0;
  std::vector<EpochStats> epochs;              // the epochs this call ended
  std::vector<StepRecord> history;             // every step of this call
};

using ProgressFn = std::function<void(const Progress&)>;
using AbortFn = std::function<bool()>;

struct RunPlan {
  int64_t start = 0;       // s0: the optimizer's steps before this call
  int64_t steps = 0;       // this call's
  int64_t per_epoch = 0;   // optimizer steps per epoch
  int64_t total() const { return start + steps; }
};
// What a run over `data` with `options` will do, given the optimizer's step count; RangeError
// naming op for options out of range.
RunPlan plan(const BatchSource& data, const LoopOptions& options, const optim::Optimizer& optimizer, const char* op);

// Trains `model` (in train mode, restored afterwards) with `optimizer` over `plan`'s steps.
Result run(nn::Module& model, optim::Optimizer& optimizer, const BatchSource& data, Objective& objective, const LoopOptions& options,
           const RunPlan& plan, const char* op, const ProgressFn& on_progress = {}, const AbortFn& aborted = {});

// ---- pieces the adapters share --------------------------------------------------------------------
// Throws Error(Aborted) "<op>: aborted" when `aborted` says so.
void check_abort(const AbortFn& aborted, const char* op);
// Accumulates the token accuracy of logits [M, V] against targets [M] (ignoring `ignore`).
void count_correct(const Tensor& logits, const Tensor& targets, int64_t ignore, double& correct, int64_t& count);
// RangeError unless the optimizer updates exactly `model`'s parameters, in order.
void check_optimizer_of(const optim::Optimizer& optimizer, const nn::Module& model, const char* op);

// Optimizer hyperparameters a call may override; unset ones keep the optimizer's values.
struct HyperOptions {
  std::optional<double> lr, min_lr, weight_decay, beta1, beta2, eps;
  std::optional<optim::ScheduleKind> schedule;
  int64_t warmup_steps = -1;  // < 0: a continued run's own, else 5% of the steps (at most 1000)
};
// Applies `h` and a schedule that ends at plan.total() (warm-up counted from step 0).
void configure(optim::Optimizer& optimizer, const HyperOptions& h, const RunPlan& plan, const char* op);
void check_hyper_options(const HyperOptions& h, const char* op);

}  // namespace qkv::train
