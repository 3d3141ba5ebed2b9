#pragma once
// Multi-head attention as a module: projections, heads, the fused kernel (ops/attention.h), the
// output projection. Shapes: query x [B, T, D]; memory [B, S, Dkv] for cross-attention (the keys
// and values), x itself for self-attention; out [B, T, D].
//
// Projections (parameter names follow PyTorch / Hugging Face):
//   fused, self-attention:   in_proj  Linear(D, 3D)          (PyTorch's in_proj_weight layout)
//   fused, cross-attention:  q_proj   Linear(D, D), kv_proj Linear(Dkv, 2D)
//   separate:                q_proj, k_proj, v_proj
//   always:                  out_proj Linear(D, D)
// Masks go to the fused kernel: `causal` (query i sees keys j <= i + S - T), `key_lengths` (per
// batch row: keys j >= length are padding) and `key_starts` (per batch row: keys j < start are
// left padding). Attention dropout (training only) is seeded per call from the module's seed and a
// call counter that advances in training mode only.
//
// Weights on request: the fused kernel never stores the T x S matrix, so when `need_weights` is
// set the module also computes softmax(Q Kᵀ / sqrt(Dh) + mask) explicitly (recorded by the autograd
// like any other op), as [B, H, T, S], with fully masked rows set to zero. The output is the fused
// kernel's either way, so asking for weights never changes it.
//
// Incremental decoding (inference only: the cache writes are not recorded): with a KVCache,
// self-attention writes this call's keys and values into the cache's preallocated buffers at
// positions length .. length + T - 1 and attends to the first length + T (the queries continue the
// cached prefix: the causal mask is aligned at the end); the cache's per-row `starts` hide the left
// padding of each row. Cross-attention projects the memory once and reuses it on later calls.
#include <cstdint>
#include <vector>

#include "nn/layers.h"
#include "nn/module.h"

namespace qkv::transformer {

struct AttentionMask {
  bool causal = false;
  std::vector<int32_t> key_lengths;  // empty: no padding mask; else one per batch row
  std::vector<int32_t> key_starts;   // empty: no left padding; else one per batch row
};

// Keys and values of the positions seen so far, in buffers [B, H, capacity, Dh] allocated on the
// first write and written in place; every row holds `length` positions (rows are aligned at the
// end: a left-padded row hides its first starts[b] positions).
struct KVCache {
  Tensor k, v;                  // [B, H, capacity, Dh]; undefined until the first call
  int64_t length = 0;           // positions written
  int64_t capacity = 0;         // positions the buffers hold (0: chosen at the first write, grown by doubling)
  std::vector<int32_t> starts;  // per row, or empty (no left padding)
  bool empty() const { return !k.defined(); }
  // The first `length` positions (views of the buffers).
  Tensor keys() const { return k.slice(2, 0, length); }
  Tensor values() const { return v.slice(2, 0, length); }
  // Writes k_new, v_new [B, H, T, Dh] at positions length .. length + T - 1.
  void append(const Tensor& k_new, const Tensor& v_new);
  // Keeps rows `rows` (repeats allowed), in that order: beams that continue, rows that finish.
  void reorder(const std::vector<int64_t>& rows);
};

struct MultiHeadAttentionOptions {
  int64_t dim = 0;             // D: query and output width
  int64_t heads = 1;           // H: D % H == 0
  int64_t kv_dim = 0;          // width of the memory for cross-attention (0: D)
  bool self_attention = true;  // keys and values from the query input
  bool fused = true;           // one projection for Q, K and V (self) or for K and V (cross)
  bool bias = true;
  double dropout = 0;          // on the attention weights, while training
  DType dtype = DType::F32;
  uint64_t seed = 0;
};

struct AttentionOutput {
  Tensor out;      // [B, T, D]
  Tensor weights;  // [B, H, T, S] when asked for, else undefined
};

class MultiHeadAttention : public nn::Module {
 public:
  explicit MultiHeadAttention(const MultiHeadAttentionOptions& options);

  // Self-attention: memory undefined (x is attended). Cross-attention: memory [B, S, Dkv].
  // RangeError naming the module for shapes, mask sizes and lengths that do not fit.
  AttentionOutput attend(const Tensor& x, const Tensor& memory, const AttentionMask& mask, bool need_weights,
                         KVCache* cache = nullptr);
  // Self-attention without masks (cross-attention modules throw Unsupported).
  Tensor forward(const Tensor& x) override;
  json::Value config() const override;
  // Attention dropout is seeded by a call counter: its position goes into checkpoints ("qkv.rng"), so that training resumes exactly.
  bool has_rng_state() const override { return o_.dropout > 0; }
  uint64_t rng_state() const override { return calls_; }
  void set_rng_state(uint64_t calls) override { calls_ = calls; }

  const MultiHeadAttentionOptions& options() const { return o_; }
  int64_t head_dim() const { return o_.dim / o_.heads; }

  std::shared_ptr<nn::Linear> in_proj, q_proj, k_proj, v_proj, kv_proj, out_proj;

 private:
  // [B, L, H*Dh] (any strides) -> [B, H, L, Dh] contiguous.
  Tensor split_heads(const Tensor& x) const;
  MultiHeadAttentionOptions o_;
  uint64_t calls_ = 0;
};

// The explicit attention weights softmax(q kᵀ * scale + mask) for q [B, H, T, Dh], k [B, H, S, Dh]:
// [B, H, T, S], fully masked rows zero. Recorded by the autograd.
Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionMask& mask, double scale);

// Checks a mask against a batch of B rows attending to S keys; RangeError naming `op`.
void check_mask(const AttentionMask& mask, int64_t B, int64_t S, const char* op);

// Rows idx of x along axis 0 (x any layout), as a new contiguous tensor (not recorded).
Tensor take_rows(const Tensor& x, const std::vector<int64_t>& idx);

}  // namespace qkv::transformer
