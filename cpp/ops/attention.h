#pragma once
// Scaled dot-product attention, fused: out = softmax(Q Kᵀ / sqrt(Dh) + mask) V.
// Shapes: q [B, H, T, Dh], k [B, H, S, Dh], v [B, H, S, Dv] -> out [B, H, T, Dv], lse [B, H, T].
// Masks: `causal` lets query i see keys j <= i + (S - T) (aligned at the end, so that a query
// block continuing a cached prefix works; with S == T it is the usual lower triangle);
// `key_lengths` [B] hides keys j >= key_lengths[b] (right padding) and `key_starts` [B] keys
// j < key_starts[b] (left padding). A fully masked row gives zeros.
// Dropout on the attention weights uses a counter-based generator keyed by (seed, b, h, i, j), so
// the backward pass regenerates the same mask.
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "ops/op_args.h"

namespace qkv::ops {

// True for [B, H, S, D] whose [S, D] block of each (b, h) is row-major and dense (any strides
// across b and h): e.g. a slice along S of a contiguous buffer, as a preallocated key/value cache
// hands them. The forward kernel reads keys and values so laid out in place (other layouts, and
// the backward pass, take contiguous copies).
bool head_strided(const Tensor& x);

// Checks shapes and options; throws RangeError/TypeError naming scaledDotProductAttention.
void check_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt);

// The tiled kernel: memory linear in T and S (the T x S score matrix is never stored whole).
AttentionResult attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt);
// Recomputes the scores block by block from q, k and the saved log-sum-exp.
void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                        const Tensor& dout, const AttentionOptions& opt, Tensor* dq, Tensor* dk, Tensor* dv);

// The readable reference: the full score matrix, softmax, then the product (what the tiled kernel
// is tested against, beside the float64 loops of test/attention.test.ts).
Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt);

// The masks of `opt` for B rows of T queries over S keys, for the explicit attention weights:
// `bias` [B, 1, T, S] (0 where visible, -1e30 where masked) and `rows` [B, 1, T, 1] (1 for a row
// that sees some key, 0 for one that sees none).
void attention_bias(const AttentionOptions& opt, int64_t B, int64_t T, int64_t S, DType dtype, Tensor* bias, Tensor* rows);

}  // namespace qkv::ops
