// The CUDA device's compute entries: each allocates its outputs (the plugin never allocates what
// it returns), turns its arguments into the plugin's plain C ones and calls the kernel slot of its
// name. backend/cuda.cpp wires an entry only when the plugin provides that slot.
#include <cmath>

#include "backend/cuda_support.h"
#include "ops/ops.h"

namespace qkv::backend::cuda_impl {

namespace {

Shape with_last(Shape s, int64_t a, int64_t b) {
  s.push_back(a);
  s.push_back(b);
  return s;
}

int64_t rows_of(const Tensor& x) {
  const int64_t C = x.dim() ? x.size(-1) : 1;
  return C ? x.numel() / C : 0;
}

// The options with the host arrays borrowed from `o` (alive for the call) and the scale resolved.
qkv_cuda_attention attention_of(const AttentionOptions& o, int64_t B, int64_t Dh) {
  qkv_cuda_attention a{};
  a.causal = o.causal ? 1 : 0;
  a.batch = B;
  a.key_lengths = o.key_lengths.empty() ? nullptr : o.key_lengths.data();
  a.key_starts = o.key_starts.empty() ? nullptr : o.key_starts.data();
  a.dropout = o.dropout;
  a.seed = o.seed;
  a.scale = o.scale > 0 ? o.scale : (Dh > 0 ? 1.0 / std::sqrt(static_cast<double>(Dh)) : 1.0);
  return a;
}

}  // namespace

// ---- linear algebra ---------------------------------------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b, const Shape& batch) {
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  const Shape full = with_last(batch, M, N);
  if (numel_of(full) == 0) return Tensor::empty(full, a.dtype());
  if (K == 0) return Tensor::zeros(full, a.dtype());
  Tensor out = Tensor::empty(full, a.dtype());
  run(&Table::matmul, "matmul", Desc(a.expand(with_last(batch, M, K))), Desc(b.expand(with_last(batch, K, N))), Desc(out));
  return out;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor y = Tensor::empty({x.size(0), w.size(0)}, x.dtype());
  run(&Table::linear, "linear", Desc(dense(x)), Desc(dense(w)), Desc(dense(b)), Desc(y));
  return y;
}

void linear_backward(const Tensor& x, const Tensor& w, const Tensor& g, Tensor* dx, Tensor* dw, Tensor* db) {
  if (dx) *dx = Tensor::empty(x.shape(), x.dtype());
  if (dw) *dw = Tensor::empty(w.shape(), x.dtype());
  if (db) *db = Tensor::empty({w.size(0)}, x.dtype());
  run(&Table::linear_backward, "linear", Desc(dense(x)), Desc(dense(w)), Desc(dense(g)), Desc(dx), Desc(dw), Desc(db));
}

// ---- elementwise ------------------------------------------------------------------------------
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Tensor out = Tensor::empty(out_shape, a.dtype());
  run(&Table::binary, ops::binary_name(op), code(op), Desc(a.expand(out_shape)), Desc(b.expand(out_shape)), Desc(out));
  return out;
}

Tensor unary(UnaryOp op, const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  run(&Table::unary, ops::unary_name(op), code(op), Desc(dense(x)), Desc(out));
  return out;
}

Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& g) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  run(&Table::unary_backward, ops::unary_name(op), code(op), Desc(dense(x)), Desc(dense(y)), Desc(dense(g)), Desc(out));
  return out;
}

Tensor binary_backward(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& y, const Tensor& g, bool wrt_b) {
  const Shape& shape = y.shape();
  Tensor out = Tensor::empty(shape, y.dtype());
  run(&Table::binary_backward, ops::binary_name(op), code(op), Desc(dense(a.expand(shape))), Desc(dense(b.expand(shape))),
      Desc(dense(y)), Desc(dense(g)), static_cast<int32_t>(wrt_b), Desc(out));
  return out;
}

Tensor dropout(const Tensor* x, const Tensor& y, const DropoutLaw& law) {
  Tensor out = Tensor::empty(y.shape(), y.dtype());
  const qkv_cuda_dropout l{law.s1, law.s2, law.threshold, 0, law.scale};
  run(&Table::dropout, "dropout", Desc(x ? dense(*x) : Tensor()), Desc(dense(y)), &l, Desc(out));
  return out;
}

// ---- reductions -------------------------------------------------------------------------------
Tensor reduce_rows(ReduceKind kind, const Tensor& rows) {
  Tensor out = Tensor::empty({rows.size(0)}, kind == ReduceKind::Argmax ? DType::I32 : rows.dtype());
  run(&Table::reduce_rows, "reduce", code(kind), Desc(dense(rows)), Desc(out));
  return out;
}

double sum_squares(const Tensor& x) {
  double result = 0;
  run(&Table::sum_squares, "sumSquares", Desc(dense(x)), &result);
  return result;
}

// ---- fused ------------------------------------------------------------------------------------
Tensor softmax(const Tensor& x, bool log) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  run(&Table::softmax, log ? "logSoftmax" : "softmax", Desc(dense(x)), static_cast<int32_t>(log), Desc(out));
  return out;
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, Tensor* mean, Tensor* rstd) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  if (mean) *mean = Tensor::empty({rows_of(x)}, x.dtype());
  if (rstd) *rstd = Tensor::empty({rows_of(x)}, x.dtype());
  run(&Table::layer_norm, "layerNorm", Desc(dense(x)), Desc(dense(gamma)), Desc(dense(beta)), eps, Desc(out), Desc(mean),
      Desc(rstd));
  return out;
}

void layer_norm_backward(const Tensor& x, const Tensor& g, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                         Tensor* dx, Tensor* dgamma, Tensor* dbeta) {
  const int64_t C = x.size(-1);
  if (dx) *dx = Tensor::empty(x.shape(), x.dtype());
  if (dgamma) *dgamma = Tensor::empty({C}, x.dtype());
  if (dbeta) *dbeta = Tensor::empty({C}, x.dtype());
  run(&Table::layer_norm_backward, "layerNorm", Desc(dense(x)), Desc(dense(g)), Desc(dense(gamma)), Desc(dense(mean)),
      Desc(dense(rstd)), Desc(dx), Desc(dgamma), Desc(dbeta));
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  Shape shape = ids.shape();
  shape.push_back(weight.size(1));
  Tensor out = Tensor::empty(shape, weight.dtype());
  run(&Table::embedding, "embedding", Desc(dense(weight)), Desc(dense(ids)), Desc(out));
  return out;
}

Tensor embedding_backward(const Tensor& ids, const Tensor& g, int64_t V) {
  Tensor dw = Tensor::empty({V, g.size(-1)}, g.dtype());
  run(&Table::embedding_backward, "embedding", Desc(dense(ids)), Desc(dense(g)), Desc(dw));
  return dw;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index, double smoothing) {
  Tensor out = Tensor::empty({}, logits.dtype());
  run(&Table::cross_entropy, "crossEntropy", Desc(dense(logits)), Desc(dense(targets)), ignore_index, smoothing, Desc(out));
  return out;
}

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& targets, int64_t ignore_index, double smoothing,
                              const Tensor& g) {
  Tensor out = Tensor::empty(logits.shape(), logits.dtype());
  run(&Table::cross_entropy_backward, "crossEntropy", Desc(dense(logits)), Desc(dense(targets)), ignore_index, smoothing,
      Desc(dense(g)), Desc(out));
  return out;
}

// ---- attention (q [B, H, T, Dh], k [B, H, S, Dh], v [B, H, S, Dv], contiguous) ---------------
AttentionResult attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  AttentionResult r{Tensor::empty({q.size(0), q.size(1), q.size(2), v.size(3)}, q.dtype()),
                    Tensor::empty({q.size(0), q.size(1), q.size(2)}, q.dtype())};
  const qkv_cuda_attention a = attention_of(o, q.size(0), q.size(3));
  run(&Table::attention_forward, "scaledDotProductAttention", Desc(q), Desc(k), Desc(v), &a, Desc(r.out), Desc(r.lse));
  return r;
}

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                        const Tensor& dout, const AttentionOptions& o, Tensor* dq, Tensor* dk, Tensor* dv) {
  *dq = Tensor::empty(q.shape(), q.dtype());
  *dk = Tensor::empty(k.shape(), k.dtype());
  *dv = Tensor::empty(v.shape(), v.dtype());
  const qkv_cuda_attention a = attention_of(o, q.size(0), q.size(3));
  run(&Table::attention_backward, "scaledDotProductAttention", Desc(q), Desc(k), Desc(v), Desc(dense(out)), Desc(dense(lse)),
      Desc(dense(dout)), &a, Desc(dq), Desc(dk), Desc(dv));
}

Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  Tensor out = Tensor::empty({q.size(0), q.size(1), q.size(2), v.size(3)}, q.dtype());
  const qkv_cuda_attention a = attention_of(o, q.size(0), q.size(3));
  run(&Table::attention_reference, "attentionReference", Desc(q), Desc(k), Desc(v), &a, Desc(out));
  return out;
}

void attention_bias(const AttentionOptions& o, int64_t B, int64_t T, int64_t S, Tensor* bias, Tensor* rows) {
  const qkv_cuda_attention a = attention_of(o, B, 0);
  run(&Table::attention_bias, "attentionMask", &a, B, T, S, Desc(bias), Desc(rows));
}

Tensor sequence_mask(int64_t L, const std::vector<int32_t>& starts, const std::vector<int32_t>& ends,
                     const std::vector<double>& value, DType dtype) {
  const int64_t B = static_cast<int64_t>(ends.size());
  Tensor out = Tensor::empty({B, L}, dtype);
  run(&Table::sequence_mask, "sequenceMask", L, B, starts.empty() ? nullptr : starts.data(), ends.data(), value.data(),
      Desc(out));
  return out;
}

// ---- optimizers (in place) --------------------------------------------------------------------
void adam_step(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamStep& s) {
  const qkv_cuda_adam a{s.b1, s.b2, s.eps, s.bc2_sqrt, s.step_size, s.decay, s.l2};
  run(&Table::adam_step, "adam", Desc(p), Desc(dense(g)), Desc(m), Desc(v), &a);
}

void sgd_step(Tensor& p, const Tensor& g, Tensor* momentum, const SgdStep& s) {
  const qkv_cuda_sgd a{s.lr, s.wd, s.momentum, s.damp, s.nesterov ? 1 : 0, s.first ? 1 : 0};
  run(&Table::sgd_step, "sgd", Desc(p), Desc(dense(g)), Desc(momentum), &a);
}

void scale_inplace(Tensor& x, double c) { run(&Table::scale_inplace, "scale", Desc(x), c); }

}  // namespace qkv::backend::cuda_impl
