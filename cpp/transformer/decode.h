#pragma once
// Decoding for Seq2Seq: greedy and beam search, run natively with per-layer key/value caches (the
// memory's keys and values are projected once; each step feeds one token per row). In eval mode
// without recording; the model's mode is restored afterwards.
//
// Beam search keeps `beam_size` hypotheses per input. At each step every live hypothesis is
// extended by every token; the best 2 x beam candidates are scanned in order: one ending in <eos>
// is finished with the score sum(log p) / length^length_penalty (length counts the generated tokens,
// <eos> included), the others fill the next beam. An input is done when it has `beam_size`
// finished hypotheses and no live one can still beat the worst of them at the current length (the
// usual heuristic); hypotheses still live at max_length are finished as they are. Greedy decoding
// is the argmax at every step (beam_size 1 takes that path).
//
// n-best: the best `num_return` (<= beam_size) of an input's final hypotheses, by score. They are
// distinct sequences: live beams are distinct extensions of distinct prefixes, hypotheses finished
// at one step end different prefixes, and those finished at different steps differ in length.
#include <cstdint>
#include <functional>
#include <vector>

#include "transformer/models.h"

namespace qkv::transformer {

struct DecodeOptions {
  int64_t beam_size = 1;
  int64_t max_length = 64;     // generated tokens, <eos> included
  double length_penalty = 1.0;
  int64_t batch_size = 64;     // inputs decoded together
  bool attention = false;      // cross-attention weights of the best result, per layer and head
  int64_t num_return = 1;      // hypotheses returned per input, in [1, beam_size]
};

struct Hypothesis {
  std::vector<int32_t> ids;  // without <bos> and <eos>
  bool finished = false;     // ended with <eos>
  double score = 0;          // sum of log-probabilities, length-normalised for beams
  double log_prob = 0;       // sum of log-probabilities of the generated tokens (<eos> included)
  // [layers, heads, rows, S]: row r is the attention while predicting output token r (the last row
  // predicts <eos> when finished). Only with DecodeOptions::attention.
  Tensor attention;
};

// src [N, S] with lengths -> per input its best num_return hypotheses, best first (fewer only where
// the beams cannot fill: a tiny vocabulary with a tiny max_length). `aborted` is polled between steps.
std::vector<std::vector<Hypothesis>> generate(Seq2Seq& model, const Tensor& src, const std::vector<int32_t>& src_lengths,
                                 const DecodeOptions& options, const std::function<bool()>& aborted = {});

// The cross-attention weights [layers, heads, rows, S] of `ids` (without <bos>) as a response to
// one source row, teacher-forced (what generate() returns with attention on).
Tensor cross_attention(Seq2Seq& model, const Tensor& src_row, int32_t src_length, const std::vector<int32_t>& ids, bool finished);

}  // namespace qkv::transformer
