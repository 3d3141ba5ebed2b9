#include "train/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string>

#include "autograd/autograd.h"
#include "core/error.h"
#include "ops/ops.h"

namespace qkv::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A loss or norm for an error message: NaN and infinities spelled as JavaScript prints them.
std::string num_str(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return std::to_string(v);
}

std::string step_str(int64_t step, int64_t epoch) {
  return "step " + std::to_string(step) + " (epoch " + std::to_string(epoch) + ")";
}

void shuffle(std::vector<int64_t>& v, Rng& rng) {
  for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i) std::swap(v[i], v[rng.below(static_cast<uint32_t>(i + 1))]);
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

void check_batch_size(int64_t b) {
  if (b < 1) throw_range("batch size must be a positive integer, got " + std::to_string(b));
}

}  // namespace

// ---- batch sources -------------------------------------------------------------------------------

ShuffledBatches::ShuffledBatches(int64_t size, int64_t batch_size, bool shuffle) : n_(size), b_(batch_size), shuffle_(shuffle) {
  check_batch_size(batch_size);
}

std::vector<Rows> ShuffledBatches::epoch(Rng& rng) const {
  std::vector<int64_t> perm = iota(n_);
  if (shuffle_) shuffle(perm, rng);
  std::vector<Rows> out;
  for (int64_t a = 0; a < n_; a += b_) out.emplace_back(perm.begin() + a, perm.begin() + std::min(n_, a + b_));
  return out;
}

BucketedBatches::BucketedBatches(std::vector<int64_t> keys, int64_t batch_size, bool shuffle)
    : keys_(std::move(keys)), b_(batch_size), shuffle_(shuffle) {
  check_batch_size(batch_size);
}

int64_t BucketedBatches::batches_per_epoch() const { return (size() + b_ - 1) / b_; }

std::vector<Rows> BucketedBatches::epoch(Rng& rng) const {
  const int64_t N = size(), pool = b_ * 50;
  std::vector<int64_t> perm = iota(N);
  if (shuffle_) shuffle(perm, rng);
  std::vector<Rows> out;
  for (int64_t p0 = 0; p0 < N; p0 += pool) {
    const int64_t p1 = std::min(N, p0 + pool);
    std::stable_sort(perm.begin() + p0, perm.begin() + p1, [&](int64_t a, int64_t b) { return keys_[a] < keys_[b]; });
    for (int64_t a = p0; a < p1; a += b_) out.emplace_back(perm.begin() + a, perm.begin() + std::min(p1, a + b_));
  }
  if (shuffle_)
    for (int64_t i = static_cast<int64_t>(out.size()) - 1; i > 0; --i) std::swap(out[i], out[rng.below(static_cast<uint32_t>(i + 1))]);
  return out;
}

// ---- the loop ------------------------------------------------------------------------------------

RunPlan plan(const BatchSource& data, const LoopOptions& o, const optim::Optimizer& optimizer, const char* op) {
  if (o.epochs && *o.epochs < 1) throw_range(std::string(op) + ": epochs must be a positive integer");
  if (o.max_steps < 0) throw_range(std::string(op) + ": maxSteps must be >= 0");
  if (o.accumulate < 1) throw_range(std::string(op) + ": accumulate must be a positive integer");
  if (!(o.clip_norm >= 0) || !std::isfinite(o.clip_norm)) throw_range(std::string(op) + ": clipNorm must be a finite number >= 0");
  if (data.size() < 1) throw_range(std::string(op) + ": the dataset is empty");
  RunPlan p;
  p.start = optimizer.step_count();
  p.per_epoch = (data.batches_per_epoch() + o.accumulate - 1) / o.accumulate;
  // maxSteps alone runs that many steps, over as many epochs as they take (as Hugging Face's
  // max_steps does); with epochs too, whichever ends first.
  const int64_t epochs = o.epochs.value_or(o.max_steps > 0 ? (o.max_steps + p.per_epoch - 1) / p.per_epoch : o.default_epochs);
  p.steps = p.per_epoch * epochs;
  if (o.max_steps > 0) p.steps = std::min(p.steps, o.max_steps);
  return p;
}

Result run(nn::Module& model, optim::Optimizer& opt, const BatchSource& data, Objective& objective, const LoopOptions& o,
           const RunPlan& plan, const char* op, const ProgressFn& on_progress, const AbortFn& aborted) {
  const std::vector<Tensor> params = opt.params();
  const int64_t K = o.accumulate, M = data.batches_per_epoch();
  Result result;
  nn::ModeGuard mode(model, true);
  nn::GradCleaner cleaner(model);
  model.zero_grad();
  result.first_epoch = plan.start / plan.per_epoch + 1;
  int64_t skipped = plan.start % plan.per_epoch;  // steps of the first epoch taken by an earlier run
  const auto t0 = Clock::now();
  Progress p;
  p.total_steps = plan.total();
  for (int64_t epoch = result.first_epoch; result.steps < plan.steps; ++epoch) {
    const auto te = Clock::now();
    Rng rng(nn::derive_seed(o.seed, static_cast<uint64_t>(epoch)));
    const std::vector<Rows> batches = data.epoch(rng);
    double epoch_loss = 0;
    int64_t epoch_weight = 0;
    for (int64_t s = skipped; s < plan.per_epoch && result.steps < plan.steps; ++s) {
      const int64_t step = plan.start + result.steps + 1;
      const int64_t m0 = s * K, m1 = std::min(M, m0 + K);
      std::vector<int64_t> weights;
      int64_t group = 0;
      for (int64_t mb = m0; mb < m1; ++mb) group += weights.emplace_back(objective.weight(batches[mb]));
      double step_loss = 0;
      for (int64_t mb = m0; mb < m1; ++mb) {
        if (aborted && aborted()) throw Error(ErrorKind::Aborted, std::string(op) + ": aborted before " + step_str(step, epoch));
        BatchLoss bl = objective.loss(batches[mb], step);
        const double lv = bl.loss.item();
        if (!std::isfinite(lv)) throw Error(ErrorKind::NaN, std::string(op) + ": the loss is " + num_str(lv) + " at " + step_str(step, epoch));
        const double w = group ? static_cast<double>(weights[mb - m0]) / static_cast<double>(group) : 1.0;
        step_loss += lv * w;
        backward(bl.loss, w == 1.0 ? Tensor() : Tensor::full(bl.loss.shape(), bl.loss.dtype(), w), false);
        result.samples += static_cast<int64_t>(batches[mb].size());
        result.tokens += bl.tokens;
      }
      const double norm = o.clip_norm > 0 ? optim::clip_grad_norm(params, o.clip_norm) : optim::grad_norm(params);
      if (!std::isfinite(norm)) throw Error(ErrorKind::NaN, std::string(op) + ": the gradient norm is " + num_str(norm) + " at " + step_str(step, epoch));
      const double lr = opt.step();
      objective.after_step();
      model.zero_grad();
      ++result.steps;
      epoch_loss += step_loss * static_cast<double>(group);
      epoch_weight += group;

      p.step = step;
      p.epoch = epoch;
      p.loss = step_loss;
      p.lr = lr;
      p.grad_norm = norm;
      p.samples = result.samples;
      p.tokens = result.tokens;
      p.epoch_loss = epoch_loss / static_cast<double>(std::max<int64_t>(epoch_weight, 1));
      p.epoch_end = s + 1 == plan.per_epoch || result.steps == plan.steps;
      p.val_loss = p.val_accuracy = kNoValue;
      const bool periodic = o.eval_every > 0 && step % o.eval_every == 0;
      if ((p.epoch_end || periodic) && objective.has_validation()) {
        const EvalResult ev = objective.validate();
        p.val_loss = ev.loss;
        p.val_accuracy = ev.accuracy;
      }
      result.history.push_back({step, step_loss, p.val_loss, p.val_accuracy});
      if (p.epoch_end) {
        EpochStats es;
        es.epoch = epoch;
        es.loss = p.epoch_loss;
        es.val_loss = p.val_loss;
        es.val_accuracy = p.val_accuracy;
        es.seconds = seconds_since(te);
        result.epochs.push_back(es);
      }
      p.seconds = seconds_since(t0);
      p.samples_per_sec = static_cast<double>(result.samples) / std::max(p.seconds, 1e-9);
      p.tokens_per_sec = static_cast<double>(result.tokens) / std::max(p.seconds, 1e-9);
      if (on_progress) on_progress(p);
    }
    skipped = 0;
  }
  result.seconds = seconds_since(t0);
  result.samples_per_sec = static_cast<double>(result.samples) / std::max(result.seconds, 1e-9);
  result.tokens_per_sec = static_cast<double>(result.tokens) / std::max(result.seconds, 1e-9);
  return result;
}

// ---- shared pieces -------------------------------------------------------------------------------

void check_abort(const AbortFn& aborted, const char* op) {
  if (aborted && aborted()) throw Error(ErrorKind::Aborted, std::string(op) + ": aborted");
}

void count_correct(const Tensor& logits, const Tensor& targets, int64_t ignore, double& correct, int64_t& count) {
  std::vector<int32_t> pp(static_cast<size_t>(targets.numel())), pt(pp.size());
  ops::argmax(logits, -1, false).to_host(pp.data());
  targets.to_host(pt.data());
  for (size_t i = 0; i < pt.size(); ++i) {
    if (pt[i] == ignore) continue;
    ++count;
    correct += pp[i] == pt[i];
  }
}

void check_optimizer_of(const optim::Optimizer& opt, const nn::Module& model, const char* op) {
  const nn::NamedTensors named = model.named_parameters();
  bool same = opt.size() == named.size();
  for (size_t i = 0; same && i < named.size(); ++i) same = opt.state(i).param.autograd() == named[i].second.autograd();
  if (!same) throw_type(std::string(op) + ": the optimizer state belongs to another model");
}

void check_hyper_options(const HyperOptions& h, const char* op) {
  if (h.lr && (!(*h.lr > 0) || !std::isfinite(*h.lr))) throw_range(std::string(op) + ": lr must be a positive number");
  if (h.min_lr && !(*h.min_lr >= 0)) throw_range(std::string(op) + ": minLr must be in [0, lr]");
  if (h.weight_decay && (!(*h.weight_decay >= 0) || !std::isfinite(*h.weight_decay)))
    throw_range(std::string(op) + ": weightDecay must be >= 0");
  for (const auto& [beta, name] : {std::pair{h.beta1, "beta1"}, std::pair{h.beta2, "beta2"}})
    if (beta && !(*beta >= 0 && *beta < 1)) throw_range(std::string(op) + ": " + name + " must be in [0, 1)");
  if (h.eps && (!(*h.eps >= 0) || !std::isfinite(*h.eps))) throw_range(std::string(op) + ": eps must be a finite number >= 0");
}

void configure(optim::Optimizer& opt, const HyperOptions& o, const RunPlan& plan, const char* op) {
  json::Value h = opt.hyperparameters();
  const auto given = [&h](const char* key, const std::optional<double>& v, size_t item = 0) {
    if (!v) return;
    for (auto& [k, x] : h.members())  // (json::Value::set appends)
      if (k == key) (x.is_array() ? x.items().at(item) : x) = json::Value::number(*v);
  };
  given("lr", o.lr);
  given("weightDecay", o.weight_decay);
  given("eps", o.eps);
  given("betas", o.beta1, 0);
  given("betas", o.beta2, 1);
  opt.set_hyperparameters(h, op);
  optim::Schedule s = opt.schedule();
  if (o.schedule) s.kind = *o.schedule;
  if (o.min_lr) s.min_lr = *o.min_lr;
  if (s.min_lr > opt.lr()) throw_range(std::string(op) + ": minLr must be in [0, lr]");
  const int64_t total = plan.total();
  s.total_steps = total;
  if (o.warmup_steps >= 0) s.warmup_steps = o.warmup_steps;
  else if (plan.start == 0) s.warmup_steps = std::min<int64_t>(1000, total / 20);
  s.warmup_steps = std::min(s.warmup_steps, total);
  s.validate(op);
  opt.set_schedule(s);
}

}  // namespace qkv::train
