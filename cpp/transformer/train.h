#pragma once
// Native training loops for the transformer models (DESIGN.md §1, §2): batching by length,
// forward, loss, backward, clipping, AdamW with a warm-up schedule, progress and abort, all in one
// call that the binding runs on a worker thread.
//
// fit() trains with an AdamW (betas 0.9/0.98, as Vaswani et al.) from make_train_optimizer(),
// with linear warm-up, then cosine (or linear) decay to min_lr. Weight decay applies to the weight
// matrices of the layers only (not to biases, norms, embeddings or positional tables).
//
// Continuing: fit() takes the optimizer and continues it (PyTorch's optimizer.state_dict: the
// moments, the per-parameter step counts and the global step s0 carry over; a fresh optimizer has
// s0 = 0). A call runs n steps (epochs x batches per epoch, or max_steps), numbered s0+1..s0+n; the
// schedule spans s0+n steps, so it continues from s0 with this call's end as its end (warm-up
// counted from step 0). Hyperparameters the options leave unset keep the optimizer's values: the
// defaults for a fresh one, the earlier run's for a continued one. The batches continue the data
// stream too: s0 / per_epoch epochs are drawn and skipped, then the first s0 % per_epoch batches,
// so that with the same data, batch size and seed, n1 steps then n2 continued steps are the same
// run as n1 + n2 steps in one call (with a constant schedule, or whenever the schedules agree).
// Dropout masks follow per-module call counters, which live on the model and in checkpoints.
//
// Batches: the samples are shuffled (seeded), cut into pools of 50 batches, each pool sorted by
// length and cut into batches whose order is shuffled again; each batch is trimmed to its longest
// row. That keeps padding small without fixing the order of the data.
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "optim/optimizer.h"
#include "transformer/models.h"

namespace qkv::transformer {

// Token ids with per-row lengths; rows are right-padded.
struct Sequences {
  Tensor ids;                    // int32 [N, L]
  std::vector<int32_t> lengths;  // N
  int64_t size() const { return ids.defined() ? ids.size(0) : 0; }
};

struct TrainOptions {
  std::optional<int64_t> epochs;  // unset: 10, or as many as max_steps takes when that is set
  int64_t batch_size = 64;
  int64_t max_steps = 0;        // > 0: stop after this many steps
  // The optimizer's hyperparameters; unset: the optimizer's own (see above). The defaults of a fresh
  // one: lr 1e-3, min_lr 0, weight decay 0.01, betas 0.9/0.98, eps 1e-9, warm-up then cosine.
  std::optional<double> lr, min_lr, weight_decay, beta1, beta2, eps;
  std::optional<optim::ScheduleKind> schedule;
  int64_t warmup_steps = -1;    // < 0: a continued run's own, else 5% of the steps (at most 1000)
  double clip_norm = 1.0;       // 0: none
  double label_smoothing = 0;
  bool bucket = true;           // length-sorted pools (see above); false: plain shuffled batches
  bool shuffle = true;
  uint64_t seed = 0;
  // TransformerEncoder only:
  double mask_prob = 0.15;      // MLM: the share of real tokens chosen (80% <mask>, 10% random, 10% kept)
};

struct TrainProgress {
  int64_t step = 0, total_steps = 0, epoch = 0;
  double loss = 0, lr = 0, grad_norm = 0;
  double tokens_per_sec = 0;    // target tokens (Seq2Seq), input tokens (encoder)
  bool epoch_end = false;
  double epoch_loss = 0;
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0;
};

struct TrainResult {
  int64_t steps = 0, tokens = 0;  // of this call
  int64_t first_epoch = 1;        // the epoch of this call's first step (later than 1 when continued)
  double seconds = 0;
  double tokens_per_sec = 0;
  std::vector<double> epoch_loss, val_loss, val_accuracy;  // per epoch (NaN without validation)
};

using ProgressFn = std::function<void(const TrainProgress&)>;
using AbortFn = std::function<bool()>;

// A fresh AdamW over the model's parameters with the defaults above, for fit_*() to train with.
std::shared_ptr<optim::Optimizer> make_train_optimizer(nn::Module& model);

// Seq2Seq: sources, and targets that start with <bos> and end with <eos> (lengths count both).
// Validation (optional) gives the teacher-forced loss and token accuracy at each epoch end.
// Progress steps and epochs count from the start of the optimizer's run (s0 + 1...).
TrainResult fit_seq2seq(Seq2Seq& model, const Sequences& src, const Sequences& tgt, const Sequences* val_src,
                        const Sequences* val_tgt, const TrainOptions& options, optim::Optimizer& optimizer,
                        const ProgressFn& on_progress = {}, const AbortFn& aborted = {});

// Teacher-forced mean loss and token accuracy (pad ignored) in eval mode.
struct EvalResult {
  double loss = 0, accuracy = 0;
  int64_t tokens = 0;
};
EvalResult evaluate_seq2seq(Seq2Seq& model, const Sequences& src, const Sequences& tgt, int64_t batch_size, const AbortFn& aborted = {});

// Teacher-forced sum of log p(target token) of each pair in eval mode: the tokens after <bos>,
// <eos> included (what beam search's log_prob adds up for a finished output). For reranking.
std::vector<double> score_seq2seq(Seq2Seq& model, const Sequences& src, const Sequences& tgt, int64_t batch_size,
                                  const AbortFn& aborted = {});

// TransformerEncoder: with labels (int32 [N], classes of the classifier) a classification
// objective on the pooled vector; without, masked language modelling. Validation: loss and
// accuracy (of the classes, or of the masked tokens; masks drawn from a fixed seed). Continued, the
// MLM masks of the skipped batches are drawn again, so that the masks continue too.
TrainResult fit_encoder(TransformerEncoder& model, const Sequences& data, const Tensor& labels, const Sequences* val,
                        const Tensor* val_labels, const TrainOptions& options, optim::Optimizer& optimizer,
                        const ProgressFn& on_progress = {}, const AbortFn& aborted = {});
EvalResult evaluate_encoder(TransformerEncoder& model, const Sequences& data, const Tensor& labels, int64_t batch_size,
                            double mask_prob, uint64_t seed, const AbortFn& aborted = {});

// Pooled sentence vectors [N, D] in eval mode, in batches.
Tensor encode_sentences(TransformerEncoder& model, const Sequences& data, Pooling pooling, int64_t batch_size,
                        const AbortFn& aborted = {});

// Checks Sequences (int32 [N, L], N lengths in [1, L]) and that two sets have the same N.
void check_sequences(const Sequences& s, const char* op, const char* what);

}  // namespace qkv::transformer
