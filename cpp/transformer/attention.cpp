#include "transformer/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/functions.h"
#include "core/error.h"
#include "ops/attention.h"

namespace qkv::transformer {

namespace {

json::Value integer(int64_t v) { return json::Value::integer(v); }

nn::LinearOptions linear_options(const MultiHeadAttentionOptions& o, uint64_t index) {
  nn::LinearOptions lo;
  lo.bias = o.bias;
  lo.dtype = o.dtype;
  lo.init.kind = nn::InitKind::XavierUniform;  // as PyTorch's nn.MultiheadAttention (biases zero)
  lo.seed = nn::derive_seed(o.seed, index);
  return lo;
}

// [B, L, n, H, Dh] packed projections -> n contiguous [B, H, L, Dh] tensors.
// [B, L, H * Dh] -> [B, H, L, Dh], contiguous for the attention kernel.
Tensor to_heads(const Tensor& x, int64_t H, int64_t Dh) {
  const int64_t B = x.size(0), L = x.size(1);
  return ag::contiguous(ag::permute(ag::reshape(x, {B, L, H, Dh}), {0, 2, 1, 3}));
}

// The n parts of a fused projection, each split into heads: one product per part (see
// Linear::forward_features), so the backward pass never zero-fills and sums whole-width copies.
std::vector<Tensor> project_parts(nn::Linear& proj, const Tensor& x, int64_t n, int64_t H, int64_t Dh) {
  std::vector<Tensor> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(to_heads(proj.forward_features(x, i * H * Dh, H * Dh), H, Dh));
  return out;
}

}  // namespace

void check_mask(const AttentionMask& mask, int64_t B, int64_t S, const char* op) {
  if (!mask.key_starts.empty()) {
    if (static_cast<int64_t>(mask.key_starts.size()) != B)
      throw_range(std::string(op) + ": keyStarts has " + std::to_string(mask.key_starts.size()) + " entries for a batch of " + std::to_string(B));
    for (size_t b = 0; b < mask.key_starts.size(); ++b)
      if (mask.key_starts[b] < 0 || mask.key_starts[b] > S)
        throw_range(std::string(op) + ": keyStarts[" + std::to_string(b) + "] = " + std::to_string(mask.key_starts[b]) +
                    " is outside [0, " + std::to_string(S) + "]");
  }
  if (mask.key_lengths.empty()) return;
  if (static_cast<int64_t>(mask.key_lengths.size()) != B)
    throw_range(std::string(op) + ": keyLengths has " + std::to_string(mask.key_lengths.size()) + " entries for a batch of " +
                std::to_string(B));
  for (size_t b = 0; b < mask.key_lengths.size(); ++b)
    if (mask.key_lengths[b] < 0 || mask.key_lengths[b] > S)
      throw_range(std::string(op) + ": keyLengths[" + std::to_string(b) + "] = " + std::to_string(mask.key_lengths[b]) +
                  " is outside [0, " + std::to_string(S) + "]");
}

Tensor take_rows(const Tensor& x, const std::vector<int64_t>& idx) { return ops::index_select(x, idx); }

void KVCache::append(const Tensor& k_new, const Tensor& v_new) {
  const int64_t T = k_new.size(2);
  if (empty() || length + T > k.size(2)) {
    // First write, or full: new buffers (doubling, so that growth costs O(1) per position).
    int64_t cap = std::max<int64_t>(capacity, length + T);
    if (!empty()) cap = std::max<int64_t>(cap, 2 * k.size(2));
    Shape s = k_new.shape();
    s[2] = cap;
    Tensor nk = Tensor::empty(s, k_new.dtype(), k_new.device()), nv = Tensor::empty(s, v_new.dtype(), v_new.device());
    if (length > 0) ops::write_slice(nk, 2, 0, keys()), ops::write_slice(nv, 2, 0, values());
    k = nk, v = nv, capacity = cap;
  }
  ops::write_slice(k, 2, length, k_new);
  ops::write_slice(v, 2, length, v_new);
  length += T;
}

void KVCache::reorder(const std::vector<int64_t>& rows) {
  if (empty()) return;
  // Only the written positions move: new buffers of the same capacity take the rows' prefixes.
  const auto gather = [&](const Tensor& buf, const Tensor& written) {
    Shape s = buf.shape();
    s[0] = static_cast<int64_t>(rows.size());
    Tensor out = Tensor::empty(s, buf.dtype(), buf.device());
    if (length > 0) ops::write_slice(out, 2, 0, take_rows(written, rows));
    return out;
  };
  k = gather(k, keys()), v = gather(v, values());
  if (!starts.empty()) {
    std::vector<int32_t> s;
    for (int64_t r : rows) s.push_back(starts.at(static_cast<size_t>(r)));
    starts.swap(s);
  }
}

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionOptions& options) : Module("MultiHeadAttention"), o_(options) {
  if (o_.dim <= 0 || o_.heads <= 0) throw_range("MultiHeadAttention: dim and heads must be positive");
  if (o_.dim % o_.heads != 0)
    throw_range("MultiHeadAttention: dim " + std::to_string(o_.dim) + " is not a multiple of heads " + std::to_string(o_.heads));
  if (o_.kv_dim == 0) o_.kv_dim = o_.dim;
  if (o_.kv_dim < 0) throw_range("MultiHeadAttention: kvDim must be positive");
  if (o_.self_attention && o_.kv_dim != o_.dim) throw_range("MultiHeadAttention: self-attention needs kvDim == dim");
  if (!(o_.dropout >= 0 && o_.dropout < 1)) throw_range("MultiHeadAttention: dropout must be in [0, 1)");
  if (!is_float(o_.dtype)) throw_type("MultiHeadAttention: dtype must be float32 or float64");
  const int64_t D = o_.dim;
  if (o_.fused && o_.self_attention) {
    in_proj = register_module("in_proj", std::make_shared<nn::Linear>(D, 3 * D, linear_options(o_, 0)));
  } else if (o_.fused) {
    q_proj = register_module("q_proj", std::make_shared<nn::Linear>(D, D, linear_options(o_, 0)));
    kv_proj = register_module("kv_proj", std::make_shared<nn::Linear>(o_.kv_dim, 2 * D, linear_options(o_, 1)));
  } else {
    q_proj = register_module("q_proj", std::make_shared<nn::Linear>(D, D, linear_options(o_, 0)));
    k_proj = register_module("k_proj", std::make_shared<nn::Linear>(o_.kv_dim, D, linear_options(o_, 1)));
    v_proj = register_module("v_proj", std::make_shared<nn::Linear>(o_.kv_dim, D, linear_options(o_, 2)));
  }
  out_proj = register_module("out_proj", std::make_shared<nn::Linear>(D, D, linear_options(o_, 3)));
}

Tensor MultiHeadAttention::split_heads(const Tensor& x) const { return to_heads(x, o_.heads, head_dim()); }

AttentionOutput MultiHeadAttention::attend(const Tensor& x, const Tensor& memory, const AttentionMask& mask, bool need_weights,
                                           KVCache* cache) {
  const char* op = "MultiHeadAttention";
  check_input_dtype(x, op);
  if (x.dim() != 3 || x.size(2) != o_.dim)
    throw_range(std::string(op) + ": expected a query input [B, T, " + std::to_string(o_.dim) + "], got " + shape_str(x.shape()));
  const int64_t B = x.size(0), T = x.size(1), H = o_.heads, Dh = head_dim();
  const bool cross_cached = !o_.self_attention && cache && !cache->empty();
  if (o_.self_attention) {
    if (memory.defined()) throw_range(std::string(op) + ": a self-attention module takes no memory");
  } else if (!cross_cached) {
    if (!memory.defined()) throw_range(std::string(op) + ": cross-attention needs a memory [B, S, " + std::to_string(o_.kv_dim) + "]");
    check_input_dtype(memory, op);
    if (memory.dim() != 3 || memory.size(0) != B || memory.size(2) != o_.kv_dim)
      throw_range(std::string(op) + ": expected a memory [" + std::to_string(B) + ", S, " + std::to_string(o_.kv_dim) + "], got " +
                  shape_str(memory.shape()));
  }

  Tensor q, k, v;
  if (in_proj) {
    auto qkv = project_parts(*in_proj, x, 3, H, Dh);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    q = split_heads(q_proj->forward(x));
    if (o_.self_attention || !cross_cached) {
      const Tensor& src = o_.self_attention ? x : memory;
      if (kv_proj) {
        auto kv = project_parts(*kv_proj, src, 2, H, Dh);
        k = kv[0], v = kv[1];
      } else {
        k = split_heads(k_proj->forward(src));
        v = split_heads(v_proj->forward(src));
      }
    }
  }
  AttentionMask m = mask;
  if (cache) {
    if (!cache->empty() && cache->k.size(0) != B) throw_range(std::string(op) + ": the cache holds another batch size");
    if (o_.self_attention) {
      if (grad_enabled() && (k.requires_grad() || v.requires_grad()))
        throw Error(ErrorKind::Unsupported, std::string(op) + ": a key/value cache is for inference; run it without recording gradients");
      cache->append(k, v);
      k = cache->keys(), v = cache->values();
      if (!cache->starts.empty() && m.key_starts.empty()) m.key_starts = cache->starts;
      // A row whose text starts after the positions written so far sees no key yet.
      for (int32_t& s : m.key_starts) s = std::min<int32_t>(s, static_cast<int32_t>(cache->length));
    } else if (cross_cached) {
      k = cache->keys(), v = cache->values();
    } else {
      cache->k = k, cache->v = v;
      cache->length = cache->capacity = k.size(2);
    }
  }
  const int64_t S = k.size(2);
  check_mask(m, B, S, op);

  ops::AttentionOptions ao;
  ao.causal = m.causal;
  ao.key_lengths = m.key_lengths;
  ao.key_starts = m.key_starts;
  ao.dropout = is_training() ? o_.dropout : 0.0;
  ao.seed = nn::derive_seed(o_.seed ^ 0x5bd1e995ULL, calls_);
  if (is_training()) ++calls_;
  AttentionOutput result;
  Tensor a = ag::scaled_dot_product_attention(q, k, v, ao);  // [B, H, T, Dh]
  if (need_weights) result.weights = attention_weights(q, k, m, 1.0 / std::sqrt(static_cast<double>(Dh)));
  Tensor merged = ag::reshape(ag::permute(a, {0, 2, 1, 3}), {B, T, o_.dim});
  result.out = out_proj->forward(merged);
  return result;
}

Tensor MultiHeadAttention::forward(const Tensor& x) {
  if (!o_.self_attention)
    throw Error(ErrorKind::Unsupported, "MultiHeadAttention.forward: a cross-attention module needs a memory; use attend()");
  return attend(x, Tensor(), {}, false).out;
}

json::Value MultiHeadAttention::config() const {
  json::Value c = json::Value::object();
  c.set("type", json::Value::string("MultiHeadAttention"));
  c.set("dim", integer(o_.dim));
  c.set("heads", integer(o_.heads));
  c.set("kvDim", integer(o_.kv_dim));
  c.set("selfAttention", json::Value::boolean(o_.self_attention));
  c.set("fused", json::Value::boolean(o_.fused));
  c.set("bias", json::Value::boolean(o_.bias));
  c.set("dropout", json::Value::number(o_.dropout));
  c.set("dtype", json::Value::string(dtype_name(o_.dtype)));
  c.set("seed", json::Value::string(std::to_string(o_.seed)));
  return c;
}

Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionMask& mask, double scale) {
  const int64_t B = q.size(0), T = q.size(2), S = k.size(2);
  Tensor scores = ag::scale(ag::matmul(q, ag::transpose(k, 2, 3)), scale);  // [B, H, T, S]
  if (!mask.causal && mask.key_lengths.empty() && mask.key_starts.empty()) return ag::softmax(scores, false);
  // An additive mask and a row mask that zeroes the rows with no visible key (ops/attention.h).
  ops::AttentionOptions o;
  o.causal = mask.causal;
  o.key_lengths = mask.key_lengths;
  o.key_starts = mask.key_starts;
  Tensor add, rows;
  ops::attention_bias(o, B, T, S, q.dtype(), &add, &rows);
  return ag::mul(ag::softmax(ag::add(scores, add), false), rows);
}

}  // namespace qkv::transformer
