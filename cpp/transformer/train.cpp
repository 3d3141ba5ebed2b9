#include "transformer/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

#include "autograd/functions.h"
#include "core/error.h"
#include "core/random.h"
#include "optim/optimizer.h"
#include "train/loop_support.h"

namespace qkv::transformer {

namespace {

using nn::GradCleaner;
using nn::ModeGuard;
using train::Clock;
using train::num_str;
using train::seconds_since;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kIgnore = -100;

void check_train_options(const TrainOptions& o, const char* op) {
  if (o.epochs && *o.epochs < 1) throw_range(std::string(op) + ": epochs must be a positive integer");
  if (o.batch_size < 1) throw_range(std::string(op) + ": batchSize must be a positive integer");
  if (o.max_steps < 0) throw_range(std::string(op) + ": maxSteps must be >= 0");
  if (o.lr && (!(*o.lr > 0) || !std::isfinite(*o.lr))) throw_range(std::string(op) + ": lr must be a positive number");
  if (o.min_lr && !(*o.min_lr >= 0)) throw_range(std::string(op) + ": minLr must be in [0, lr]");
  if (o.weight_decay && (!(*o.weight_decay >= 0) || !std::isfinite(*o.weight_decay))) throw_range(std::string(op) + ": weightDecay must be >= 0");
  for (const auto& [beta, name] : {std::pair{o.beta1, "beta1"}, std::pair{o.beta2, "beta2"}})
    if (beta && !(*beta >= 0 && *beta < 1)) throw_range(std::string(op) + ": " + name + " must be in [0, 1)");
  if (o.eps && (!(*o.eps >= 0) || !std::isfinite(*o.eps))) throw_range(std::string(op) + ": eps must be a finite number >= 0");
  if (!(o.clip_norm >= 0) || !std::isfinite(o.clip_norm)) throw_range(std::string(op) + ": clipNorm must be a finite number >= 0");
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) throw_range(std::string(op) + ": labelSmoothing must be in [0, 1)");
  if (!(o.mask_prob > 0 && o.mask_prob < 1)) throw_range(std::string(op) + ": maskProb must be in (0, 1)");
}

// Batches of sample indices for one epoch (see train.h).
std::vector<std::vector<int64_t>> make_batches(const std::vector<int64_t>& key, int64_t B, bool bucket, bool shuffle, Rng& rng) {
  const int64_t N = static_cast<int64_t>(key.size());
  std::vector<int64_t> perm(static_cast<size_t>(N));
  std::iota(perm.begin(), perm.end(), 0);
  if (shuffle)
    for (int64_t i = N - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(static_cast<uint32_t>(i + 1))]);
  std::vector<std::vector<int64_t>> batches;
  const int64_t pool = bucket ? B * 50 : B;
  for (int64_t p0 = 0; p0 < N; p0 += pool) {
    const int64_t p1 = std::min(N, p0 + pool);
    if (bucket) std::stable_sort(perm.begin() + p0, perm.begin() + p1, [&](int64_t a, int64_t b) { return key[a] < key[b]; });
    for (int64_t a = p0; a < p1; a += B) batches.emplace_back(perm.begin() + a, perm.begin() + std::min(p1, a + B));
  }
  if (bucket && shuffle)
    for (int64_t i = static_cast<int64_t>(batches.size()) - 1; i > 0; --i)
      std::swap(batches[i], batches[rng.below(static_cast<uint32_t>(i + 1))]);
  return batches;
}

// The ids of a set of sequences on the host, where batches are cut from them.
struct HostIds {
  std::vector<int32_t> ids;
  int64_t width = 0;
  explicit HostIds(const Tensor& t) : ids(static_cast<size_t>(t.numel())), width(t.size(1)) { t.to_host(ids.data()); }
};

// Rows `idx` of s, trimmed to their longest length: the ids on the host and as a tensor.
struct Batch {
  Tensor ids;
  std::vector<int32_t> host;
  std::vector<int32_t> lengths;
};
Batch gather(const Sequences& s, const HostIds& all, const std::vector<int64_t>& idx) {
  Batch b;
  int32_t L = 1;
  for (int64_t i : idx) {
    b.lengths.push_back(s.lengths[i]);
    L = std::max(L, s.lengths[i]);
  }
  const int64_t n = static_cast<int64_t>(idx.size()), W = all.width;
  b.host.resize(static_cast<size_t>(n * L));
  for (int64_t r = 0; r < n; ++r) std::memcpy(b.host.data() + r * L, all.ids.data() + idx[r] * W, sizeof(int32_t) * static_cast<size_t>(L));
  b.ids = Tensor::from_host(b.host.data(), {n, L}, DType::I32);
  return b;
}

std::vector<int32_t> host_ints(const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  t.to_host(v.data());
  return v;
}

// Weight decay for weight matrices only.
std::vector<bool> decay_flags(const nn::NamedTensors& params) {
  std::vector<bool> decay;
  for (const auto& [name, t] : params) {
    const bool table = name.find("embed") != std::string::npos || name.rfind("pos.", 0) == 0;
    decay.push_back(t.dim() >= 2 && !table);
  }
  return decay;
}

// Sets the hyperparameters the options give and the schedule of a run that ends at step `total`
// (see train.h); checks that the optimizer is this model's.
void configure(optim::Optimizer& opt, const nn::Module& model, const TrainOptions& o, int64_t total, const char* op) {
  const nn::NamedTensors named = model.named_parameters();
  bool same = opt.size() == named.size();
  for (size_t i = 0; same && i < named.size(); ++i) same = opt.state(i).param.autograd() == named[i].second.autograd();
  if (!same) throw_type(std::string(op) + ": the optimizer state belongs to another model");
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
  s.total_steps = total;
  if (o.warmup_steps >= 0) s.warmup_steps = o.warmup_steps;
  else if (opt.step_count() == 0) s.warmup_steps = std::min<int64_t>(1000, total / 20);
  s.warmup_steps = std::min(s.warmup_steps, total);
  s.validate(op);
  opt.set_schedule(s);
}

// The shared step loop: `batch_loss(batch indices, &tokens)` returns the recorded loss of a batch;
// `skip(batch indices)` replays the random draws of a batch an earlier run took (see train.h).
template <class LossFn, class SkipFn, class EvalFn>
TrainResult run_loop(nn::Module& model, optim::Optimizer& opt, const std::vector<int64_t>& key, const TrainOptions& o, const char* op,
                     LossFn&& batch_loss, SkipFn&& skip, EvalFn&& eval_fn, bool has_val, const ProgressFn& on_progress,
                     const AbortFn& aborted) {
  const int64_t N = static_cast<int64_t>(key.size()), B = o.batch_size;
  const int64_t per_epoch = (N + B - 1) / B;
  // maxSteps alone runs that many steps, over as many epochs as they take (as Hugging Face's
  // max_steps does); with epochs too, whichever ends first.
  int64_t steps = per_epoch * o.epochs.value_or(o.max_steps > 0 ? (o.max_steps + per_epoch - 1) / per_epoch : 10);
  if (o.max_steps > 0) steps = std::min(steps, o.max_steps);
  const int64_t s0 = opt.step_count(), total = s0 + steps;
  configure(opt, model, o, total, op);
  const std::vector<Tensor> params = opt.params();

  TrainResult result;
  ModeGuard mode(model, true);
  GradCleaner cleaner(model);
  model.zero_grad();
  Rng rng(o.seed);
  result.first_epoch = s0 / per_epoch + 1;
  for (int64_t e = 1; e < result.first_epoch; ++e)
    for (const auto& b : make_batches(key, B, o.bucket, o.shuffle, rng)) skip(b);
  size_t skipped = static_cast<size_t>(s0 % per_epoch);  // of the first epoch
  const auto t0 = Clock::now();
  TrainProgress p;
  p.total_steps = total;
  for (int64_t epoch = result.first_epoch; result.steps < steps; ++epoch) {
    const auto batches = make_batches(key, B, o.bucket, o.shuffle, rng);
    for (size_t bi = 0; bi < skipped; ++bi) skip(batches[bi]);
    double epoch_loss = 0;
    int64_t epoch_tokens = 0;
    for (size_t bi = skipped; bi < batches.size() && result.steps < steps; ++bi) {
      const int64_t step = s0 + result.steps + 1;
      if (aborted && aborted())
        throw Error(ErrorKind::Aborted, std::string(op) + ": aborted before step " + std::to_string(step) + " (epoch " + std::to_string(epoch) + ")");
      int64_t tokens = 0;
      Tensor loss = batch_loss(batches[bi], &tokens);
      const double lv = loss.item();
      if (!std::isfinite(lv))
        throw Error(ErrorKind::NaN, std::string(op) + ": the loss is " + num_str(lv) + " at step " + std::to_string(step) + " (epoch " +
                                        std::to_string(epoch) + ")");
      backward(loss, Tensor(), false);
      loss = Tensor();
      const double norm = o.clip_norm > 0 ? optim::clip_grad_norm(params, o.clip_norm) : optim::grad_norm(params);
      if (!std::isfinite(norm))
        throw Error(ErrorKind::NaN, std::string(op) + ": the gradient norm is " + num_str(norm) + " at step " + std::to_string(step) +
                                        " (epoch " + std::to_string(epoch) + ")");
      const double lr = opt.step();
      model.zero_grad();
      ++result.steps;
      result.tokens += tokens;
      epoch_loss += lv * static_cast<double>(tokens);
      epoch_tokens += tokens;

      p.step = step;
      p.epoch = epoch;
      p.loss = lv;
      p.lr = lr;
      p.grad_norm = norm;
      p.seconds = seconds_since(t0);
      p.tokens_per_sec = static_cast<double>(result.tokens) / std::max(p.seconds, 1e-9);
      p.epoch_loss = epoch_loss / static_cast<double>(std::max<int64_t>(epoch_tokens, 1));
      p.epoch_end = bi + 1 == batches.size() || result.steps == steps;
      p.val_loss = p.val_accuracy = kNaN;
      if (p.epoch_end) {
        result.epoch_loss.push_back(p.epoch_loss);
        if (has_val) {
          EvalResult ev = eval_fn();
          p.val_loss = ev.loss;
          p.val_accuracy = ev.accuracy;
        }
        result.val_loss.push_back(p.val_loss);
        result.val_accuracy.push_back(p.val_accuracy);
        p.seconds = seconds_since(t0);
      }
      if (on_progress) on_progress(p);
    }
    skipped = 0;
  }
  result.seconds = seconds_since(t0);
  result.tokens_per_sec = static_cast<double>(result.tokens) / std::max(result.seconds, 1e-9);
  return result;
}

// Token accuracy of logits [M, V] against targets [M] (ignoring `ignore`); adds to correct/count.
void count_correct(const Tensor& logits, const Tensor& targets, int64_t ignore, double& correct, int64_t& count) {
  const std::vector<int32_t> pp = host_ints(ops::argmax(logits, -1, false)), pt = host_ints(targets);
  for (size_t i = 0; i < pt.size(); ++i) {
    if (pt[i] == ignore) continue;
    ++count;
    correct += pp[i] == pt[i];
  }
}

// Shifted teacher-forcing pair of a target batch: in = [:, :-1], out = [:, 1:].
std::pair<Tensor, Tensor> shift(const Tensor& tgt) {
  const int64_t T = tgt.size(1);
  return {tgt.slice(1, 0, T - 1).contiguous(), tgt.slice(1, 1, T).contiguous()};
}

int64_t target_tokens(const std::vector<int32_t>& lengths) {
  int64_t n = 0;
  for (int32_t l : lengths) n += l - 1;
  return n;
}

// MLM inputs and targets for a batch (see TrainOptions::mask_prob).
std::pair<Tensor, Tensor> mlm_batch(const TransformerEncoder& model, const Batch& b, double prob, Rng& rng) {
  const auto& mo = model.options();
  const int64_t n = b.ids.size(0), L = b.ids.size(1);
  std::vector<int32_t> pi = b.host, pt(b.host.size(), static_cast<int32_t>(kIgnore));
  const uint32_t ordinary = static_cast<uint32_t>(mo.vocab_size - mo.num_specials);
  int64_t chosen = 0, first_real = -1;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < b.lengths[r]; ++i) {
      const int64_t at = r * L + i;
      if (pi[at] < mo.num_specials) continue;
      if (first_real < 0) first_real = at;
      if (rng.uniform() >= prob) continue;
      ++chosen;
      pt[at] = pi[at];
      const double u = rng.uniform();
      if (u < 0.8) pi[at] = mo.mask_id;
      else if (u < 0.9) pi[at] = static_cast<int32_t>(mo.num_specials + rng.below(ordinary));
    }
  if (chosen == 0 && first_real >= 0) {  // every batch predicts at least one token
    pt[first_real] = pi[first_real];
    pi[first_real] = mo.mask_id;
  }
  return {Tensor::from_host(pi.data(), {n, L}, DType::I32), Tensor::from_host(pt.data(), {n, L}, DType::I32)};
}

// Runs fn(first row, target batch, target outputs [n, T], logits [n, T, V]) over the pairs in
// batches, teacher-forced, in eval mode without recording (evaluation and scoring).
template <class Fn>
void for_each_teacher_forced(Seq2Seq& model, const Sequences& src, const Sequences& tgt, int64_t batch_size, const char* op,
                             const AbortFn& aborted, Fn&& fn) {
  check_sequences(src, op, "sources");
  check_sequences(tgt, op, "targets");
  if (src.size() != tgt.size()) throw_range(std::string(op) + ": sources and targets differ in number");
  if (batch_size < 1) throw_range(std::string(op) + ": batchSize must be positive");
  NoGradGuard no_grad;
  ModeGuard mode(model, false);
  const HostIds S(src.ids), T(tgt.ids);
  const int64_t N = src.size();
  for (int64_t a = 0; a < N; a += batch_size) {
    if (aborted && aborted()) throw Error(ErrorKind::Aborted, std::string(op) + ": aborted");
    std::vector<int64_t> idx(static_cast<size_t>(std::min(N, a + batch_size) - a));
    std::iota(idx.begin(), idx.end(), a);
    Batch bs = gather(src, S, idx), bt = gather(tgt, T, idx);
    auto [tin, tout] = shift(bt.ids);
    fn(a, bt, tout, model.decode(tin, model.encode(bs.ids, bs.lengths), bs.lengths));
  }
}

}  // namespace

std::shared_ptr<optim::Optimizer> make_train_optimizer(nn::Module& model) {
  const nn::NamedTensors named = model.named_parameters();
  std::vector<Tensor> params;
  for (const auto& p : named) params.push_back(p.second);
  optim::AdamOptions ao;
  ao.lr = 1e-3;
  ao.beta1 = 0.9;
  ao.beta2 = 0.98;
  ao.eps = 1e-9;
  ao.weight_decay = 0.01;
  auto opt = optim::make_adamw(params, ao, decay_flags(named));
  optim::Schedule s;
  s.kind = optim::ScheduleKind::WarmupCosine;
  opt->set_schedule(s);
  return opt;
}

void check_sequences(const Sequences& s, const char* op, const char* what) {
  if (!s.ids.defined() || s.ids.dtype() != DType::I32 || s.ids.dim() != 2)
    throw_type(std::string(op) + ": " + what + " must be int32 ids [N, L]");
  if (s.ids.size(0) == 0 || s.ids.size(1) == 0) throw_range(std::string(op) + ": " + what + " is empty");
  if (static_cast<int64_t>(s.lengths.size()) != s.ids.size(0))
    throw_range(std::string(op) + ": " + what + " has " + std::to_string(s.ids.size(0)) + " rows and " + std::to_string(s.lengths.size()) + " lengths");
  for (size_t i = 0; i < s.lengths.size(); ++i)
    if (s.lengths[i] < 1 || s.lengths[i] > s.ids.size(1))
      throw_range(std::string(op) + ": " + what + " length " + std::to_string(s.lengths[i]) + " of row " + std::to_string(i) +
                  " is outside [1, " + std::to_string(s.ids.size(1)) + "]");
}

// ---- Seq2Seq ----------------------------------------------------------------------------------------

EvalResult evaluate_seq2seq(Seq2Seq& model, const Sequences& src, const Sequences& tgt, int64_t batch_size, const AbortFn& aborted) {
  double loss_sum = 0, correct = 0;
  int64_t count = 0;
  const int64_t pad = model.options().pad_id;
  for_each_teacher_forced(model, src, tgt, batch_size, "Seq2Seq.evaluate", aborted,
                          [&](int64_t, const Batch& bt, const Tensor& tout, const Tensor& logits) {
                            const int64_t M = tout.numel(), V = logits.size(-1);
                            Tensor flat = logits.reshape({M, V});
                            const int64_t tokens = target_tokens(bt.lengths);
                            loss_sum += ops::cross_entropy(flat, tout.reshape({M}), pad, 0).item() * static_cast<double>(tokens);
                            count_correct(flat, tout.reshape({M}), pad, correct, count);
                          });
  EvalResult r;
  r.tokens = count;
  r.loss = count ? loss_sum / static_cast<double>(count) : kNaN;
  r.accuracy = count ? correct / static_cast<double>(count) : kNaN;
  return r;
}

std::vector<double> score_seq2seq(Seq2Seq& model, const Sequences& src, const Sequences& tgt, int64_t batch_size, const AbortFn& aborted) {
  const char* op = "Seq2Seq.score";
  check_sequences(tgt, op, "targets");
  for (int32_t l : tgt.lengths)
    if (l < 2) throw_range(std::string(op) + ": a target needs at least <bos> and <eos>");
  check_ids(tgt.ids, tgt.lengths, model.options().tgt_vocab, op, "targets");
  std::vector<double> out(static_cast<size_t>(src.size()));
  for_each_teacher_forced(model, src, tgt, batch_size, op, aborted, [&](int64_t a, const Batch& bt, const Tensor& tout, const Tensor& lg) {
    const std::vector<double> base = lg.to_host_doubles();
    const int64_t L = tout.size(1), V = lg.size(-1);
    const std::vector<int32_t> ids = host_ints(tout);
    for (size_t r = 0; r < bt.lengths.size(); ++r) {
      double sum = 0;
      for (int64_t t = 0; t + 1 < bt.lengths[r]; ++t) {  // log_softmax at the target, in double
        const double* row = base.data() + (static_cast<int64_t>(r) * L + t) * V;
        double mx = -std::numeric_limits<double>::infinity(), sum_exp = 0;
        for (int64_t v = 0; v < V; ++v) mx = std::max(mx, row[v]);
        for (int64_t v = 0; v < V; ++v) sum_exp += std::exp(row[v] - mx);
        sum += row[ids[static_cast<int64_t>(r) * L + t]] - mx - std::log(sum_exp);
      }
      out[static_cast<size_t>(a) + r] = sum;
    }
  });
  return out;
}

TrainResult fit_seq2seq(Seq2Seq& model, const Sequences& src, const Sequences& tgt, const Sequences* val_src, const Sequences* val_tgt,
                        const TrainOptions& o, optim::Optimizer& optimizer, const ProgressFn& on_progress, const AbortFn& aborted) {
  const char* op = "Seq2Seq.fit";
  check_train_options(o, op);
  check_sequences(src, op, "sources");
  check_sequences(tgt, op, "targets");
  if (src.size() != tgt.size()) throw_range(std::string(op) + ": " + std::to_string(src.size()) + " sources for " + std::to_string(tgt.size()) + " targets");
  for (int32_t l : tgt.lengths)
    if (l < 2) throw_range(std::string(op) + ": a target needs at least <bos> and <eos>");
  check_ids(src.ids, src.lengths, model.options().src_vocab, op, "sources");
  check_ids(tgt.ids, tgt.lengths, model.options().tgt_vocab, op, "targets");
  const bool has_val = val_src && val_tgt && val_src->size() > 0;
  if (has_val) {
    check_sequences(*val_src, op, "validation sources");
    check_sequences(*val_tgt, op, "validation targets");
    if (val_src->size() != val_tgt->size()) throw_range(std::string(op) + ": validation sources and targets differ in number");
  }
  const HostIds S(src.ids), T(tgt.ids);
  std::vector<int64_t> key(static_cast<size_t>(src.size()));
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<int64_t>(src.lengths[i]) * 4096 + tgt.lengths[i];
  const double smoothing = o.label_smoothing;
  auto batch_loss = [&](const std::vector<int64_t>& idx, int64_t* tokens) {
    Batch bs = gather(src, S, idx), bt = gather(tgt, T, idx);
    auto [tin, tout] = shift(bt.ids);
    *tokens = target_tokens(bt.lengths);
    return model.loss(bs.ids, bs.lengths, tin, tout, smoothing);
  };
  auto eval_fn = [&]() { return evaluate_seq2seq(model, *val_src, *val_tgt, std::max<int64_t>(o.batch_size, 128), aborted); };
  auto skip = [](const std::vector<int64_t>&) {};  // batches draw nothing at random here (dropout counts its own calls)
  return run_loop(model, optimizer, key, o, op, batch_loss, skip, eval_fn, has_val, on_progress, aborted);
}

// ---- TransformerEncoder -------------------------------------------------------------------------------

EvalResult evaluate_encoder(TransformerEncoder& model, const Sequences& data, const Tensor& labels, int64_t batch_size, double mask_prob,
                            uint64_t seed, const AbortFn& aborted) {
  const char* op = "TransformerEncoder.evaluate";
  check_sequences(data, op, "inputs");
  if (batch_size < 1) throw_range(std::string(op) + ": batchSize must be positive");
  const bool classify = labels.defined();
  NoGradGuard no_grad;
  ModeGuard mode(model, false);
  const HostIds X(data.ids);
  const Tensor Y = classify ? labels.contiguous() : Tensor();
  Rng rng(seed);
  double loss_sum = 0, correct = 0;
  int64_t count = 0;
  const int64_t N = data.size();
  for (int64_t a = 0; a < N; a += batch_size) {
    if (aborted && aborted()) throw Error(ErrorKind::Aborted, std::string(op) + ": aborted");
    std::vector<int64_t> idx(static_cast<size_t>(std::min(N, a + batch_size) - a));
    std::iota(idx.begin(), idx.end(), a);
    Batch b = gather(data, X, idx);
    Tensor logits, targets;
    if (classify) {
      logits = model.classify(b.ids, b.lengths);
      targets = Y.slice(0, a, a + static_cast<int64_t>(idx.size())).contiguous();
    } else {
      auto [in, tgt] = mlm_batch(model, b, mask_prob, rng);
      logits = model.mlm_logits(model.hidden(in, b.lengths));
      targets = tgt;
    }
    const int64_t V = logits.size(-1), M = logits.numel() / V;
    Tensor flat = logits.reshape({M, V}), t = targets.reshape({M});
    const int64_t before = count;
    count_correct(flat, t, kIgnore, correct, count);
    if (count > before) loss_sum += ops::cross_entropy(flat, t, kIgnore, 0).item() * static_cast<double>(count - before);
  }
  EvalResult r;
  r.tokens = count;
  r.loss = count ? loss_sum / static_cast<double>(count) : kNaN;
  r.accuracy = count ? correct / static_cast<double>(count) : kNaN;
  return r;
}

TrainResult fit_encoder(TransformerEncoder& model, const Sequences& data, const Tensor& labels, const Sequences* val, const Tensor* val_labels,
                        const TrainOptions& o, optim::Optimizer& optimizer, const ProgressFn& on_progress, const AbortFn& aborted) {
  const char* op = "TransformerEncoder.fit";
  check_train_options(o, op);
  check_sequences(data, op, "inputs");
  check_ids(data.ids, data.lengths, model.options().vocab_size, op, "inputs");
  const bool classify = labels.defined();
  auto check_labels = [&](const Tensor& y, int64_t n, const char* what) {
    if (y.dtype() != DType::I32 || y.dim() != 1 || y.size(0) != n)
      throw_range(std::string(op) + ": " + what + " must be int32 [" + std::to_string(n) + "]");
    for (int32_t c : host_ints(y))
      if (c < 0 || c >= model.options().num_classes)
        throw_range(std::string(op) + ": label " + std::to_string(c) + " is outside [0, " + std::to_string(model.options().num_classes) + ")");
  };
  if (classify) {
    if (!model.classifier) throw Error(ErrorKind::Unsupported, std::string(op) + ": labels need a model with numClasses > 0");
    check_labels(labels, data.size(), "labels");
  } else if (!model.mlm_bias.defined()) {
    throw Error(ErrorKind::Unsupported, std::string(op) + ": without labels fit trains the masked-language-model head, which this model lacks");
  }
  const bool has_val = val && val->size() > 0;
  if (has_val) {
    check_sequences(*val, op, "validation inputs");
    if (classify) {
      if (!val_labels || !val_labels->defined()) throw_type(std::string(op) + ": the validation set needs labels");
      check_labels(*val_labels, val->size(), "validation labels");
    }
  }
  const HostIds X(data.ids);
  const std::vector<int32_t> Y = classify ? host_ints(labels) : std::vector<int32_t>();
  std::vector<int64_t> key(data.lengths.begin(), data.lengths.end());
  Rng mask_rng(nn::derive_seed(o.seed, 1));
  auto batch_loss = [&](const std::vector<int64_t>& idx, int64_t* tokens) {
    Batch b = gather(data, X, idx);
    *tokens = 0;
    for (int32_t l : b.lengths) *tokens += l;
    if (classify) {
      std::vector<int32_t> y;
      for (int64_t i : idx) y.push_back(Y[i]);
      Tensor t = Tensor::from_host(y.data(), {static_cast<int64_t>(y.size())}, DType::I32);
      return ag::cross_entropy(model.classify(b.ids, b.lengths), t, kIgnore, o.label_smoothing);
    }
    auto [in, tgt] = mlm_batch(model, b, o.mask_prob, mask_rng);
    Tensor logits = model.mlm_logits(model.hidden(in, b.lengths));
    const int64_t V = logits.size(-1), M = logits.numel() / V;
    return ag::cross_entropy(ag::reshape(logits, {M, V}), tgt.reshape({M}), kIgnore, o.label_smoothing);
  };
  auto eval_fn = [&]() {
    return evaluate_encoder(model, *val, classify ? *val_labels : Tensor(), std::max<int64_t>(o.batch_size, 128), o.mask_prob,
                            nn::derive_seed(o.seed, 2), aborted);
  };
  auto skip = [&](const std::vector<int64_t>& idx) {  // replays the masks of a batch taken before
    if (!classify) mlm_batch(model, gather(data, X, idx), o.mask_prob, mask_rng);
  };
  return run_loop(model, optimizer, key, o, op, batch_loss, skip, eval_fn, has_val, on_progress, aborted);
}

Tensor encode_sentences(TransformerEncoder& model, const Sequences& data, Pooling pooling, int64_t batch_size, const AbortFn& aborted) {
  const char* op = "TransformerEncoder.encode";
  check_sequences(data, op, "inputs");
  if (batch_size < 1) throw_range(std::string(op) + ": batchSize must be positive");
  NoGradGuard no_grad;
  ModeGuard mode(model, false);
  const HostIds X(data.ids);
  const int64_t N = data.size();
  std::vector<Tensor> parts;
  for (int64_t a = 0; a < N; a += batch_size) {
    if (aborted && aborted()) throw Error(ErrorKind::Aborted, std::string(op) + ": aborted");
    std::vector<int64_t> idx(static_cast<size_t>(std::min(N, a + batch_size) - a));
    std::iota(idx.begin(), idx.end(), a);
    Batch b = gather(data, X, idx);
    parts.push_back(TransformerEncoder::pool(model.hidden(b.ids, b.lengths), b.lengths, pooling).contiguous());
  }
  return parts.size() == 1 ? parts[0] : ops::concat(parts, 0);
}

}  // namespace qkv::transformer
