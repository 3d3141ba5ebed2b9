// Tiled attention with an online softmax (FlashAttention-2's schedule, on the CPU).
// Forward: for each block of Br queries, stream key blocks of Bc, keeping the running row max m,
// the running sum l and an unnormalised output; out = acc / l, lse = m + log l.
// Backward: per (b, h), for each key block, recompute P = exp(S - lse) for the query blocks that
// see it and accumulate dV += Pᵀ dO, dS = P (dP - D) with D = rowsum(dO * O), dQ += dS K, dK += dSᵀ Q.
#include "backend/backend.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu_gemm.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/kernels.h"
#include "ops/attention.h"

namespace qkv::backend::cpu_impl {

namespace {

constexpr int64_t kBr = 64;   // queries per block
constexpr int64_t kBc = 128;  // keys per block

// Keep-probability hash for dropout: uniform in [0, 1) from (seed, b, h, i, j).
inline double dropout_uniform(uint64_t seed, int64_t bh, int64_t i, int64_t j) {
  uint64_t z = seed ^ (static_cast<uint64_t>(bh) * 0x9e3779b97f4a7c15ULL) ^ (static_cast<uint64_t>(i) << 32) ^
               static_cast<uint64_t>(j) * 0xd1b54a32d192ed03ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (z >> 11) * 0x1.0p-53;
}

struct Dims {
  int64_t B, H, T, S, Dh, Dv;
};

Dims dims_of(const Tensor& q, const Tensor& k, const Tensor& v) {
  return {q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), v.size(3)};
}

// The first key that batch row b may see (left padding hides the keys before it).
inline int64_t visible_begin(const AttentionOptions& o, int64_t b) { return o.key_starts.empty() ? 0 : o.key_starts[b]; }

// The last key (exclusive) that query i of batch row b may see.
inline int64_t visible_end(const Dims& d, const AttentionOptions& o, int64_t b, int64_t i) {
  int64_t end = d.S;
  if (!o.key_lengths.empty()) end = std::min<int64_t>(end, o.key_lengths[b]);
  if (o.causal) end = std::min<int64_t>(end, i + (d.S - d.T) + 1);
  return std::max<int64_t>(end, 0);
}

template <class T>
void forward_impl(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o, Tensor& out, Tensor& lse) {
  const Dims d = dims_of(q, k, v);
  // Keys and values may be head-strided views (see ops/attention.h): (b, h) starts at
  // b * stride(0) + h * stride(1) (a size-1 dim contributes nothing, whatever its stride).
  const auto block_at = [&](const Tensor& x, int64_t b, int64_t h) {
    return (x.size(0) > 1 ? b * x.strides()[0] : 0) + (x.size(1) > 1 ? h * x.strides()[1] : 0);
  };
  const T scale = static_cast<T>(o.scale > 0 ? o.scale : 1.0 / std::sqrt(static_cast<double>(d.Dh)));
  const T keep_scale = static_cast<T>(o.dropout > 0 ? 1.0 / (1.0 - o.dropout) : 1.0);
  const auto& kern = cpu::kernels_of<T>();
  const T* Q = q.data<T>();
  const T* K = k.data<T>();
  const T* V = v.data<T>();
  T* O = out.data<T>();
  T* L = lse.data<T>();
  const int64_t qblocks = (d.T + kBr - 1) / kBr;
  const T neg_inf = -std::numeric_limits<T>::infinity();

  ThreadPool::global().run(d.B * d.H * qblocks, [&](int64_t task) {
    const int64_t bh = task / qblocks, qb = task % qblocks, b = bh / d.H;
    const int64_t i0 = qb * kBr, i1 = std::min(d.T, i0 + kBr), br = i1 - i0;
    const T* Qb = Q + (bh * d.T + i0) * d.Dh;
    const T* Kb = K + block_at(k, b, bh % d.H);
    const T* Vb = V + block_at(v, b, bh % d.H);
    T* Ob = O + (bh * d.T + i0) * d.Dv;
    std::vector<T> S(kBr * kBc), acc(br * d.Dv, T(0)), m(br, neg_inf), l(br, T(0));
    // Keys this block can see at all.
    int64_t kend = 0;
    for (int64_t i = i0; i < i1; ++i) kend = std::max(kend, visible_end(d, o, b, i));
    const int64_t kbegin = visible_begin(o, b);
    for (int64_t j0 = kbegin / kBc * kBc; j0 < kend; j0 += kBc) {
      const int64_t bc = std::min(kBc, kend - j0);
      gemm<T>(false, true, br, bc, d.Dh, scale, Qb, d.Dh, Kb + j0 * d.Dh, d.Dh, T(0), S.data(), kBc);
      for (int64_t r = 0; r < br; ++r) {
        T* s = S.data() + r * kBc;
        const int64_t vis = visible_end(d, o, b, i0 + r) - j0;  // keys [j0 + first, j0 + vis) are visible
        const int64_t first = std::min(std::max<int64_t>(kbegin - j0, 0), bc);
        for (int64_t c = 0; c < first; ++c) s[c] = neg_inf;
        for (int64_t c = std::max<int64_t>(vis, 0); c < bc; ++c) s[c] = neg_inf;
        const T mrow = kern.row_max(bc, s);
        const T mnew = std::max(m[r], mrow);
        if (mnew == neg_inf) {  // nothing visible yet in this row
          for (int64_t c = 0; c < bc; ++c) s[c] = 0;
          continue;
        }
        const T alpha = m[r] == neg_inf ? T(0) : std::exp(m[r] - mnew);
        l[r] = l[r] * alpha + kern.exp_shift_sum(bc, s, mnew, s);
        m[r] = mnew;
        T* a = acc.data() + r * d.Dv;
        for (int64_t c = 0; c < d.Dv; ++c) a[c] *= alpha;
        if (o.dropout > 0)
          for (int64_t c = 0; c < bc; ++c)
            if (dropout_uniform(o.seed, bh, i0 + r, j0 + c) < o.dropout) s[c] = 0;
      }
      gemm<T>(false, false, br, d.Dv, bc, T(1), S.data(), kBc, Vb + j0 * d.Dv, d.Dv, T(1), acc.data(), d.Dv);
    }
    for (int64_t r = 0; r < br; ++r) {
      T* orow = Ob + r * d.Dv;
      if (l[r] == T(0)) {  // a fully masked row: zeros, not NaN
        for (int64_t c = 0; c < d.Dv; ++c) orow[c] = 0;
        L[bh * d.T + i0 + r] = neg_inf;
        continue;
      }
      const T inv = keep_scale / l[r];
      for (int64_t c = 0; c < d.Dv; ++c) orow[c] = acc[r * d.Dv + c] * inv;
      L[bh * d.T + i0 + r] = m[r] + std::log(l[r]);
    }
  });
}

template <class T>
void backward_impl(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                   const Tensor& dout, const AttentionOptions& o, Tensor& dq, Tensor& dk, Tensor& dv) {
  const Dims d = dims_of(q, k, v);
  const T scale = static_cast<T>(o.scale > 0 ? o.scale : 1.0 / std::sqrt(static_cast<double>(d.Dh)));
  const T keep_scale = static_cast<T>(o.dropout > 0 ? 1.0 / (1.0 - o.dropout) : 1.0);
  const T *Q = q.data<T>(), *K = k.data<T>(), *V = v.data<T>(), *O = out.data<T>(), *L = lse.data<T>(), *dO = dout.data<T>();
  T *dQ = dq.data<T>(), *dK = dk.data<T>(), *dV = dv.data<T>();
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const auto& kern = cpu::kernels_of<T>();

  ThreadPool::global().run(d.B * d.H, [&](int64_t bh) {
    const int64_t b = bh / d.H;
    const T *Qb = Q + bh * d.T * d.Dh, *Kb = K + bh * d.S * d.Dh, *Vb = V + bh * d.S * d.Dv;
    const T *Ob = O + bh * d.T * d.Dv, *dOb = dO + bh * d.T * d.Dv, *Lb = L + bh * d.T;
    T *dQb = dQ + bh * d.T * d.Dh, *dKb = dK + bh * d.S * d.Dh, *dVb = dV + bh * d.S * d.Dv;
    // Each block of dQ, dK and dV is written (beta 0) by its first contribution and accumulated
    // into after that; blocks that get none are zeroed at the end. (No up-front fill of the whole.)
    std::vector<char> dq_written(static_cast<size_t>((d.T + kBr - 1) / kBr), 0);
    std::vector<T> D(d.T), P(kBr * kBc), dP(kBr * kBc);
    for (int64_t i = 0; i < d.T; ++i) {
      T s = 0;
      for (int64_t c = 0; c < d.Dv; ++c) s += dOb[i * d.Dv + c] * Ob[i * d.Dv + c];
      D[i] = s;
    }
    for (int64_t j0 = 0; j0 < d.S; j0 += kBc) {
      const int64_t bc = std::min(kBc, d.S - j0);
      bool dkv_written = false;
      for (int64_t i0 = 0; i0 < d.T; i0 += kBr) {
        const int64_t br = std::min(kBr, d.T - i0);
        if (visible_end(d, o, b, i0 + br - 1) <= j0 || visible_begin(o, b) >= j0 + bc) continue;  // no query here sees this key block
        const T kv_beta = dkv_written ? T(1) : T(0), q_beta = dq_written[i0 / kBr] ? T(1) : T(0);
        dkv_written = true;
        dq_written[i0 / kBr] = 1;
        gemm<T>(false, true, br, bc, d.Dh, scale, Qb + i0 * d.Dh, d.Dh, Kb + j0 * d.Dh, d.Dh, T(0), P.data(), kBc);
        // P = exp(S - lse), masked entries 0; dropout kept separately: P holds the undropped weights.
        for (int64_t r = 0; r < br; ++r) {
          T* p = P.data() + r * kBc;
          const T lrow = Lb[i0 + r];
          const int64_t vis = lrow == neg_inf ? 0 : std::min(bc, visible_end(d, o, b, i0 + r) - j0);
          const int64_t first = std::min(std::max<int64_t>(visible_begin(o, b) - j0, 0), std::max<int64_t>(vis, 0));
          if (vis > first) kern.exp_shift_sum(vis - first, p + first, lrow, p + first);
          for (int64_t c = 0; c < first; ++c) p[c] = T(0);
          for (int64_t c = std::max<int64_t>(vis, 0); c < bc; ++c) p[c] = T(0);
        }
        // dP = dO Vᵀ (w.r.t. the dropped weights), then through dropout
        gemm<T>(false, true, br, bc, d.Dv, T(1), dOb + i0 * d.Dv, d.Dv, Vb + j0 * d.Dv, d.Dv, T(0), dP.data(), kBc);
        if (o.dropout > 0) {
          // dV uses the dropped weights Pd = P * keep / (1 - p): build them in dP's place after use.
          for (int64_t r = 0; r < br; ++r)
            for (int64_t c = 0; c < bc; ++c) {
              const bool keep = dropout_uniform(o.seed, bh, i0 + r, j0 + c) >= o.dropout;
              dP[r * kBc + c] = keep ? dP[r * kBc + c] * keep_scale : T(0);
            }
          std::vector<T> Pd(br * kBc);
          for (int64_t r = 0; r < br; ++r)
            for (int64_t c = 0; c < bc; ++c)
              Pd[r * kBc + c] = dropout_uniform(o.seed, bh, i0 + r, j0 + c) >= o.dropout ? P[r * kBc + c] * keep_scale : T(0);
          gemm<T>(true, false, bc, d.Dv, br, T(1), Pd.data(), kBc, dOb + i0 * d.Dv, d.Dv, kv_beta, dVb + j0 * d.Dv, d.Dv);
        } else {
          gemm<T>(true, false, bc, d.Dv, br, T(1), P.data(), kBc, dOb + i0 * d.Dv, d.Dv, kv_beta, dVb + j0 * d.Dv, d.Dv);
        }
        // dS = P (dP - D), into P's place
        for (int64_t r = 0; r < br; ++r) {
          T* p = P.data() + r * kBc;
          const T* g = dP.data() + r * kBc;
          const T dr = D[i0 + r];
          for (int64_t c = 0; c < bc; ++c) p[c] = p[c] * (g[c] - dr);
        }
        gemm<T>(false, false, br, d.Dh, bc, scale, P.data(), kBc, Kb + j0 * d.Dh, d.Dh, q_beta, dQb + i0 * d.Dh, d.Dh);
        gemm<T>(true, false, bc, d.Dh, br, scale, P.data(), kBc, Qb + i0 * d.Dh, d.Dh, kv_beta, dKb + j0 * d.Dh, d.Dh);
      }
      if (!dkv_written) {  // keys no query sees (padding, or past every query's causal limit)
        std::fill(dKb + j0 * d.Dh, dKb + (j0 + bc) * d.Dh, T(0));
        std::fill(dVb + j0 * d.Dv, dVb + (j0 + bc) * d.Dv, T(0));
      }
    }
    for (int64_t i0 = 0; i0 < d.T; i0 += kBr)
      if (!dq_written[i0 / kBr]) std::fill(dQb + i0 * d.Dh, dQb + std::min(d.T, i0 + kBr) * d.Dh, T(0));
  });
}

}  // namespace

AttentionResult attention_forward(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const AttentionOptions& o) {
  Tensor q = q_in.contiguous(), k = ops::head_strided(k_in) ? k_in : k_in.contiguous(), v = ops::head_strided(v_in) ? v_in : v_in.contiguous();
  const Dims d = dims_of(q, k, v);
  AttentionResult r{Tensor::empty({d.B, d.H, d.T, d.Dv}, q.dtype()), Tensor::empty({d.B, d.H, d.T}, q.dtype())};
  if (r.out.numel() == 0) return r;
  dispatch_float(q.dtype(), [&](auto z) {
    forward_impl<decltype(z)>(q, k, v, o, r.out, r.lse);
    return 0;
  });
  return r;
}

void attention_backward(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& out, const Tensor& lse,
                        const Tensor& dout_in, const AttentionOptions& o, Tensor* dq, Tensor* dk, Tensor* dv) {
  Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous(), dout = dout_in.contiguous();
  *dq = Tensor::empty(q.shape(), q.dtype());
  *dk = Tensor::empty(k.shape(), k.dtype());
  *dv = Tensor::empty(v.shape(), v.dtype());
  dispatch_float(q.dtype(), [&](auto z) {
    backward_impl<decltype(z)>(q, k, v, out, lse, dout, o, *dq, *dk, *dv);
    return 0;
  });
}

Tensor attention_reference(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const AttentionOptions& o) {
  Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const Dims d = dims_of(q, k, v);
  Tensor out = Tensor::zeros({d.B, d.H, d.T, d.Dv}, q.dtype());
  const double scale = o.scale > 0 ? o.scale : 1.0 / std::sqrt(static_cast<double>(d.Dh));
  dispatch_float(q.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *Q = q.template data<T>(), *K = k.template data<T>(), *V = v.template data<T>();
    T* O = out.template data<T>();
    std::vector<double> w(d.S);
    for (int64_t bh = 0; bh < d.B * d.H; ++bh)
      for (int64_t i = 0; i < d.T; ++i) {
        const int64_t vis = visible_end(d, o, bh / d.H, i), first = std::min(visible_begin(o, bh / d.H), vis);
        double mx = -INFINITY, sum = 0;
        for (int64_t j = first; j < vis; ++j) {
          double s = 0;
          for (int64_t c = 0; c < d.Dh; ++c) s += double(Q[(bh * d.T + i) * d.Dh + c]) * K[(bh * d.S + j) * d.Dh + c];
          w[j] = s * scale;
          mx = std::max(mx, w[j]);
        }
        for (int64_t j = first; j < vis; ++j) sum += (w[j] = std::exp(w[j] - mx));
        for (int64_t j = first; j < vis; ++j) {
          double p = w[j] / sum;
          if (o.dropout > 0) p = dropout_uniform(o.seed, bh, i, j) < o.dropout ? 0 : p / (1 - o.dropout);
          for (int64_t c = 0; c < d.Dv; ++c) O[(bh * d.T + i) * d.Dv + c] += static_cast<T>(p * V[(bh * d.S + j) * d.Dv + c]);
        }
      }
    return 0;
  });
  return out;
}

// The explicit masks of attention weights: bias [B, 1, T, S] 0 where visible and -1e30 elsewhere
// (a large negative number rather than -inf, so that a fully masked row stays finite), and rows
// [B, 1, T, 1] 1 for rows that see some key, 0 for rows that see none.
void attention_bias(const AttentionOptions& o, int64_t B, int64_t T, int64_t S, Tensor* bias, Tensor* rows) {
  const Dims d{B, 1, T, S, 0, 0};
  dispatch_float(bias->dtype(), [&](auto z) {
    using F = decltype(z);
    F* pa = bias->template data<F>();
    F* pr = rows->template data<F>();
    const F neg = static_cast<F>(-1e30);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t first = visible_begin(o, b);
      for (int64_t i = 0; i < T; ++i) {
        const int64_t last = visible_end(d, o, b, i);  // keys [first, last) visible
        for (int64_t j = 0; j < S; ++j) pa[(b * T + i) * S + j] = j >= first && j < last ? F(0) : neg;
        pr[b * T + i] = last > first ? F(1) : F(0);
      }
    }
    return 0;
  });
}

Tensor sequence_mask(int64_t L, const std::vector<int32_t>& starts, const std::vector<int32_t>& ends, const std::vector<double>& value,
                     DType dtype) {
  const int64_t B = static_cast<int64_t>(ends.size());
  Tensor out = Tensor::zeros({B, L}, dtype);
  dispatch_float(dtype, [&](auto z) {
    using F = decltype(z);
    F* p = out.template data<F>();
    for (int64_t b = 0; b < B; ++b) {
      const int64_t lo = starts.empty() ? 0 : starts[b], hi = std::min<int64_t>(ends[b], L);
      for (int64_t i = lo; i < hi; ++i) p[b * L + i] = static_cast<F>(value[b]);
    }
    return 0;
  });
  return out;
}

}  // namespace qkv::backend::cpu_impl
