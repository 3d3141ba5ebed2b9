#pragma once
// Transformer layers (Vaswani et al. 2017; pre-LN as in Xiong et al. 2020) and positional
// encodings. Child names follow PyTorch's nn.TransformerEncoderLayer / nn.TransformerDecoderLayer
// (self_attn, multihead_attn, linear1, linear2, norm1..3), so that a state dict maps name for name
// (PyTorch's fused in_proj_weight is our self_attn.in_proj.weight).
//
//   encoder, pre-LN:   x = x + drop(attn(ln1(x)));          x = x + drop(ff(ln2(x)))
//   encoder, post-LN:  x = ln1(x + drop(attn(x)));          x = ln2(x + drop(ff(x)))
//   decoder, pre-LN:   x = x + drop(self(ln1(x), causal)); x = x + drop(cross(ln2(x), memory)); x = x + drop(ff(ln3(x)))
//   decoder, post-LN:  the same with the norms after each residual sum
//   ff(x) = linear2(drop(act(linear1(x))))
// Shapes: x [B, T, D], memory [B, S, D]. Padding: `key_lengths` (per batch row) masks the padded
// keys of self-attention in the encoder and of the memory in cross-attention; the decoder's own
// right padding needs no mask (padded positions come after every real one, which the causal mask
// hides), left padding is hidden by `key_starts`.
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/factory.h"
#include "nn/layers.h"
#include "transformer/attention.h"

namespace qkv::transformer {

struct LayerOptions {
  int64_t dim = 0, heads = 1, ff_dim = 0;
  double dropout = 0.1;            // residual and feed-forward dropout
  double attention_dropout = 0;    // on attention weights
  nn::ActivationKind activation = nn::ActivationKind::Relu;
  bool pre_norm = true;
  double eps = 1e-5;
  bool fused = true;               // fused Q/K/V (self) and K/V (cross) projections
  bool bias = true;
  DType dtype = DType::F32;
  uint64_t seed = 0;
};
// The fields above as config members (writing appends to an object; reading takes defaults for
// missing fields, Error(Format) for mistyped ones).
void write_layer_options(json::Value& c, const LayerOptions& o);
LayerOptions read_layer_options(const nn::ConfigReader& r);

// One transformer block: self-attention (causal or bidirectional, with per-row key padding on
// either side), optionally cross-attention over a memory, and the feed-forward block, each with a
// residual connection, pre- or post-LN. The encoder and decoder layers below are two
// configurations of it; a decoder-only model uses a causal block without cross-attention.
// Dropout (residual and feed-forward) is seeded per call from the block's seed and a call counter
// that advances in training mode only (ag::add_dropout: residual sum and dropout in one pass).
struct BlockOptions {
  LayerOptions layer;
  bool cross_attention = false;  // multihead_attn over a memory, and norm3
  bool causal = false;           // self-attention sees the earlier positions only
};

// Key/value caches of one block for incremental decoding (attention.h).
struct BlockCache {
  KVCache self, cross;
};
using DecoderLayerCache = BlockCache;

// What one call of a block sees besides x [B, T, D].
struct BlockInputs {
  std::vector<int32_t> key_lengths, key_starts;  // self-attention padding, per row (empty: none)
  Tensor memory;                                  // cross-attention: [B, S, D] (undefined after the first cached call)
  std::vector<int32_t> memory_lengths;            // per row, or empty
  BlockCache* cache = nullptr;
  Tensor* self_weights = nullptr;                 // receives [B, H, T, S_self] when given
  Tensor* cross_weights = nullptr;                // receives [B, H, T, S] when given
};

class TransformerBlock : public nn::Module {
 public:
  explicit TransformerBlock(const BlockOptions& options, std::string type = "TransformerBlock");
  Tensor run(const Tensor& x, const BlockInputs& in);
  Tensor forward(const Tensor& x) override { return run(x, {}); }
  json::Value config() const override;
  const LayerOptions& options() const { return o_.layer; }
  const BlockOptions& block_options() const { return o_; }
  // Dropout masks are seeded by a call counter: its position goes into checkpoints ("qkv.rng"), so that training resumes exactly.
  bool has_rng_state() const override { return o_.layer.dropout > 0; }
  uint64_t rng_state() const override { return dropout_calls_; }
  void set_rng_state(uint64_t calls) override { dropout_calls_ = calls; }

  std::shared_ptr<MultiHeadAttention> self_attn, multihead_attn;  // multihead_attn with cross-attention only
  std::shared_ptr<nn::Linear> linear1, linear2;
  std::shared_ptr<nn::LayerNorm> norm1, norm2, norm3;              // norm3 with cross-attention only

 private:
  Tensor feed_forward(const Tensor& x, bool training);
  // x + drop(y) while training (dropout > 0), x + y otherwise. `site` names the dropout in the block.
  Tensor residual(const Tensor& x, const Tensor& y, bool training, uint64_t site);
  uint64_t call_seed(uint64_t site) const;
  BlockOptions o_;
  uint64_t dropout_seed_ = 0, dropout_calls_ = 0;
};

// Bidirectional self-attention and the feed-forward block (PyTorch's nn.TransformerEncoderLayer).
class TransformerEncoderLayer : public TransformerBlock {
 public:
  explicit TransformerEncoderLayer(const LayerOptions& options);
  // x [B, T, D] -> [B, T, D]. `weights`, when given, receives the self-attention weights [B, H, T, T].
  Tensor encode(const Tensor& x, const std::vector<int32_t>& key_lengths, Tensor* weights = nullptr);
  Tensor forward(const Tensor& x) override { return encode(x, {}); }
  json::Value config() const override;
};

// Causal self-attention, cross-attention and the feed-forward block (nn.TransformerDecoderLayer).
class TransformerDecoderLayer : public TransformerBlock {
 public:
  explicit TransformerDecoderLayer(const LayerOptions& options);
  // x [B, T, D], memory [B, S, D] -> [B, T, D]. With a cache, x continues the cached positions (and
  // memory may be undefined after the first call). `cross_weights` / `self_weights`, when given,
  // receive the attention weights [B, H, T, S] / [B, H, T, T].
  Tensor decode(const Tensor& x, const Tensor& memory, const std::vector<int32_t>& memory_lengths,
                DecoderLayerCache* cache = nullptr, Tensor* cross_weights = nullptr, Tensor* self_weights = nullptr);
  json::Value config() const override;
};

// ---- positional encodings --------------------------------------------------------------------------
enum class PositionalKind : uint8_t { Sinusoidal, Learned };
const char* positional_name(PositionalKind k);  // "sinusoidal", "learned"
PositionalKind positional_from_name(const std::string& name, const char* op);

class PositionalEncoding : public nn::Module {
 public:
  using nn::Module::Module;
  // x [B, T, D] + the encodings of positions offset .. offset + T - 1. RangeError past max_len.
  virtual Tensor add(const Tensor& x, int64_t offset) = 0;
  // x [B, T, D] + per row b the encodings of positions offsets[b] + t, those below 0 taken as 0
  // (the left padding of a row whose text starts at column -offsets[b]). RangeError past max_len.
  Tensor add_rows(const Tensor& x, const std::vector<int64_t>& offsets);
  Tensor forward(const Tensor& x) override { return add(x, 0); }
  int64_t max_len() const { return max_len_; }
  virtual const Tensor& table_tensor() const = 0;  // [max_len, D]

 protected:
  void check(const Tensor& x, int64_t offset, const char* op) const;
  int64_t max_len_ = 0, dim_ = 0;
};

// PE[p, 2i] = sin(p / 10000^(2i/D)), PE[p, 2i+1] = cos(p / 10000^(2i/D)): a fixed table, kept as a
// non-persistent buffer (rebuilt, not saved).
class SinusoidalPositionalEncoding : public PositionalEncoding {
 public:
  SinusoidalPositionalEncoding(int64_t max_len, int64_t dim, DType dtype = DType::F32);
  Tensor add(const Tensor& x, int64_t offset) override;
  json::Value config() const override;
  const Tensor& table_tensor() const override { return table; }
  Tensor table;  // [max_len, D]
};

// A trained table `weight` [max_len, D], initialised N(0, 1/2) so that its scale matches the
// sinusoidal table's.
class LearnedPositionalEmbedding : public PositionalEncoding {
 public:
  LearnedPositionalEmbedding(int64_t max_len, int64_t dim, DType dtype = DType::F32, uint64_t seed = 0);
  Tensor add(const Tensor& x, int64_t offset) override;
  json::Value config() const override;
  const Tensor& table_tensor() const override { return weight; }
  Tensor weight;

 private:
  uint64_t seed_;
};

std::shared_ptr<PositionalEncoding> make_positional(PositionalKind kind, int64_t max_len, int64_t dim, DType dtype, uint64_t seed);

// ---- stacks ----------------------------------------------------------------------------------------
// N layers ("layers.0", ...) and, with pre-LN, the final LayerNorm ("norm"), as PyTorch's
// nn.TransformerEncoder / nn.TransformerDecoder.
class TransformerEncoderStack : public nn::Module {
 public:
  TransformerEncoderStack(const LayerOptions& options, int64_t num_layers);
  // `weights`, when given, receives each layer's self-attention weights.
  Tensor encode(const Tensor& x, const std::vector<int32_t>& key_lengths, std::vector<Tensor>* weights = nullptr);
  Tensor forward(const Tensor& x) override { return encode(x, {}); }
  json::Value config() const override;
  size_t size() const { return layers_.size(); }
  TransformerEncoderLayer& layer(size_t i) { return *layers_.at(i); }

  std::shared_ptr<nn::LayerNorm> norm;  // null for post-LN

 private:
  LayerOptions o_;
  std::vector<std::shared_ptr<TransformerEncoderLayer>> layers_;
};

class TransformerDecoderStack : public nn::Module {
 public:
  TransformerDecoderStack(const LayerOptions& options, int64_t num_layers);
  // `caches` (one per layer, or null) for incremental decoding; `cross_weights`, when given,
  // receives each layer's cross-attention weights [B, H, T, S].
  Tensor decode(const Tensor& x, const Tensor& memory, const std::vector<int32_t>& memory_lengths,
                std::vector<DecoderLayerCache>* caches = nullptr, std::vector<Tensor>* cross_weights = nullptr);
  json::Value config() const override;
  size_t size() const { return layers_.size(); }
  TransformerDecoderLayer& layer(size_t i) { return *layers_.at(i); }

  std::shared_ptr<nn::LayerNorm> norm;

 private:
  LayerOptions o_;
  std::vector<std::shared_ptr<TransformerDecoderLayer>> layers_;
};

}  // namespace qkv::transformer
