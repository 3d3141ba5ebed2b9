// Fused forward kernels (their backward pairs come with the autograd).
// Shapes: softmax/logSoftmax over the last axis of [..., C]; layer norm over the last axis with
// gamma, beta [C]; embedding weight [V, D] gathered by int32 ids [...]; cross-entropy logits [N, C]
// with int32 targets [N]. Reference: naive float64 loops in test/ops.test.ts.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace qkv::ops {

static void need_float(const Tensor& t, const char* op, const char* what) {
  if (!is_float(t.dtype()))
    throw_type(std::string(op) + ": " + what + " must be float32 or float64, got " + dtype_name(t.dtype()));
}

Tensor softmax(const Tensor& a, bool log) {
  const char* op = log ? "logSoftmax" : "softmax";
  need_float(a, op, "input");
  if (a.dim() == 0) throw_range(std::string(op) + ": needs at least 1 dim, got a scalar");
  Tensor x = a.contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  const int64_t cols = a.size(-1), rows = cols ? a.numel() / cols : 0;
  dispatch_float(a.dtype(), [&](auto z) {
    using T = decltype(z);
    const auto& k = cpu::kernels_of<T>();
    const T* s = x.template data<T>();
    T* o = out.template data<T>();
    parallel_for(0, rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(cols, 1)),
                 [&](int64_t lo, int64_t hi) { k.softmax_rows(hi - lo, cols, s + lo * cols, o + lo * cols, log); });
    return 0;
  });
  return out;
}

Tensor layer_norm(const Tensor& x_in, const Tensor& gamma, const Tensor& beta, double eps, Tensor* mean_out,
                  Tensor* rstd_out) {
  need_float(x_in, "layerNorm", "input");
  if (x_in.dim() == 0) throw_range("layerNorm: needs at least 1 dim, got a scalar");
  const int64_t C = x_in.size(-1);
  for (const Tensor* p : {&gamma, &beta}) {
    if (!p->defined()) continue;
    const char* name = p == &gamma ? "gamma" : "beta";
    if (p->dtype() != x_in.dtype())
      throw_type(std::string("layerNorm: ") + name + " dtype " + dtype_name(p->dtype()) + " differs from input " +
                 dtype_name(x_in.dtype()));
    if (p->dim() != 1 || p->size(0) != C)
      throw_range(std::string("layerNorm: ") + name + " must have shape [" + std::to_string(C) + "] for input " +
                  shape_str(x_in.shape()) + ", got " + shape_str(p->shape()));
  }
  if (!(eps >= 0)) throw_range("layerNorm: eps must be >= 0");
  if (beta.defined() && !gamma.defined()) throw_range("layerNorm: beta given without gamma");
  Tensor x = x_in.contiguous(), g = gamma.defined() ? gamma.contiguous() : gamma, b = beta.defined() ? beta.contiguous() : beta;
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const int64_t rows = C ? x.numel() / C : 0;
  if (mean_out) *mean_out = Tensor::empty({rows}, x.dtype());
  if (rstd_out) *rstd_out = Tensor::empty({rows}, x.dtype());
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const auto& k = cpu::kernels_of<T>();
    T* pm = mean_out ? mean_out->template data<T>() : nullptr;
    T* pr = rstd_out ? rstd_out->template data<T>() : nullptr;
    const T* px = x.template data<T>();
    const T* pg = g.defined() ? g.template data<T>() : nullptr;
    const T* pb = b.defined() ? b.template data<T>() : nullptr;
    T* po = out.template data<T>();
    parallel_for(0, rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1)), [&](int64_t lo, int64_t hi) {
      k.layernorm_rows(hi - lo, C, px + lo * C, pg, pb, static_cast<T>(eps), po + lo * C, pm ? pm + lo : nullptr,
                       pr ? pr + lo : nullptr);
    });
    return 0;
  });
  return out;
}

Tensor embedding(const Tensor& weight_in, const Tensor& ids_in) {
  if (ids_in.dtype() != DType::I32) throw_type(std::string("embedding: ids must be int32, got ") + dtype_name(ids_in.dtype()));
  if (weight_in.dim() != 2) throw_range("embedding: weight must be 2-D [V, D], got " + shape_str(weight_in.shape()));
  Tensor w = weight_in.contiguous(), ids = ids_in.contiguous();
  const int64_t V = w.size(0), D = w.size(1), n = ids.numel();
  const int32_t* pi = ids.data<int32_t>();
  for (int64_t i = 0; i < n; ++i)
    if (pi[i] < 0 || pi[i] >= V)
      throw_range("embedding: index " + std::to_string(pi[i]) + " at position " + std::to_string(i) +
                  " is out of range for a weight of shape " + shape_str(w.shape()));
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, w.dtype());
  const size_t row_bytes = static_cast<size_t>(D) * dtype_size(w.dtype());
  const char* src = static_cast<const char*>(w.raw());
  char* dst = static_cast<char*>(out.raw());
  parallel_for(0, n, 256, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) std::copy_n(src + pi[i] * row_bytes, row_bytes, dst + i * row_bytes);
  });
  return out;
}

Tensor cross_entropy(const Tensor& logits_in, const Tensor& targets_in, int64_t ignore_index, double smoothing) {
  need_float(logits_in, "crossEntropy", "logits");
  if (targets_in.dtype() != DType::I32)
    throw_type(std::string("crossEntropy: targets must be int32, got ") + dtype_name(targets_in.dtype()));
  if (logits_in.dim() != 2) throw_range("crossEntropy: logits must be 2-D [N, C], got " + shape_str(logits_in.shape()));
  if (targets_in.dim() != 1 || targets_in.size(0) != logits_in.size(0))
    throw_range("crossEntropy: targets must have shape [" + std::to_string(logits_in.size(0)) + "] for logits " +
                shape_str(logits_in.shape()) + ", got " + shape_str(targets_in.shape()));
  if (!(smoothing >= 0 && smoothing <= 1)) throw_range("crossEntropy: labelSmoothing must be in [0, 1]");
  Tensor x = logits_in.contiguous(), t = targets_in.contiguous();
  const int64_t N = x.size(0), C = x.size(1);
  const int32_t* pt = t.data<int32_t>();
  for (int64_t i = 0; i < N; ++i)
    if (pt[i] != ignore_index && (pt[i] < 0 || pt[i] >= C))
      throw_range("crossEntropy: target " + std::to_string(pt[i]) + " at row " + std::to_string(i) +
                  " is out of range for " + std::to_string(C) + " classes");
  double total = 0;
  int64_t count = 0;
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.template data<T>();
    std::vector<double> row_loss(N, 0.0);
    parallel_for(0, N, std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        if (pt[i] == ignore_index) continue;
        const T* r = px + i * C;
        double mx = -INFINITY, s = 0, all = 0;
        for (int64_t j = 0; j < C; ++j) mx = std::max(mx, static_cast<double>(r[j]));
        for (int64_t j = 0; j < C; ++j) {
          s += std::exp(r[j] - mx);
          all += r[j];
        }
        double lse = mx + std::log(s);
        row_loss[i] = (1 - smoothing) * (lse - r[pt[i]]) + smoothing * (lse - all / C);
      }
    });
    for (int64_t i = 0; i < N; ++i)
      if (pt[i] != ignore_index) {
        total += row_loss[i];
        ++count;
      }
    return 0;
  });
  // All targets ignored: the loss is 0 (PyTorch gives NaN, which would stop a training run).
  return Tensor::scalar(count ? total / count : 0.0, x.dtype());
}

Tensor concat(const std::vector<Tensor>& parts, int64_t axis) {
  if (parts.empty()) throw_range("concat: needs at least one tensor");
  const Tensor& first = parts[0];
  if (first.dim() == 0) throw_range("concat: cannot concatenate scalars");
  const int64_t ax = normalize_axis(axis, first.dim(), "concat");
  Shape out_shape = first.shape();
  out_shape[ax] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& p = parts[i];
    if (p.dtype() != first.dtype())
      throw_type("concat: tensor " + std::to_string(i) + " has dtype " + dtype_name(p.dtype()) + ", tensor 0 has " +
                 dtype_name(first.dtype()));
    bool ok = p.dim() == first.dim();
    for (int64_t d = 0; ok && d < first.dim(); ++d) ok = d == ax || p.shape()[d] == first.shape()[d];
    if (!ok)
      throw_range("concat: tensor " + std::to_string(i) + " has shape " + shape_str(p.shape()) +
                  ", incompatible with " + shape_str(first.shape()) + " along axis " + std::to_string(ax));
    out_shape[ax] += p.shape()[ax];
  }
  Tensor out = Tensor::empty(out_shape, first.dtype());
  int64_t outer = 1;
  for (int64_t d = 0; d < ax; ++d) outer *= out_shape[d];
  const size_t es = dtype_size(first.dtype());
  int64_t inner_after = 1;
  for (int64_t d = ax + 1; d < first.dim(); ++d) inner_after *= out_shape[d];
  const size_t out_row = static_cast<size_t>(out_shape[ax] * inner_after) * es;
  size_t col = 0;
  for (const Tensor& p : parts) {
    Tensor c = p.contiguous();
    const size_t row = static_cast<size_t>(p.shape()[ax] * inner_after) * es;
    const char* s = static_cast<const char*>(c.raw());
    char* o = static_cast<char*>(out.raw());
    for (int64_t r = 0; r < outer; ++r) std::copy_n(s + r * row, row, o + r * out_row + col);
    col += row;
  }
  return out;
}

}  // namespace qkv::ops
