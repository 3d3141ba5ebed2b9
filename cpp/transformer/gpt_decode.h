#pragma once
// Generation for GPT through the generic loop (generate.h): a StepModel over the blocks' key/value
// caches. A chunk of prompts is left-padded so that every row's newest token sits in the same
// column: the prompts but their last token run through the model once (the prefill, filling the
// caches), then each step feeds one token per row. Positions count from each row's first real
// token; the caches' per-row starts hide the padding.
//
// Past the context length the window slides as nanoGPT's does (the model only ever sees its last
// maxLength tokens): when the caches are full, they are rebuilt from the last half of each row's
// tokens, positions counted from the window's start. The rows of a chunk share the caches' columns,
// so they slide together: past the context, a row's continuation depends on the longest prompt it
// was batched with (within the context, it never does).
#include <cstdint>
#include <functional>
#include <vector>

#include "transformer/generate.h"
#include "transformer/gpt.h"

namespace qkv::transformer {

class GPTStepModel : public StepModel {
 public:
  // `contexts`: per row the tokens so far (at least one; the last is fed by the first step).
  // `max_new_tokens` sizes the caches.
  GPTStepModel(GPT& model, const std::vector<std::vector<int32_t>>& contexts, int64_t max_new_tokens);
  Tensor step(const std::vector<int32_t>& tokens) override;
  void reorder(const std::vector<int64_t>& rows) override;

 private:
  // Fresh caches over `rows` (each row's tokens before its newest), left-padded.
  void prefill(const std::vector<std::vector<int32_t>>& rows);
  GPT& model_;
  int64_t capacity_;
  std::vector<BlockCache> caches_;
  std::vector<int32_t> starts_;
  std::vector<std::vector<int32_t>> history_;  // per row: the tokens in its caches, in order
};

struct GPTGenerateOptions {
  GenerateOptions generate;  // stop_tokens besides the model's end of text
  int64_t batch_size = 16;   // prompts decoded together
  bool stop_at_eos = true;   // the model's eosId ends a row
};

// Per prompt its hypotheses (generate.h); `aborted` is polled between steps.
std::vector<std::vector<Hypothesis>> generate(GPT& model, const std::vector<std::vector<int32_t>>& prompts, const GPTGenerateOptions& options,
                                              const std::function<bool()>& aborted = {});

}  // namespace qkv::transformer
