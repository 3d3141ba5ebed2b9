#pragma once
// The transformer models: an encoder (token ids -> contextual vectors, pooled sentence vectors, a
// masked-language-model head and an optional classifier) and an encoder-decoder (Seq2Seq).
//
// Token ids are int32 [B, L], right-padded, with per-row lengths; special ids come from the config
// (the tokenizers of src/text put <pad> 0, <bos> 1, <eos> 2, <unk> 3, <mask> 4). Token embeddings
// are initialised N(0, 1/D) and multiplied by sqrt(D) (Vaswani et al.), so that they and the
// positional encodings start at the same scale; an output projection tied to them then starts
// with logits of unit scale (embedding.h).
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/layers.h"
#include "transformer/embedding.h"
#include "transformer/layers.h"
#include "transformer/pooling.h"

namespace qkv::transformer {

// Registers the builders of every transformer module type with nn/factory.h (idempotent).
void register_transformer_modules();
// Builds any transformer module from its config (the shape of config()), without turning
// construction errors into format errors: TypeError for an unknown type, RangeError for sizes.
nn::ModulePtr build_transformer_module(const json::Value& config, const char* op);

// Ids [B, L] int32 and lengths checked against each other and a vocabulary; RangeError naming op.
void check_ids(const Tensor& ids, const std::vector<int32_t>& lengths, int64_t vocab, const char* op, const char* what);

struct EncoderOptions {
  int64_t vocab_size = 0, max_len = 512, layers = 2;
  LayerOptions layer;              // dim, heads, ffDim, dropout, norm, ...
  PositionalKind positional = PositionalKind::Sinusoidal;
  int32_t pad_id = 0, mask_id = 4; // <mask> for the masked-language-model objective
  int32_t num_specials = 5;        // without special_ids: the ids below this are special
  std::vector<int32_t> special_ids;  // the tokenizer's special ids (never chosen or drawn by MLM)
  // Whether `id` is special (special_ids, or else below num_specials).
  bool is_special(int32_t id) const;
  bool mlm_head = true;            // mlm_bias [V]; logits = h Eᵀ + mlm_bias (tied to the embedding)
  int64_t num_classes = 0;         // > 0: a classifier Linear(D, C) on the pooled vector
  Pooling class_pooling = Pooling::Cls;
  int32_t eot_id = 2;              // <eos>: where Pooling::Eot reads
};

// A BERT-style text encoder (Devlin et al. 2019): token embedding and positions, an encoder stack,
// a masked-language-model head tied to the embedding, and an optional classifier on a pooled
// vector. Its module type is "TransformerEncoder", the name its checkpoints and the TypeScript
// class carry.
class BertEncoder : public nn::Module {
 public:
  explicit BertEncoder(const EncoderOptions& options);
  // ids [B, L] -> hidden [B, L, D] (final-normed with pre-LN). `weights`, when given, receives each
  // layer's self-attention weights [B, H, L, L].
  Tensor hidden(const Tensor& ids, const std::vector<int32_t>& lengths, std::vector<Tensor>* weights = nullptr);
  // hidden [B, L, D] -> [B, D] (pooling.h); Eot needs the ids (the overload with them).
  static Tensor pool(const Tensor& hidden, const std::vector<int32_t>& lengths, Pooling pooling);
  Tensor pool(const Tensor& hidden, const Tensor& ids, const std::vector<int32_t>& lengths, Pooling pooling) const;
  // MLM logits [B, L, V]; Unsupported without the head.
  Tensor mlm_logits(const Tensor& hidden);
  // Classifier logits [B, C] from ids; Unsupported without a classifier.
  Tensor classify(const Tensor& ids, const std::vector<int32_t>& lengths);
  Tensor forward(const Tensor& ids) override;  // all rows full length -> hidden
  json::Value config() const override;
  // Embedding dropout is seeded by a call counter: its position goes into checkpoints ("qkv.rng"), so that training resumes exactly.
  bool has_rng_state() const override { return o_.layer.dropout > 0; }
  uint64_t rng_state() const override { return dropout_calls_; }
  void set_rng_state(uint64_t calls) override { dropout_calls_ = calls; }
  const EncoderOptions& options() const { return o_; }

  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<PositionalEncoding> pos;
  std::shared_ptr<TransformerEncoderStack> encoder;
  std::shared_ptr<nn::Linear> classifier;
  Tensor mlm_bias;

 private:
  std::shared_ptr<TokenEmbedding> tokens_;  // over embed and pos (registered under those names)
  EncoderOptions o_;
  uint64_t dropout_seed_, dropout_calls_ = 0;
};

struct Seq2SeqOptions {
  int64_t src_vocab = 0, tgt_vocab = 0, max_len = 256;
  int64_t encoder_layers = 2, decoder_layers = 2;
  LayerOptions layer;
  PositionalKind positional = PositionalKind::Sinusoidal;
  bool share_embeddings = false;   // one table for both sides (src_vocab == tgt_vocab)
  bool tie_output = true;          // the output projection is the target embedding (transposed)
  int32_t pad_id = 0, bos_id = 1, eos_id = 2;
};

class Seq2Seq : public nn::Module {
 public:
  explicit Seq2Seq(const Seq2SeqOptions& options);
  // src [B, S] -> memory [B, S, D]
  Tensor encode(const Tensor& src, const std::vector<int32_t>& src_lengths, std::vector<Tensor>* weights = nullptr);
  // Teacher forcing: tgt_in [B, T] (starting with <bos>) -> logits [B, T, V]. `cross_weights`, when
  // given, receives each decoder layer's cross-attention weights [B, H, T, S].
  Tensor decode(const Tensor& tgt_in, const Tensor& memory, const std::vector<int32_t>& src_lengths,
                std::vector<Tensor>* cross_weights = nullptr);
  // One incremental decoding step: ids [R, 1] at position `position`, with per-layer caches
  // (memory is used on the first step only) -> logits [R, V] (step_logits) or log-probabilities.
  Tensor step_logits(const Tensor& ids, int64_t position, const Tensor& memory, const std::vector<int32_t>& src_lengths,
                     std::vector<DecoderLayerCache>& caches);
  Tensor step(const Tensor& ids, int64_t position, const Tensor& memory, const std::vector<int32_t>& src_lengths,
              std::vector<DecoderLayerCache>& caches);
  // Mean cross-entropy over the target tokens (pad ignored).
  Tensor loss(const Tensor& src, const std::vector<int32_t>& src_lengths, const Tensor& tgt_in, const Tensor& tgt_out,
              double label_smoothing);
  json::Value config() const override;
  // Embedding dropout is seeded by a call counter: its position goes into checkpoints ("qkv.rng"), so that training resumes exactly.
  bool has_rng_state() const override { return o_.layer.dropout > 0; }
  uint64_t rng_state() const override { return dropout_calls_; }
  void set_rng_state(uint64_t calls) override { dropout_calls_ = calls; }
  const Seq2SeqOptions& options() const { return o_; }

  std::shared_ptr<nn::Embedding> src_embed, tgt_embed;  // the same module when shared
  std::shared_ptr<PositionalEncoding> pos;
  std::shared_ptr<TransformerEncoderStack> encoder;
  std::shared_ptr<TransformerDecoderStack> decoder;
  std::shared_ptr<nn::Linear> generator;  // when the output is not tied
  Tensor output_bias;                     // [V] when tied

 private:
  Tensor embed_tokens(TokenEmbedding& side, const Tensor& ids, int64_t offset);
  Tensor logits(const Tensor& h);
  std::shared_ptr<TokenEmbedding> src_tokens_, tgt_tokens_;  // over src_embed / tgt_embed and pos
  Seq2SeqOptions o_;
  uint64_t dropout_seed_, dropout_calls_ = 0;
};

}  // namespace qkv::transformer
