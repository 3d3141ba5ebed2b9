#pragma once
// Decoding for Seq2Seq: the encoder runs once per chunk of inputs, then the generic generation
// loop (generate.h: greedy, sampling, beam search with n-best) drives the decoder through a
// StepModel adapter that keeps per-layer key/value caches (preallocated for max_length positions;
// the memory's keys and values are projected once) and feeds one token per row per step. In eval
// mode without recording; the model's mode is restored afterwards. <eos> always stops a row; the
// options may add stop tokens.
#include <cstdint>
#include <functional>
#include <vector>

#include "transformer/generate.h"
#include "transformer/models.h"

namespace qkv::transformer {

struct DecodeOptions {
  // The generation loop's options (generate.h): beams, samples, penalties, seed, on_token (the
  // input's index counted over all chunks). max_new_tokens is the output length, <eos> included
  // (at most the model's maxLength); stop_tokens are those besides <eos>.
  GenerateOptions generate;
  int64_t batch_size = 64;     // inputs decoded together
  bool attention = false;      // cross-attention weights of the best result, per layer and head
};

// The step interface over a Seq2Seq decoder with the encoder memory of a batch of inputs.
class Seq2SeqStepModel : public StepModel {
 public:
  Seq2SeqStepModel(Seq2Seq& model, Tensor memory, std::vector<int32_t> src_lengths, int64_t max_steps);
  Tensor step(const std::vector<int32_t>& tokens) override;
  void reorder(const std::vector<int64_t>& rows) override;

 private:
  Seq2Seq& model_;
  Tensor memory_;
  std::vector<int32_t> lengths_;
  std::vector<DecoderLayerCache> caches_;
  int64_t position_ = 0;
};

// src [N, S] with lengths -> per input its best num_return hypotheses, best first (fewer only where
// the beams cannot fill: a tiny vocabulary with a tiny max_length). `aborted` is polled between steps.
std::vector<std::vector<Hypothesis>> generate(Seq2Seq& model, const Tensor& src, const std::vector<int32_t>& src_lengths,
                                              const DecodeOptions& options, const std::function<bool()>& aborted = {});

// The cross-attention weights [layers, heads, rows, S] of `ids` (without <bos>) as a response to
// one source row, teacher-forced (what generate() returns with attention on).
Tensor cross_attention(Seq2Seq& model, const Tensor& src_row, int32_t src_length, const std::vector<int32_t>& ids, bool finished);

}  // namespace qkv::transformer
