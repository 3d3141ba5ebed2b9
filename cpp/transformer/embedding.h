#pragma once
// The input and output ends of a transformer over token ids: token embeddings (optionally scaled
// by sqrt(D), as Vaswani et al. do so that they start at the scale of the positional encodings),
// positions added with a per-row offset (left-padded rows start their positions at their first
// real token), and the output projection, tied to the token table (logits = h Eᵀ + bias) or a
// separate Linear.
//
// The token table and the positions are modules of their own ("embed" and "pos" here): a model
// that names them otherwise (Seq2Seq's src_embed / tgt_embed) registers them under its own names
// and builds a TokenEmbedding over them without registering it, so that its checkpoints keep
// their names.
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/layers.h"
#include "transformer/layers.h"

namespace qkv::transformer {

struct TokenEmbeddingOptions {
  int64_t vocab_size = 0, dim = 0, max_len = 512;
  PositionalKind positional = PositionalKind::Sinusoidal;
  bool scale = true;  // multiply the token embeddings by sqrt(D)
  DType dtype = DType::F32;
  uint64_t seed = 0;  // the table's (derive_seed(seed, 0)) and the learned positions' (derive_seed(seed, 1))
};

// The token table of the models: N(0, 1/D) (see models.h), so that scaled by sqrt(D) it has unit scale.
std::shared_ptr<nn::Embedding> token_table(int64_t vocab, int64_t dim, DType dtype, uint64_t seed);

// h [..., D] Eᵀ + bias for a table E [V, D] and bias [V] (undefined: none) -> [..., V].
Tensor tied_logits(const Tensor& h, const Tensor& table, const Tensor& bias);

class TokenEmbedding : public nn::Module {
 public:
  explicit TokenEmbedding(const TokenEmbeddingOptions& options);
  // Over existing modules (not registered here when the caller registers them itself).
  TokenEmbedding(std::shared_ptr<nn::Embedding> table, std::shared_ptr<PositionalEncoding> pos, bool scale);
  // ids [B, T] int32 -> [B, T, D]: the (scaled) embeddings plus positions offset .. offset + T - 1.
  Tensor embed_ids(const Tensor& ids, int64_t offset);
  // The same with per-row position offsets (PositionalEncoding::add_rows).
  Tensor embed_ids(const Tensor& ids, const std::vector<int64_t>& offsets);
  Tensor forward(const Tensor& ids) override { return embed_ids(ids, 0); }
  // Tied output logits: h Eᵀ + bias.
  Tensor logits(const Tensor& h, const Tensor& bias) const { return tied_logits(h, table->weight, bias); }
  json::Value config() const override;

  std::shared_ptr<nn::Embedding> table;
  std::shared_ptr<PositionalEncoding> pos;

 private:
  Tensor scaled(const Tensor& ids);
  TokenEmbeddingOptions o_;
};

}  // namespace qkv::transformer
