#pragma once
// One generation loop for any autoregressive model, over a small step interface: the model keeps
// its own state (key/value caches, encoder memory) per row and gives next-token logits; the loop
// chooses tokens (greedy, sampled, or by beam search) and tells the model which rows to keep.
// In eval mode without recording is the caller's business (the adapters set it).
//
// Logits processing, in Hugging Face's order: the repetition penalty (on every strategy), then
// for sampling the temperature, top-k and top-p filters. The repetition penalty p divides the
// positive logits of tokens already in the row (its context and what it generated) by p and
// multiplies the negative ones by p. Scores and log_prob add up the log-softmax of the logits after
// the repetition penalty: temperature, top-k and top-p shape the draws only, so that a sample's
// log_prob is the model's own (what teacher forcing gives, without a penalty).
//
// Greedy / sampling: rows are independent; a row ends at a stop token (not part of its ids) or
// after max_new_tokens. Sampling draws from one seeded generator per returned sequence (seed,
// first_input + input, sample), so a result does not depend on the chunk it was decoded in.
//
// Beam search keeps `beam_size` hypotheses per input. At each step every live hypothesis is
// extended by every token; the best 2 x beam candidates are scanned in order: one ending in a stop
// token is finished with the score sum(log p) / length^length_penalty (length counts the generated
// tokens, the stop token included), the others fill the next beam. An input is done when it has
// `beam_size` finished hypotheses and no live one can still beat the worst of them at the current
// length (the usual heuristic); hypotheses still live at max_new_tokens are finished as they are.
//
// n-best: the best `num_return` (<= beam_size) of an input's final hypotheses, by score. They are
// distinct sequences: live beams are distinct extensions of distinct prefixes, hypotheses finished
// at one step end different prefixes, and those finished at different steps differ in length.
// With sampling, num_return independent samples per input.
#include <cstdint>
#include <functional>
#include <vector>

#include "core/tensor.h"

namespace qkv::transformer {

// What the loop drives. Rows start as one per input, in input order.
class StepModel {
 public:
  virtual ~StepModel() = default;
  // The newest token of each row ([R] ids, fed at the next position) -> logits [R, V].
  virtual Tensor step(const std::vector<int32_t>& tokens) = 0;
  // Keeps rows `rows` (indices into the current rows; repeats allowed), in that order.
  virtual void reorder(const std::vector<int64_t>& rows) = 0;
};

struct GenerateOptions {
  int64_t beam_size = 1;
  int64_t num_return = 1;         // per input: beams kept, or samples drawn
  double length_penalty = 1.0;    // beams only
  int64_t max_new_tokens = 64;    // generated tokens, the stop token included
  bool sample = false;            // draw from the processed distribution instead of the argmax
  double temperature = 1.0;       // sampling: 0 takes the argmax
  int64_t top_k = 0;              // sampling: keep the k most likely tokens (0: all)
  double top_p = 1.0;             // sampling: keep the smallest set with probability >= top_p
  double repetition_penalty = 1.0;
  std::vector<int32_t> stop_tokens;
  uint64_t seed = 0;
  int64_t first_input = 0;        // the index of input 0 for the sampling seeds (a chunk of a longer list)
  // Called as each token is chosen (greedy, sampling: at each step, for every live row; beams: the
  // best hypothesis of an input, token by token, once the input is done). The stop token too.
  std::function<void(int64_t input, int64_t sample, int32_t token)> on_token;
  std::function<bool()> aborted;  // polled before each step; throws Error(Aborted) naming `op`
  const char* op = "generate";
};

struct Hypothesis {
  std::vector<int32_t> ids;  // the generated tokens, without the stop token
  bool finished = false;     // ended with a stop token
  int32_t stop_token = -1;   // which, when finished
  double score = 0;          // sum of log-probabilities, length-normalised for beams
  double log_prob = 0;       // sum of log-probabilities of the generated tokens (the stop token included)
  // [layers, heads, rows, S]: row r is the attention while predicting output token r (the last row
  // predicts <eos> when finished). Only where the caller asks for it (Seq2Seq).
  Tensor attention;
};

// RangeError naming options.op for options out of range.
void check_generate_options(const GenerateOptions& options, int64_t max_new_tokens_limit);

// Generates for `contexts.size()` inputs, each context being the tokens already in its sequence
// (its last token is fed first; all of them count for the repetition penalty). Per input its
// num_return hypotheses, best first for beams, in draw order for samples.
std::vector<std::vector<Hypothesis>> generate(StepModel& model, const std::vector<std::vector<int32_t>>& contexts,
                                              const GenerateOptions& options);

// The logits processing on [R, V] logits: the repetition penalty for the tokens in `seen` (one
// list per row), then 1 / temperature. Ops only; temperature 1 and penalty 1 return the input.
Tensor process_logits(const Tensor& logits, const std::vector<std::vector<int32_t>>& seen, double repetition_penalty,
                      double temperature);

// Samples an index of log-probabilities `logp` after the top-k and top-p filters (renormalised),
// drawing u ~ U[0, 1) from `u`. Ties keep the lower index first.
int32_t sample_token(const std::vector<double>& logp, int64_t top_k, double top_p, double u);

}  // namespace qkv::transformer
