#pragma once
// A decoder-only transformer (Radford et al. 2018, 2019): token embeddings plus learned positions,
// a stack of causal TransformerBlocks without cross-attention, a final LayerNorm (pre-LN, GPT-2)
// and an output head tied to the token table; GPT-1's post-LN layout (no final norm) as an option.
// Every part is the shared one (embedding.h, layers.h); only the arrangement is GPT's.
//
// Names follow Hugging Face's GPT2Model where the parts are the same (wte, wpe, h.<i>, ln_f) so
// that a GPT-2 checkpoint maps onto it with a rename inside each block (ln_1 → norm1, attn.c_attn
// → self_attn.in_proj, attn.c_proj → self_attn.out_proj, ln_2 → norm2, mlp.c_fc → linear1,
// mlp.c_proj → linear2) and the Conv1D transposes.
//
// Initialisation (GPT-2 / nanoGPT): every weight matrix and both tables N(0, 0.02²), biases zero,
// norms one; the two projections that write into the residual stream (out_proj, linear2) N(0,
// (0.02/√(2·layers))²), so that the residual's variance does not grow with depth.
//
// Fine-tuning head (GPT-1): with num_classes > 0 a Linear `clf` reads the final hidden state of a
// chosen (extract) position of each sequence, after a dropout of its own.
//
// Positions: rows are laid out right-padded for training (positions 0..T-1) and left-padded for
// generation, where row b's text starts at column starts[b] and its positions count from there.
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/layers.h"
#include "transformer/embedding.h"
#include "transformer/layers.h"

namespace qkv::transformer {

struct GPTOptions {
  int64_t vocab_size = 0, max_len = 1024, layers = 12;
  LayerOptions layer;              // dim, heads, ffDim (4·D), dropout (residual), attention dropout, GELU (tanh), pre/post-LN
  double embedding_dropout = 0.1;  // on token + position embeddings while training
  bool tie_output = true;          // logits = h · wteᵀ (else a Linear `lm_head` without bias)
  double init_std = 0.02;
  int32_t eos_id = -1;             // end of text: the separator of packed documents and the default stop token (-1: none)
  int64_t num_classes = 0;         // > 0: the fine-tuning head clf Linear(D, num_classes)
  double classifier_dropout = 0.1;
};

class GPT : public nn::Module {
 public:
  explicit GPT(const GPTOptions& options);

  // ids [B, T] int32 -> final hidden states [B, T, D]. `starts` (empty: none) holds, per row, the
  // column where its text starts (left padding before it: positions start there, padded keys are
  // hidden). With `caches` (one per block) the call continues the cached positions (inference).
  // `weights`, when given, receives each block's self-attention weights [B, H, T, S].
  Tensor hidden(const Tensor& ids, const std::vector<int32_t>& starts = {}, std::vector<BlockCache>* caches = nullptr,
                std::vector<Tensor>* weights = nullptr);
  // h [..., D] -> next-token logits [..., V].
  Tensor logits(const Tensor& h);
  // Mean next-token cross-entropy of full rows of ids [B, T] (packed windows: targets ids[:, 1:], none ignored).
  Tensor lm_loss(const Tensor& ids);
  // Mean next-token cross-entropy given the hidden states h [B, T, D] of ids [B, T] whose rows hold
  // lengths[b] real tokens (right padding ignored). Computing h once serves both fine-tuning losses.
  Tensor lm_loss(const Tensor& h, const Tensor& ids, const std::vector<int32_t>& lengths);
  // The hidden states at positions `at` (one per row) of h [B, T, D] -> [B, D].
  static Tensor extract(const Tensor& h, const std::vector<int64_t>& at);
  // The fine-tuning head (its dropout, then clf) on features [N, D] -> [N, num_classes];
  // Unsupported without a head.
  Tensor classifier_logits(const Tensor& features);
  Tensor forward(const Tensor& ids) override { return logits(hidden(ids)); }
  json::Value config() const override;
  bool has_rng_state() const override { return o_.embedding_dropout > 0 || o_.classifier_dropout > 0; }
  uint64_t rng_state() const override { return dropout_calls_; }
  void set_rng_state(uint64_t calls) override { dropout_calls_ = calls; }
  const GPTOptions& options() const { return o_; }
  size_t size() const { return blocks_.size(); }

  std::shared_ptr<nn::Embedding> wte;
  std::shared_ptr<LearnedPositionalEmbedding> wpe;
  std::shared_ptr<nn::LayerNorm> ln_f;  // null for post-LN
  std::shared_ptr<nn::Linear> lm_head;  // when the head is not tied
  std::shared_ptr<nn::Linear> clf;      // with num_classes > 0

 private:
  void initialize_weights();
  std::shared_ptr<TokenEmbedding> tokens_;  // over wte and wpe (registered under those names)
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;
  GPTOptions o_;
  uint64_t dropout_seed_ = 0, dropout_calls_ = 0;
};

nn::ModulePtr build_gpt(const json::Value& config);

}  // namespace qkv::transformer
