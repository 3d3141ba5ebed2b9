// The CPU's fused entries and their backward pairs (checked by ops/fused.cpp before they get here).
// Shapes: softmax/logSoftmax over the last axis of [..., C]; layer norm over the last axis with
// gamma, beta [C]; embedding weight [V, D] gathered by int32 ids [...]; cross-entropy logits [N, C]
// with int32 targets [N]. Reference: naive float64 loops in test/ops.test.ts.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/backend.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace qkv::backend::cpu_impl {

Tensor softmax(const Tensor& a, bool log) {
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

Tensor layer_norm(const Tensor& x_in, const Tensor& gamma, const Tensor& beta, double eps, Tensor* mean_out, Tensor* rstd_out) {
  const int64_t C = x_in.size(-1);
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

// Shapes: x [..., C] viewed as [R, C]; gamma [C]; mean, rstd [R]. Reference: llm.c's
// layernorm_backward; checked by finite differences in test/autograd.test.ts.
void layer_norm_backward(const Tensor& x_in, const Tensor& g_in, const Tensor& gamma_in, const Tensor& mean, const Tensor& rstd,
                         Tensor* dx, Tensor* dgamma, Tensor* dbeta) {
  const Tensor x = x_in.contiguous(), g = g_in.contiguous(), gamma = gamma_in.defined() ? gamma_in.contiguous() : Tensor();
  const int64_t C = x.size(-1), R = C ? x.numel() / C : 0;
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *px = x.template data<T>(), *pg = g.template data<T>(), *pm = mean.template data<T>(), *pr = rstd.template data<T>();
    const T* pgam = gamma.defined() ? gamma.template data<T>() : nullptr;
    const auto& k = cpu::kernels_of<T>();
    if (dx) {
      // dx rows are independent.
      *dx = Tensor::empty(x.shape(), x.dtype());
      T* pdx = dx->template data<T>();
      parallel_for(0, R, std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1)), [&](int64_t lo, int64_t hi) {
        k.layernorm_backward_rows(hi - lo, C, px + lo * C, pg + lo * C, pgam, pm + lo, pr + lo, pdx + lo * C);
      });
    }
    if (dgamma || dbeta) {
      // Column sums, split by columns so that each sum keeps its row order: blocks of 256 rows
      // summed in T (vector speed), the blocks added in double (bounded rounding error).
      Tensor dg = Tensor::empty({C}, x.dtype()), db = Tensor::empty({C}, x.dtype());
      T *pdg = dg.template data<T>(), *pdb = db.template data<T>();
      parallel_for(0, C, std::max<int64_t>(32, C / 8), [&](int64_t lo, int64_t hi) {
        const int64_t w = hi - lo;
        std::vector<T> part(2 * w);
        std::vector<double> acc(2 * w, 0.0);
        for (int64_t r0 = 0; r0 < R; r0 += 256) {
          std::fill(part.begin(), part.end(), T(0));
          k.layernorm_param_grads(std::min<int64_t>(256, R - r0), w, C, px + r0 * C + lo, pg + r0 * C + lo, pm + r0, pr + r0,
                                  part.data(), part.data() + w);
          for (int64_t j = 0; j < 2 * w; ++j) acc[j] += part[j];
        }
        for (int64_t j = 0; j < w; ++j) {
          pdg[lo + j] = static_cast<T>(acc[j]);
          pdb[lo + j] = static_cast<T>(acc[w + j]);
        }
      });
      if (dgamma) *dgamma = dg;
      if (dbeta) *dbeta = db;
    }
    return 0;
  });
}

Tensor embedding(const Tensor& weight_in, const Tensor& ids_in) {
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

// Dense [V, D] with only the rows that were used written; serial, since ids may repeat.
Tensor embedding_backward(const Tensor& ids_in, const Tensor& g_in, int64_t V) {
  const Tensor ids = ids_in.contiguous(), g = g_in.contiguous();
  const int64_t D = g.size(-1), n = ids.numel();
  Tensor dw = Tensor::zeros({V, D}, g.dtype());
  const int32_t* pi = ids.data<int32_t>();
  dispatch_float(g.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* pg = g.template data<T>();
    T* pw = dw.template data<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < D; ++j) pw[pi[i] * D + j] += pg[i * D + j];
    return 0;
  });
  return dw;
}

namespace {

void check_targets(const int32_t* pt, int64_t N, int64_t C, int64_t ignore_index) {
  for (int64_t i = 0; i < N; ++i)
    if (pt[i] != ignore_index && (pt[i] < 0 || pt[i] >= C))
      throw_range("crossEntropy: target " + std::to_string(pt[i]) + " at row " + std::to_string(i) + " is out of range for " +
                  std::to_string(C) + " classes");
}

}  // namespace

Tensor cross_entropy(const Tensor& logits_in, const Tensor& targets_in, int64_t ignore_index, double smoothing) {
  Tensor x = logits_in.contiguous(), t = targets_in.contiguous();
  const int64_t N = x.size(0), C = x.size(1);
  const int32_t* pt = t.data<int32_t>();
  check_targets(pt, N, C, ignore_index);
  double total = 0;
  int64_t count = 0;
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.template data<T>();
    const auto& k = cpu::kernels_of<T>();
    std::vector<double> row_loss(N, 0.0);
    parallel_for(0, N, std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)), [&](int64_t lo, int64_t hi) {
      std::vector<T> scratch(static_cast<size_t>(C));  // the SIMD exp writes its terms here
      for (int64_t i = lo; i < hi; ++i) {
        if (pt[i] == ignore_index) continue;
        const T* r = px + i * C;
        const T mx = k.row_max(C, r);
        const double lse = static_cast<double>(mx) + std::log(static_cast<double>(k.exp_shift_sum(C, r, mx, scratch.data())));
        double all = 0;
        if (smoothing > 0)
          for (int64_t j = 0; j < C; ++j) all += r[j];
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

// dlogits = (softmax - target distribution) * g / count, zero on ignored rows.
Tensor cross_entropy_backward(const Tensor& logits_in, const Tensor& targets_in, int64_t ignore_index, double smoothing,
                              const Tensor& g) {
  const Tensor x = logits_in.contiguous(), t = targets_in.contiguous();
  const int64_t N = x.size(0), C = x.size(1);
  const int32_t* pt = t.data<int32_t>();
  int64_t count = 0;
  for (int64_t i = 0; i < N; ++i) count += pt[i] != ignore_index;
  const double scale = count ? g.item() / static_cast<double>(count) : 0.0;
  Tensor p = softmax(x, false);
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    T* pp = p.template data<T>();
    parallel_for(0, N, std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        T* row = pp + i * C;
        if (pt[i] == ignore_index) {
          for (int64_t j = 0; j < C; ++j) row[j] = 0;
          continue;
        }
        for (int64_t j = 0; j < C; ++j) row[j] = static_cast<T>((row[j] - smoothing / C) * scale);
        row[pt[i]] -= static_cast<T>((1 - smoothing) * scale);
      }
    });
    return 0;
  });
  return p;
}

}  // namespace qkv::backend::cpu_impl
