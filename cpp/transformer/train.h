#pragma once
// Training the transformer models: adapters on the training engine (train/engine.h), which runs
// the steps, accumulation, clipping, schedule, progress, abort and resuming. Here: the batches
// (length-bucketed sequences or pairs), the objectives (teacher-forced translation, masked
// language modelling, classification) and their evaluation.
//
// fit_*() trains with an AdamW (betas 0.9/0.98, as Vaswani et al.) from make_train_optimizer(),
// whose weight decay applies to the parameters each module declares for decay (the weight
// matrices; not biases, norms, embeddings or positional tables), with linear warm-up, then cosine
// (or linear) decay to min_lr over the run. A continued run (the optimizer of an earlier one)
// continues its steps, schedule and data order (see train/engine.h); hyperparameters the options
// leave unset keep the optimizer's values.
#include <cstdint>
#include <memory>
#include <vector>

#include "autograd/autograd.h"
#include "core/error.h"
#include "ops/ops.h"
#include "optim/optimizer.h"
#include "train/engine.h"
#include "transformer/models.h"

namespace qkv::transformer {

using train::AbortFn;
using train::EvalResult;
using train::ProgressFn;
using train::Result;

// Token ids with per-row lengths; rows are right-padded.
struct Sequences {
  Tensor ids;                    // int32 [N, L]
  std::vector<int32_t> lengths;  // N
  int64_t size() const { return ids.defined() ? ids.size(0) : 0; }
};

struct TrainOptions {
  train::LoopOptions loop = [] {  // epochs (default 10), maxSteps, accumulate, clipNorm (1), seed
    train::LoopOptions l;
    l.default_epochs = 10;
    l.clip_norm = 1.0;
    return l;
  }();
  // The defaults of a fresh optimizer: lr 1e-3, min_lr 0, weight decay 0.01, betas 0.9/0.98,
  // eps 1e-9, warm-up then cosine.
  train::HyperOptions hyper;
  int64_t batch_size = 64;
  double label_smoothing = 0;
  bool bucket = true;           // length-bucketed batches; false: plain shuffled batches
  bool shuffle = true;
  // BertEncoder only:
  double mask_prob = 0.15;      // MLM: the share of real tokens chosen (80% <mask>, 10% random, 10% kept)
};

// A fresh AdamW over the model's parameters with the defaults above, for fit_*() to train with.
std::shared_ptr<optim::Optimizer> make_train_optimizer(nn::Module& model);

// Seq2Seq: sources, and targets that start with <bos> and end with <eos> (lengths count both).
// Validation (optional) gives the teacher-forced loss and token accuracy at each epoch end.
// Progress steps and epochs count from the start of the optimizer's run (s0 + 1...).
Result fit_seq2seq(Seq2Seq& model, const Sequences& src, const Sequences& tgt, const Sequences* val_src,
                        const Sequences* val_tgt, const TrainOptions& options, optim::Optimizer& optimizer,
                        const ProgressFn& on_progress = {}, const AbortFn& aborted = {});

// Teacher-forced mean loss and token accuracy (pad ignored) in eval mode; count = target tokens.
EvalResult evaluate_seq2seq(Seq2Seq& model, const Sequences& src, const Sequences& tgt, int64_t batch_size, const AbortFn& aborted = {});

// Teacher-forced sum of log p(target token) of each pair in eval mode: the tokens after <bos>,
// <eos> included (what beam search's log_prob adds up for a finished output). For reranking.
std::vector<double> score_seq2seq(Seq2Seq& model, const Sequences& src, const Sequences& tgt, int64_t batch_size,
                                  const AbortFn& aborted = {});

// BertEncoder: with labels (int32 [N], classes of the classifier) a classification
// objective on the pooled vector; without, masked language modelling. Validation: loss and
// accuracy (of the classes, or of the masked tokens; masks drawn from a fixed seed). The masks of a
// training batch are drawn from (seed, step), so a continued run continues them too.
Result fit_encoder(BertEncoder& model, const Sequences& data, const Tensor& labels, const Sequences* val,
                        const Tensor* val_labels, const TrainOptions& options, optim::Optimizer& optimizer,
                        const ProgressFn& on_progress = {}, const AbortFn& aborted = {});
EvalResult evaluate_encoder(BertEncoder& model, const Sequences& data, const Tensor& labels, int64_t batch_size,
                            double mask_prob, uint64_t seed, const AbortFn& aborted = {});

// Pooled sentence vectors [N, D] in eval mode, in batches.
Tensor encode_sentences(BertEncoder& model, const Sequences& data, Pooling pooling, int64_t batch_size,
                        const AbortFn& aborted = {});
// Classifier logits [N, C] in eval mode, in batches; Unsupported without a classifier.
Tensor classify_sentences(BertEncoder& model, const Sequences& data, int64_t batch_size, const AbortFn& aborted = {});

// ---- what the models' adapters share ---------------------------------------------------------------
// A fresh AdamW (beta1 0.9) over the model's parameters, weight decay where each module declares it,
// warm-up then cosine: what a fit starts when it continues no optimizer.
std::shared_ptr<optim::Optimizer> fresh_adamw(nn::Module& model, double lr, double beta2, double eps, double weight_decay);
// Checks the optimizer, plans the run, sets its schedule and runs it on the engine.
Result train_on_engine(nn::Module& model, optim::Optimizer& optimizer, const train::BatchSource& data, train::Objective& objective,
                       const train::LoopOptions& loop, const train::HyperOptions& hyper, const char* op, const ProgressFn& on_progress,
                       const AbortFn& aborted);

// The ids of a set of sequences on the host, where batches are cut from them.
struct HostIds {
  std::vector<int32_t> ids;
  int64_t width = 0;
  explicit HostIds(const Tensor& t);
};

// Rows `idx` of s, trimmed to their longest length: the ids on the host and as a tensor.
struct Batch {
  Tensor ids;
  std::vector<int32_t> host;
  std::vector<int32_t> lengths;
};
Batch gather(const Sequences& s, const HostIds& all, const std::vector<int64_t>& idx);

// fn(rows) for rows 0..N-1 in order, batch_size at a time, in eval mode without recording; the
// results concatenated along axis 0 (RangeError naming op for a batch size below 1).
template <class Fn>
Tensor map_row_batches(nn::Module& model, int64_t N, int64_t batch_size, const char* op, const AbortFn& aborted, Fn&& fn) {
  if (batch_size < 1) throw_range(std::string(op) + ": batchSize must be positive");
  NoGradGuard no_grad;
  nn::ModeGuard mode(model, false);
  std::vector<Tensor> parts;
  for (int64_t a = 0; a < N; a += batch_size) {
    train::check_abort(aborted, op);
    std::vector<int64_t> idx(static_cast<size_t>(std::min(N, a + batch_size) - a));
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = a + static_cast<int64_t>(i);
    parts.push_back(fn(idx).contiguous());
  }
  return parts.size() == 1 ? parts[0] : ops::concat(parts, 0);
}

// Checks Sequences (int32 [N, L], N lengths in [1, L]) and that two sets have the same N.
void check_sequences(const Sequences& s, const char* op, const char* what);

}  // namespace qkv::transformer
