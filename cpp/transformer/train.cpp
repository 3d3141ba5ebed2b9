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

namespace qkv::transformer {

namespace {

using nn::ModeGuard;
using train::BatchLoss;
using train::Rows;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kIgnore = -100;

void check_train_options(const TrainOptions& o, const char* op) {
  if (o.batch_size < 1) throw_range(std::string(op) + ": batchSize must be a positive integer");
  train::check_hyper_options(o.hyper, op);
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) throw_range(std::string(op) + ": labelSmoothing must be in [0, 1)");
  if (!(o.mask_prob > 0 && o.mask_prob < 1)) throw_range(std::string(op) + ": maskProb must be in (0, 1)");
}

// The batches of a run: length-bucketed by `keys`, or plainly shuffled.
std::unique_ptr<train::BatchSource> batch_source(std::vector<int64_t> keys, const TrainOptions& o) {
  if (o.bucket) return std::make_unique<train::BucketedBatches>(std::move(keys), o.batch_size, o.shuffle);
  return std::make_unique<train::ShuffledBatches>(static_cast<int64_t>(keys.size()), o.batch_size, o.shuffle);
}


std::vector<int32_t> host_ints(const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  t.to_host(v.data());
  return v;
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
// The ids a random MLM replacement draws from: every id but the special ones.
std::vector<int32_t> ordinary_ids(const EncoderOptions& mo) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < mo.vocab_size; ++id)
    if (!mo.is_special(id)) ids.push_back(id);
  return ids;
}

std::pair<Tensor, Tensor> mlm_batch(const BertEncoder& model, const std::vector<int32_t>& ordinary, const Batch& b, double prob, Rng& rng) {
  const auto& mo = model.options();
  const int64_t n = b.ids.size(0), L = b.ids.size(1);
  std::vector<int32_t> pi = b.host, pt(b.host.size(), static_cast<int32_t>(kIgnore));
  int64_t chosen = 0, first_real = -1;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < b.lengths[r]; ++i) {
      const int64_t at = r * L + i;
      if (mo.is_special(pi[at])) continue;
      if (first_real < 0) first_real = at;
      if (rng.uniform() >= prob) continue;
      ++chosen;
      pt[at] = pi[at];
      const double u = rng.uniform();
      if (u < 0.8) pi[at] = mo.mask_id;
      else if (u < 0.9) pi[at] = ordinary[rng.below(static_cast<uint32_t>(ordinary.size()))];
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
    train::check_abort(aborted, op);
    std::vector<int64_t> idx(static_cast<size_t>(std::min(N, a + batch_size) - a));
    std::iota(idx.begin(), idx.end(), a);
    Batch bs = gather(src, S, idx), bt = gather(tgt, T, idx);
    auto [tin, tout] = shift(bt.ids);
    fn(a, bt, tout, model.decode(tin, model.encode(bs.ids, bs.lengths), bs.lengths));
  }
}

}  // namespace

Result train_on_engine(nn::Module& model, optim::Optimizer& opt, const train::BatchSource& data, train::Objective& objective,
                       const train::LoopOptions& loop, const train::HyperOptions& hyper, const char* op, const ProgressFn& on_progress,
                       const AbortFn& aborted) {
  train::check_optimizer_of(opt, model, op);
  const train::RunPlan plan = train::plan(data, loop, opt, op);
  train::configure(opt, hyper, plan, op);
  return train::run(model, opt, data, objective, loop, plan, op, on_progress, aborted);
}

HostIds::HostIds(const Tensor& t) : ids(static_cast<size_t>(t.numel())), width(t.size(1)) { t.to_host(ids.data()); }

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

std::shared_ptr<optim::Optimizer> fresh_adamw(nn::Module& model, double lr, double beta2, double eps, double weight_decay) {
  std::vector<Tensor> params;
  for (const auto& p : model.named_parameters()) params.push_back(p.second);
  optim::AdamOptions ao;
  ao.lr = lr;
  ao.beta1 = 0.9;
  ao.beta2 = beta2;
  ao.eps = eps;
  ao.weight_decay = weight_decay;
  auto opt = optim::make_adamw(params, ao, model.parameter_decay());
  optim::Schedule s;
  s.kind = optim::ScheduleKind::WarmupCosine;
  opt->set_schedule(s);
  return opt;
}

std::shared_ptr<optim::Optimizer> make_train_optimizer(nn::Module& model) { return fresh_adamw(model, 1e-3, 0.98, 1e-9, 0.01); }

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
                            train::count_correct(flat, tout.reshape({M}), pad, correct, count);
                          });
  EvalResult r;
  r.count = count;
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

namespace {

// Teacher-forced translation: the mean cross-entropy over a batch's target tokens.
class TranslationObjective : public train::Objective {
 public:
  TranslationObjective(Seq2Seq& model, const Sequences& src, const Sequences& tgt, const Sequences* val_src, const Sequences* val_tgt,
                       const TrainOptions& o, const AbortFn& aborted)
      : model_(model), src_(src), tgt_(tgt), S_(src.ids), T_(tgt.ids), val_src_(val_src), val_tgt_(val_tgt), o_(o), aborted_(aborted) {}
  BatchLoss loss(const Rows& rows, int64_t) override {
    Batch bs = gather(src_, S_, rows), bt = gather(tgt_, T_, rows);
    auto [tin, tout] = shift(bt.ids);
    return {model_.loss(bs.ids, bs.lengths, tin, tout, o_.label_smoothing), target_tokens(bt.lengths)};
  }
  int64_t weight(const Rows& rows) const override {
    int64_t n = 0;
    for (int64_t r : rows) n += tgt_.lengths[r] - 1;
    return n;
  }
  bool has_validation() const override { return val_src_ != nullptr; }
  EvalResult validate() override { return evaluate_seq2seq(model_, *val_src_, *val_tgt_, std::max<int64_t>(o_.batch_size, 128), aborted_); }

 private:
  Seq2Seq& model_;
  const Sequences &src_, &tgt_;
  const HostIds S_, T_;
  const Sequences *val_src_, *val_tgt_;
  const TrainOptions& o_;
  const AbortFn& aborted_;
};

}  // namespace

Result fit_seq2seq(Seq2Seq& model, const Sequences& src, const Sequences& tgt, const Sequences* val_src, const Sequences* val_tgt,
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
  std::vector<int64_t> key(static_cast<size_t>(src.size()));
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<int64_t>(src.lengths[i]) * 4096 + tgt.lengths[i];
  TranslationObjective objective(model, src, tgt, has_val ? val_src : nullptr, val_tgt, o, aborted);
  return train_on_engine(model, optimizer, *batch_source(std::move(key), o), objective, o.loop, o.hyper, op, on_progress, aborted);
}

// ---- BertEncoder -------------------------------------------------------------------------------

EvalResult evaluate_encoder(BertEncoder& model, const Sequences& data, const Tensor& labels, int64_t batch_size, double mask_prob,
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
  const std::vector<int32_t> ordinary = classify ? std::vector<int32_t>() : ordinary_ids(model.options());
  double loss_sum = 0, correct = 0;
  int64_t count = 0;
  const int64_t N = data.size();
  for (int64_t a = 0; a < N; a += batch_size) {
    train::check_abort(aborted, op);
    std::vector<int64_t> idx(static_cast<size_t>(std::min(N, a + batch_size) - a));
    std::iota(idx.begin(), idx.end(), a);
    Batch b = gather(data, X, idx);
    Tensor logits, targets;
    if (classify) {
      logits = model.classify(b.ids, b.lengths);
      targets = Y.slice(0, a, a + static_cast<int64_t>(idx.size())).contiguous();
    } else {
      auto [in, tgt] = mlm_batch(model, ordinary, b, mask_prob, rng);
      logits = model.mlm_logits(model.hidden(in, b.lengths));
      targets = tgt;
    }
    const int64_t V = logits.size(-1), M = logits.numel() / V;
    Tensor flat = logits.reshape({M, V}), t = targets.reshape({M});
    const int64_t before = count;
    train::count_correct(flat, t, kIgnore, correct, count);
    if (count > before) loss_sum += ops::cross_entropy(flat, t, kIgnore, 0).item() * static_cast<double>(count - before);
  }
  EvalResult r;
  r.count = count;
  r.loss = count ? loss_sum / static_cast<double>(count) : kNaN;
  r.accuracy = count ? correct / static_cast<double>(count) : kNaN;
  return r;
}

namespace {

// The encoder's objectives: cross-entropy of the classifier on the pooled vector (with labels), or
// masked language modelling over the masked tokens (without), the masks drawn from (seed, step).
class EncoderObjective : public train::Objective {
 public:
  EncoderObjective(BertEncoder& model, const Sequences& data, std::vector<int32_t> labels, const Sequences* val,
                   const Tensor* val_labels, const TrainOptions& o, const AbortFn& aborted)
      : model_(model), data_(data), X_(data.ids), Y_(std::move(labels)), ordinary_(ordinary_ids(model.options())), val_(val),
        val_labels_(val_labels), o_(o), aborted_(aborted) {}
  BatchLoss loss(const Rows& rows, int64_t step) override {
    Batch b = gather(data_, X_, rows);
    int64_t tokens = 0;
    for (int32_t l : b.lengths) tokens += l;
    if (!Y_.empty()) {
      std::vector<int32_t> y;
      for (int64_t i : rows) y.push_back(Y_[i]);
      Tensor t = Tensor::from_host(y.data(), {static_cast<int64_t>(y.size())}, DType::I32);
      return {ag::cross_entropy(model_.classify(b.ids, b.lengths), t, kIgnore, o_.label_smoothing), tokens};
    }
    Rng rng(nn::derive_seed(nn::derive_seed(o_.loop.seed, 1), static_cast<uint64_t>(step)));
    auto [in, tgt] = mlm_batch(model_, ordinary_, b, o_.mask_prob, rng);
    Tensor logits = model_.mlm_logits(model_.hidden(in, b.lengths));
    const int64_t V = logits.size(-1), M = logits.numel() / V;
    return {ag::cross_entropy(ag::reshape(logits, {M, V}), tgt.reshape({M}), kIgnore, o_.label_smoothing), tokens};
  }
  bool has_validation() const override { return val_ != nullptr; }
  EvalResult validate() override {
    return evaluate_encoder(model_, *val_, Y_.empty() ? Tensor() : *val_labels_, std::max<int64_t>(o_.batch_size, 128), o_.mask_prob,
                            nn::derive_seed(o_.loop.seed, 2), aborted_);
  }

 private:
  BertEncoder& model_;
  const Sequences& data_;
  const HostIds X_;
  const std::vector<int32_t> Y_;
  const std::vector<int32_t> ordinary_;  // MLM's random replacements
  const Sequences* val_;
  const Tensor* val_labels_;
  const TrainOptions& o_;
  const AbortFn& aborted_;
};

}  // namespace

Result fit_encoder(BertEncoder& model, const Sequences& data, const Tensor& labels, const Sequences* val, const Tensor* val_labels,
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
  EncoderObjective objective(model, data, classify ? host_ints(labels) : std::vector<int32_t>(), has_val ? val : nullptr, val_labels, o,
                             aborted);
  std::vector<int64_t> key(data.lengths.begin(), data.lengths.end());
  return train_on_engine(model, optimizer, *batch_source(std::move(key), o), objective, o.loop, o.hyper, op, on_progress, aborted);
}

namespace {

// fn(batch) for the inputs in order, in batches, in eval mode without recording, concatenated.
template <class Fn>
Tensor map_batches(BertEncoder& model, const Sequences& data, int64_t batch_size, const char* op, const AbortFn& aborted, Fn&& fn) {
  check_sequences(data, op, "inputs");
  const HostIds X(data.ids);
  return map_row_batches(model, data.size(), batch_size, op, aborted, [&](const std::vector<int64_t>& idx) { return fn(gather(data, X, idx)); });
}

}  // namespace

Tensor encode_sentences(BertEncoder& model, const Sequences& data, Pooling pooling, int64_t batch_size, const AbortFn& aborted) {
  return map_batches(model, data, batch_size, "TransformerEncoder.encode", aborted,
                     [&](const Batch& b) { return model.pool(model.hidden(b.ids, b.lengths), b.ids, b.lengths, pooling); });
}

Tensor classify_sentences(BertEncoder& model, const Sequences& data, int64_t batch_size, const AbortFn& aborted) {
  const char* op = "TransformerEncoder.classify";
  if (!model.classifier) throw Error(ErrorKind::Unsupported, std::string(op) + ": this model has no classifier (numClasses is 0)");
  return map_batches(model, data, batch_size, op, aborted, [&](const Batch& b) { return model.classify(b.ids, b.lengths); });
}

}  // namespace qkv::transformer
