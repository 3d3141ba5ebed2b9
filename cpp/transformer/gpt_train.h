#pragma once
// Training a GPT on the shared engine (train/engine.h): causal language modelling on a packed token
// stream, and GPT-1's supervised fine-tuning through input formats, with the auxiliary LM loss.
//
// Packing: the documents of a corpus are one stream of ids with an end-of-text id between them
// (the caller lays it out). An epoch cuts it into windows of context + 1 tokens (inputs and the
// targets shifted by one) at a random phase in [0, context), so that windows start at new places
// each epoch, and shuffles them; every window is full, so a batch's weight is its size.
//
// Fine-tuning: each example is a group of G sequences (right-padded, with lengths) whose extract
// token is the last real one:
//   classes  G = 1: clf(h_extract) -> [C] (classification, entailment)
//   sum      G = 2: clf(h_extract(a $ b) + h_extract(b $ a)) -> [C] (similarity, both orders)
//   choice   G = K: clf(h_extract(context $ answer_k)) -> one score each, softmax over the K (multiple choice)
// loss = cross-entropy of the labels + lm_weight · the LM loss over the groups' real tokens.
#include <cstdint>
#include <vector>

#include "train/engine.h"
#include "transformer/gpt.h"
#include "transformer/train.h"

namespace qkv::transformer {

struct GPTTrainOptions {
  train::LoopOptions loop = [] {  // epochs (default 1), maxSteps, accumulate, clipNorm (1), seed, evalEvery
    train::LoopOptions l;
    l.clip_norm = 1.0;
    return l;
  }();
  train::HyperOptions hyper;      // fresh optimizer: lr 6e-4 (LM), weight decay 0.1, betas 0.9/0.95, eps 1e-8
  int64_t batch_size = 8;
  int64_t context = 0;            // LM window (0: the model's maxLength)
  bool shuffle = true;
  double lm_weight = 0.5;         // fine-tuning: the auxiliary LM loss's weight λ
  int64_t val_batches = 0;        // > 0: validate on at most this many batches
};

// A fresh AdamW for GPT training: GPT-2 / nanoGPT's betas (0.9, 0.95) and decay 0.1 on the matrices.
std::shared_ptr<optim::Optimizer> make_gpt_optimizer(nn::Module& model);

Result fit_gpt(GPT& model, const std::vector<int32_t>& tokens, const std::vector<int32_t>* val, const GPTTrainOptions& options,
               optim::Optimizer& optimizer, const ProgressFn& on_progress = {}, const AbortFn& aborted = {});
// Mean next-token loss over the stream's non-overlapping windows (the last one shorter), eval mode;
// count = predicted tokens.
EvalResult evaluate_gpt(GPT& model, const std::vector<int32_t>& tokens, int64_t context, int64_t batch_size, int64_t max_batches,
                        const AbortFn& aborted = {});

enum class Combine : uint8_t { Classes, Sum, Choice };
Combine combine_from_name(const std::string& name, const char* op);  // "classes", "sum", "choice"

struct FormattedExamples {
  Sequences inputs;             // N·G rows, group by group
  int64_t group = 1;            // G
  Combine combine = Combine::Classes;
  std::vector<int32_t> labels;  // N (empty for prediction)
  int64_t size() const { return inputs.size() / group; }
};

Result fit_gpt_classifier(GPT& model, const FormattedExamples& data, const FormattedExamples* val, const GPTTrainOptions& options,
                          optim::Optimizer& optimizer, const ProgressFn& on_progress = {}, const AbortFn& aborted = {});
// Loss (cross-entropy of the labels) and accuracy, eval mode.
EvalResult evaluate_gpt_classifier(GPT& model, const FormattedExamples& data, int64_t batch_size, const AbortFn& aborted = {});
// Class (or choice) probabilities [N, C], eval mode.
Tensor predict_gpt_classifier(GPT& model, const FormattedExamples& data, int64_t batch_size, const AbortFn& aborted = {});

}  // namespace qkv::transformer
