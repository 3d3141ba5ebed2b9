// Tiled attention with an online softmax (FlashAttention-2's schedule, on the CPU).
// Forward: for each block of Br queries, stream key blocks of Bc, keeping the running row max m,
// the running sum l and an unnormalised output; out = acc / l, lse = m + log l.
// Backward: per (b, h), for each key block, recompute P = exp(S - lse) for the query blocks that
// see it and accumulate dV += Pᵀ dO, dS = P (dP - D) with D = rowsum(dO * O), dQ += dS K, dK += dSᵀ Q.
#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/gemm.h"
#include "cpu/kernels.h"

namespace qkv::ops {

namespace {

constexpr int64_t kBr = 64;   // queries per block
constexpr int64_t kBc = 128;  // keys per block

template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B, int64_t ldb,
          T beta, T* C, int64_t ldc) {
  if constexpr (sizeof(T) == 4)
    cpu::sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    cpu::dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

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

// The last key (exclusive) that query i of batch b may see, and the first masked-by-padding key.
inline int64_t visible_end(const Dims& d, const AttentionOptions& o, int64_t b, int64_t i) {
  int64_t end = d.S;
  if (!o.key_lengths.empty()) end = std::min<int64_t>(end, o.key_lengths[b]);
  if (o.causal) end = std::min<int64_t>(end, i + (d.S - d.T) + 1);
  return std::max<int64_t>(end, 0);
}

template <class T>
void forward_impl(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o, Tensor& out, Tensor& lse) {
  const Dims d = dims_of(q, k, v);
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
    const T* Kb = K + bh * d.S * d.Dh;
    const T* Vb = V + bh * d.S * d.Dv;
    T* Ob = O + (bh * d.T + i0) * d.Dv;
    std::vector<T> S(kBr * kBc), acc(br * d.Dv, T(0)), m(br, neg_inf), l(br, T(0));
    // Keys this block can see at all.
    int64_t kend = 0;
    for (int64_t i = i0; i < i1; ++i) kend = std::max(kend, visible_end(d, o, b, i));
    for (int64_t j0 = 0; j0 < kend; j0 += kBc) {
      const int64_t bc = std::min(kBc, kend - j0);
      gemm<T>(false, true, br, bc, d.Dh, scale, Qb, d.Dh, Kb + j0 * d.Dh, d.Dh, T(0), S.data(), kBc);
      for (int64_t r = 0; r < br; ++r) {
        T* s = S.data() + r * kBc;
        const int64_t vis = visible_end(d, o, b, i0 + r) - j0;  // keys [j0, j0 + vis) are visible
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
        if (visible_end(d, o, b, i0 + br - 1) <= j0) continue;  // no query here sees this key block
        const T kv_beta = dkv_written ? T(1) : T(0), q_beta = dq_written[i0 / kBr] ? T(1) : T(0);
        dkv_written = true;
        dq_written[i0 / kBr] = 1;
        gemm<T>(false, true, br, bc, d.Dh, scale, Qb + i0 * d.Dh, d.Dh, Kb + j0 * d.Dh, d.Dh, T(0), P.data(), kBc);
        // P = exp(S - lse), masked entries 0; dropout kept separately: P holds the undropped weights.
        for (int64_t r = 0; r < br; ++r) {
          T* p = P.data() + r * kBc;
          const T lrow = Lb[i0 + r];
          const int64_t vis = lrow == neg_inf ? 0 : std::min(bc, visible_end(d, o, b, i0 + r) - j0);
          if (vis > 0) kern.exp_shift_sum(vis, p, lrow, p);
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

void check_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const char* op = "scaledDotProductAttention";
  if (!is_float(q.dtype())) throw_type(std::string(op) + ": q must be float32 or float64, got " + dtype_name(q.dtype()));
  if (k.dtype() != q.dtype() || v.dtype() != q.dtype())
    throw_type(std::string(op) + ": q, k and v must have the same dtype, got " + dtype_name(q.dtype()) + ", " +
               dtype_name(k.dtype()) + ", " + dtype_name(v.dtype()));
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4)
    throw_range(std::string(op) + ": q, k and v must be 4-D [B, H, T, D], got " + shape_str(q.shape()) + ", " +
                shape_str(k.shape()) + ", " + shape_str(v.shape()));
  const auto& a = q.shape();
  const auto& b = k.shape();
  const auto& c = v.shape();
  if (b[0] != a[0] || c[0] != a[0] || b[1] != a[1] || c[1] != a[1] || b[3] != a[3] || c[2] != b[2])
    throw_range(std::string(op) + ": shapes do not fit: q " + shape_str(a) + ", k " + shape_str(b) + ", v " + shape_str(c) +
                " (expected q [B, H, T, Dh], k [B, H, S, Dh], v [B, H, S, Dv])");
  if (!o.key_lengths.empty()) {
    if (static_cast<int64_t>(o.key_lengths.size()) != a[0])
      throw_range(std::string(op) + ": keyLengths must have " + std::to_string(a[0]) + " entries, got " +
                  std::to_string(o.key_lengths.size()));
    for (int32_t len : o.key_lengths)
      if (len < 0 || len > b[2])
        throw_range(std::string(op) + ": keyLengths entry " + std::to_string(len) + " is outside [0, " + std::to_string(b[2]) + "]");
  }
  if (!(o.dropout >= 0 && o.dropout < 1)) throw_range(std::string(op) + ": dropout must be in [0, 1)");
}

AttentionResult attention_forward(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const AttentionOptions& o) {
  check_attention(q_in, k_in, v_in, o);
  Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
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
  check_attention(q_in, k_in, v_in, o);
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
        const int64_t vis = visible_end(d, o, bh / d.H, i);
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < vis; ++j) {
          double s = 0;
          for (int64_t c = 0; c < d.Dh; ++c) s += double(Q[(bh * d.T + i) * d.Dh + c]) * K[(bh * d.S + j) * d.Dh + c];
          w[j] = s * scale;
          mx = std::max(mx, w[j]);
        }
        for (int64_t j = 0; j < vis; ++j) sum += (w[j] = std::exp(w[j] - mx));
        for (int64_t j = 0; j < vis; ++j) {
          double p = w[j] / sum;
          if (o.dropout > 0) p = dropout_uniform(o.seed, bh, i, j) < o.dropout ? 0 : p / (1 - o.dropout);
          for (int64_t c = 0; c < d.Dv; ++c) O[(bh * d.T + i) * d.Dv + c] += static_cast<T>(p * V[(bh * d.S + j) * d.Dv + c]);
        }
      }
    return 0;
  });
  return out;
}

}  // namespace qkv::ops
