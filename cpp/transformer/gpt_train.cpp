#include "transformer/gpt_train.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autograd/functions.h"
#include "core/error.h"
#include "core/random.h"

namespace qkv::transformer {

namespace {

using nn::ModeGuard;
using train::BatchLoss;
using train::Rows;

// Labels are checked to be in range, so the cross-entropy of the heads ignores none.
constexpr int64_t kNoIgnore = -100;

void check_options(const GPTTrainOptions& o, const char* op) {
  if (o.batch_size < 1) throw_range(std::string(op) + ": batchSize must be a positive integer");
  if (o.context < 0) throw_range(std::string(op) + ": context must be a positive integer");
  if (!(o.lm_weight >= 0 && std::isfinite(o.lm_weight))) throw_range(std::string(op) + ": lmWeight must be a finite number >= 0");
  train::check_hyper_options(o.hyper, op);
}

int64_t context_of(const GPT& model, int64_t context, const char* op) {
  const int64_t max_len = model.options().max_len;
  if (context == 0) return max_len;
  if (context < 1 || context > max_len)
    throw_range(std::string(op) + ": context " + std::to_string(context) + " is outside [1, " + std::to_string(max_len) + "] (the model's maxLength)");
  return context;
}

void check_stream(const std::vector<int32_t>& tokens, const GPT& model, const char* op, const char* what) {
  const int64_t V = model.options().vocab_size;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= V)
      throw_range(std::string(op) + ": " + what + " hold id " + std::to_string(tokens[i]) + " outside the vocabulary of " + std::to_string(V));
}

// Windows of context + 1 tokens at a random phase each epoch (shuffled batches of window indices);
// a row is the window's first token.
class PackedWindows : public train::BatchSource {
 public:
  PackedWindows(int64_t tokens, int64_t context, int64_t batch_size, bool shuffle)
      : T_(context), shuffle_(shuffle), windows_(shuffle ? (tokens - context) / context : (tokens - 1) / context),
        inner_(windows_, batch_size, shuffle) {}
  int64_t size() const override { return windows_; }
  int64_t batches_per_epoch() const override { return inner_.batches_per_epoch(); }
  std::vector<Rows> epoch(Rng& rng) const override {
    const int64_t phase = shuffle_ ? static_cast<int64_t>(rng.below(static_cast<uint32_t>(T_))) : 0;
    std::vector<Rows> batches = inner_.epoch(rng);
    for (Rows& b : batches)
      for (int64_t& w : b) w = phase + w * T_;
    return batches;
  }

 private:
  int64_t T_;
  bool shuffle_;
  int64_t windows_;
  train::ShuffledBatches inner_;
};

// The windows starting at `starts`, each `width` tokens (fewer at the stream's end: the batch is
// cut to the shortest) as int32 [n, width].
Tensor windows(const std::vector<int32_t>& tokens, const Rows& starts, int64_t width) {
  int64_t w = width;
  for (int64_t s : starts) w = std::min<int64_t>(w, static_cast<int64_t>(tokens.size()) - s);
  const int64_t n = static_cast<int64_t>(starts.size());
  std::vector<int32_t> host(static_cast<size_t>(n * w));
  for (int64_t r = 0; r < n; ++r) std::copy_n(tokens.begin() + starts[r], w, host.begin() + r * w);
  return Tensor::from_host(host.data(), {n, w}, DType::I32);
}

class LanguageModelObjective : public train::Objective {
 public:
  LanguageModelObjective(GPT& model, const std::vector<int32_t>& tokens, const std::vector<int32_t>* val, int64_t context,
                         const GPTTrainOptions& o, const AbortFn& aborted)
      : model_(model), tokens_(tokens), val_(val), T_(context), o_(o), aborted_(aborted) {}
  BatchLoss loss(const Rows& rows, int64_t) override {
    return {model_.lm_loss(windows(tokens_, rows, T_ + 1)), static_cast<int64_t>(rows.size()) * T_};
  }
  bool has_validation() const override { return val_ != nullptr; }
  EvalResult validate() override { return evaluate_gpt(model_, *val_, T_, std::max<int64_t>(o_.batch_size, 16), o_.val_batches, aborted_); }

 private:
  GPT& model_;
  const std::vector<int32_t>& tokens_;
  const std::vector<int32_t>* val_;
  int64_t T_;
  const GPTTrainOptions& o_;
  const AbortFn& aborted_;
};

}  // namespace

std::shared_ptr<optim::Optimizer> make_gpt_optimizer(nn::Module& model) { return fresh_adamw(model, 6e-4, 0.95, 1e-8, 0.1); }

Result fit_gpt(GPT& model, const std::vector<int32_t>& tokens, const std::vector<int32_t>* val, const GPTTrainOptions& o,
               optim::Optimizer& optimizer, const ProgressFn& on_progress, const AbortFn& aborted) {
  const char* op = "GPT.fit";
  check_options(o, op);
  const int64_t T = context_of(model, o.context, op);
  if (static_cast<int64_t>(tokens.size()) < 2 * T + 2)
    throw_range(std::string(op) + ": " + std::to_string(tokens.size()) + " tokens are too few for windows of " + std::to_string(T) +
                " (at least " + std::to_string(2 * T + 2) + ")");
  check_stream(tokens, model, op, "the tokens");
  const bool has_val = val && val->size() >= 2;
  if (has_val) check_stream(*val, model, op, "the validation tokens");
  PackedWindows data(static_cast<int64_t>(tokens.size()), T, o.batch_size, o.shuffle);
  LanguageModelObjective objective(model, tokens, has_val ? val : nullptr, T, o, aborted);
  return train_on_engine(model, optimizer, data, objective, o.loop, o.hyper, op, on_progress, aborted);
}

EvalResult evaluate_gpt(GPT& model, const std::vector<int32_t>& tokens, int64_t context, int64_t batch_size, int64_t max_batches,
                        const AbortFn& aborted) {
  const char* op = "GPT.evaluate";
  const int64_t T = context_of(model, context, op);
  if (batch_size < 1) throw_range(std::string(op) + ": batchSize must be positive");
  if (tokens.size() < 2) throw_range(std::string(op) + ": at least 2 tokens are needed");
  check_stream(tokens, model, op, "the tokens");
  NoGradGuard no_grad;
  ModeGuard mode(model, false);
  // Non-overlapping windows; the last one takes what is left (at least 2 tokens).
  Rows starts;
  for (int64_t s = 0; s + 1 < static_cast<int64_t>(tokens.size()); s += T) starts.push_back(s);
  double loss_sum = 0;
  int64_t count = 0, batches = 0;
  for (size_t a = 0; a < starts.size(); a += static_cast<size_t>(batch_size)) {
    if (max_batches > 0 && batches++ >= max_batches) break;
    train::check_abort(aborted, op);
    // Windows of one width batch together: the full ones, then the short last one alone.
    Rows part(starts.begin() + a, starts.begin() + std::min(starts.size(), a + static_cast<size_t>(batch_size)));
    if (part.size() > 1 && part.back() + T + 1 > static_cast<int64_t>(tokens.size())) {
      const int64_t last = part.back();
      part.pop_back();
      const Tensor w = windows(tokens, {last}, T + 1);
      loss_sum += model.lm_loss(w).item() * static_cast<double>(w.size(1) - 1);
      count += w.size(1) - 1;
    }
    const Tensor w = windows(tokens, part, T + 1);
    const int64_t n = w.size(0) * (w.size(1) - 1);
    loss_sum += model.lm_loss(w).item() * static_cast<double>(n);
    count += n;
  }
  EvalResult r;
  r.count = count;
  r.loss = count ? loss_sum / static_cast<double>(count) : train::kNoValue;
  return r;
}

// ---- fine-tuning -------------------------------------------------------------------------------------

Combine combine_from_name(const std::string& name, const char* op) {
  if (name == "classes") return Combine::Classes;
  if (name == "sum") return Combine::Sum;
  if (name == "choice") return Combine::Choice;
  throw_range(std::string(op) + ": combine must be 'classes', 'sum' or 'choice', got '" + name + "'");
}

namespace {

void check_examples(const GPT& model, const FormattedExamples& d, bool need_labels, const char* op) {
  check_sequences(d.inputs, op, "inputs");
  check_ids(d.inputs.ids, d.inputs.lengths, model.options().vocab_size, op, "inputs");
  if (d.inputs.ids.size(1) > model.options().max_len)
    throw_range(std::string(op) + ": inputs of " + std::to_string(d.inputs.ids.size(1)) + " tokens exceed the context length " +
                std::to_string(model.options().max_len));
  if (d.group < 1 || d.inputs.size() % d.group != 0)
    throw_range(std::string(op) + ": " + std::to_string(d.inputs.size()) + " sequences do not make groups of " + std::to_string(d.group));
  if (d.combine == Combine::Classes && d.group != 1) throw_range(std::string(op) + ": the classes format has one sequence per example");
  if (d.combine == Combine::Sum && d.group != 2) throw_range(std::string(op) + ": the sum format has two sequences per example");
  if (!model.clf) throw Error(ErrorKind::Unsupported, std::string(op) + ": this model has no classifier head (numClasses is 0)");
  const int64_t C = model.options().num_classes, classes = d.combine == Combine::Choice ? d.group : C;
  if (d.combine == Combine::Choice && C != 1) throw_range(std::string(op) + ": multiple choice scores each choice with a head of 1 output");
  if (need_labels && static_cast<int64_t>(d.labels.size()) != d.size())
    throw_range(std::string(op) + ": " + std::to_string(d.labels.size()) + " labels for " + std::to_string(d.size()) + " examples");
  for (int32_t y : d.labels)
    if (y < 0 || y >= classes) throw_range(std::string(op) + ": label " + std::to_string(y) + " is outside [0, " + std::to_string(classes) + ")");
}

// Rows of the examples `examples`: their groups' sequences, in order.
Rows group_rows(const FormattedExamples& d, const Rows& examples) {
  Rows rows;
  for (int64_t e : examples)
    for (int64_t g = 0; g < d.group; ++g) rows.push_back(e * d.group + g);
  return rows;
}

struct HeadOutput {
  Tensor logits;   // [n, classes]
  Tensor lm_loss;  // recorded, when asked
};

HeadOutput run_head(GPT& model, const FormattedExamples& d, const HostIds& host, const Rows& examples, bool with_lm) {
  const Batch b = gather(d.inputs, host, group_rows(d, examples));
  const Tensor h = model.hidden(b.ids);
  std::vector<int64_t> at(b.lengths.size());
  for (size_t i = 0; i < at.size(); ++i) at[i] = b.lengths[i] - 1;
  Tensor feats = GPT::extract(h, at);  // [n·G, D]
  const int64_t n = static_cast<int64_t>(examples.size()), G = d.group, D = feats.size(1);
  HeadOutput out;
  if (d.combine == Combine::Sum) feats = ag::sum(ag::reshape(feats, {n, G, D}), {1}, false);
  out.logits = model.classifier_logits(feats);
  if (d.combine == Combine::Choice) out.logits = ag::reshape(out.logits, {n, G});
  if (with_lm && b.ids.size(1) >= 2) out.lm_loss = model.lm_loss(h, b.ids, b.lengths);
  return out;
}

Tensor labels_of(const FormattedExamples& d, const Rows& examples) {
  std::vector<int32_t> y;
  for (int64_t e : examples) y.push_back(d.labels[e]);
  return Tensor::from_host(y.data(), {static_cast<int64_t>(y.size())}, DType::I32);
}

class ClassifierObjective : public train::Objective {
 public:
  ClassifierObjective(GPT& model, const FormattedExamples& d, const FormattedExamples* val, const GPTTrainOptions& o, const AbortFn& aborted)
      : model_(model), d_(d), host_(d.inputs.ids), val_(val), o_(o), aborted_(aborted) {}
  BatchLoss loss(const Rows& rows, int64_t) override {
    HeadOutput h = run_head(model_, d_, host_, rows, o_.lm_weight > 0);
    Tensor loss = ag::cross_entropy(h.logits, labels_of(d_, rows), kNoIgnore, 0);
    if (h.lm_loss.defined()) loss = ag::add(loss, ag::scale(h.lm_loss, o_.lm_weight));
    int64_t tokens = 0;
    for (int64_t r : group_rows(d_, rows)) tokens += d_.inputs.lengths[r];
    return {loss, tokens};
  }
  bool has_validation() const override { return val_ != nullptr; }
  EvalResult validate() override { return evaluate_gpt_classifier(model_, *val_, std::max<int64_t>(o_.batch_size, 32), aborted_); }

 private:
  GPT& model_;
  const FormattedExamples& d_;
  const HostIds host_;
  const FormattedExamples* val_;
  const GPTTrainOptions& o_;
  const AbortFn& aborted_;
};

// fn(first example, logits [n, classes]) over the examples in order, eval mode, no recording.
template <class Fn>
void for_each_head_batch(GPT& model, const FormattedExamples& d, int64_t batch_size, const char* op, const AbortFn& aborted, Fn&& fn) {
  if (batch_size < 1) throw_range(std::string(op) + ": batchSize must be positive");
  NoGradGuard no_grad;
  ModeGuard mode(model, false);
  const HostIds host(d.inputs.ids);
  const int64_t N = d.size();
  for (int64_t a = 0; a < N; a += batch_size) {
    train::check_abort(aborted, op);
    Rows idx(static_cast<size_t>(std::min(N, a + batch_size) - a));
    std::iota(idx.begin(), idx.end(), a);
    fn(idx, run_head(model, d, host, idx, false).logits);
  }
}

}  // namespace

Result fit_gpt_classifier(GPT& model, const FormattedExamples& d, const FormattedExamples* val, const GPTTrainOptions& o,
                          optim::Optimizer& optimizer, const ProgressFn& on_progress, const AbortFn& aborted) {
  const char* op = "GPTClassifier.fit";
  check_options(o, op);
  check_examples(model, d, true, op);
  if (val) check_examples(model, *val, true, op);
  train::ShuffledBatches data(d.size(), o.batch_size, o.shuffle);
  ClassifierObjective objective(model, d, val, o, aborted);
  return train_on_engine(model, optimizer, data, objective, o.loop, o.hyper, op, on_progress, aborted);
}

EvalResult evaluate_gpt_classifier(GPT& model, const FormattedExamples& d, int64_t batch_size, const AbortFn& aborted) {
  const char* op = "GPTClassifier.evaluate";
  check_examples(model, d, true, op);
  double loss_sum = 0, correct = 0;
  int64_t count = 0;
  for_each_head_batch(model, d, batch_size, op, aborted, [&](const Rows& idx, const Tensor& logits) {
    const Tensor y = labels_of(d, idx);
    loss_sum += ops::cross_entropy(logits, y, kNoIgnore, 0).item() * static_cast<double>(idx.size());
    train::count_correct(logits, y, kNoIgnore, correct, count);
  });
  EvalResult r;
  r.count = count;
  r.loss = count ? loss_sum / static_cast<double>(count) : train::kNoValue;
  r.accuracy = count ? correct / static_cast<double>(count) : train::kNoValue;
  return r;
}

Tensor predict_gpt_classifier(GPT& model, const FormattedExamples& d, int64_t batch_size, const AbortFn& aborted) {
  const char* op = "GPTClassifier.predict";
  check_examples(model, d, false, op);
  std::vector<Tensor> parts;
  for_each_head_batch(model, d, batch_size, op, aborted, [&](const Rows&, const Tensor& logits) { parts.push_back(ops::softmax(logits, false)); });
  return parts.size() == 1 ? parts[0] : ops::concat(parts, 0);
}

}  // namespace qkv::transformer
