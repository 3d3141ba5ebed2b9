// The fused contrastive losses of a dual encoder, tiled so that the N x N logits are never stored.
// Rows of image and text are L2-normalised into Â, T̂ (O(N·D) scratch), then the logits
// S = exp(t) Â T̂ᵀ (+ b for SigLIP) are produced one kBr x kBc tile at a time by the GEMM.
//   CLIP forward:  online log-sum-exp over each row and each column (FlashAttention's running max
//                  and sum); L = (Σ lse_row + Σ lse_col - 2 Σ S_ii) / 2N.
//   CLIP backward: recompute each tile, G = g/2N (exp(S - lse_row) + exp(S - lse_col) - 2I).
//   SigLIP:        L = Σ softplus(-z_ij S_ij) / N, z = +1 on the diagonal and -1 elsewhere;
//                  G = g/N (σ(S) - I).
// Then dÂ = s G T̂, dT̂ = s Gᵀ Â, dt = Σ G∘(S - b) = Σ_i â_i·dÂ_i, db = Σ G, and the
// normalisation's backward. Rows are split into `chunks` tasks of whole row blocks; each task owns
// its rows and keeps its own column statistics (or partial dT̂), merged in chunk order afterwards,
// so the scratch is O(chunks · N · D) with chunks <= 2 · threads.
#include "backend/backend.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "backend/cpu_gemm.h"
#include "core/thread_pool.h"
#include "cpu/kernels.h"

namespace qkv::backend::cpu_impl {

namespace {

// Tiles this large keep the GEMM's packing of its B operand, redone on every call, near 5% of the
// time (at 128 x 256 it took 13%); 576 = 48 x 12 = 18 x 32 fits the AVX-512 micro-tiles both ways.
constexpr int64_t kBr = 576;  // rows (images) per tile
constexpr int64_t kBc = 576;  // columns (texts) per tile
constexpr double kNormEps = 1e-12;  // as torch.nn.functional.normalize: x / max(|x|, eps)

// Rows of x [N, D] divided by their norms (clamped at kNormEps); the norms kept for the backward.
template <class T>
struct Unit {
  std::vector<T> x, norm;
};

template <class T>
Unit<T> normalise(const T* x, int64_t N, int64_t D) {
  Unit<T> u{std::vector<T>(N * D), std::vector<T>(N)};
  parallel_for(0, N, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      double ss = 0;
      for (int64_t c = 0; c < D; ++c) ss += double(x[i * D + c]) * x[i * D + c];
      const double n = std::max(std::sqrt(ss), kNormEps);
      u.norm[i] = static_cast<T>(n);
      for (int64_t c = 0; c < D; ++c) u.x[i * D + c] = static_cast<T>(x[i * D + c] / n);
    }
  });
  return u;
}

// dx from dx̂ for x̂ = x / max(|x|, eps): (dx̂ - x̂ (x̂·dx̂)) / |x|, or dx̂ / eps where clamped.
template <class T>
void normalise_backward(const Unit<T>& u, const T* dunit, int64_t N, int64_t D, T* dx) {
  parallel_for(0, N, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T* xh = u.x.data() + i * D;
      const T* g = dunit + i * D;
      const double n = u.norm[i];
      double dot = 0;
      if (n > kNormEps)
        for (int64_t c = 0; c < D; ++c) dot += double(xh[c]) * g[c];
      for (int64_t c = 0; c < D; ++c) dx[i * D + c] = static_cast<T>((g[c] - xh[c] * dot) / n);
    }
  });
}

// How the rows are split among tasks: whole row blocks, at most kChunksPerThread chunks per thread
// (more than one, so that the pool can even out a core that is busy with something else).
constexpr int64_t kChunksPerThread = 2;

struct Split {
  int64_t chunks, rows_per_chunk;
};

Split split_rows(int64_t N) {
  const int64_t blocks = (N + kBr - 1) / kBr, most = kChunksPerThread * ThreadPool::global().threads();
  const int64_t per = (blocks + most - 1) / most;
  return {(blocks + per - 1) / per, per * kBr};
}

// Runs tile(chunk, i0, br, j0, bc, S) for every tile of the logits S = scale Â T̂ᵀ + shift, with
// S [br, bc] at row stride kBc. A chunk visits its row blocks in order, each across all columns.
template <class T, class Tile>
void for_each_tile(const Split& sp, int64_t N, int64_t D, const T* A, const T* B, T scale, T shift, Tile&& tile) {
  ThreadPool::global().run(sp.chunks, [&](int64_t k) {
    std::vector<T> S(kBr * kBc);
    const int64_t end = std::min(N, (k + 1) * sp.rows_per_chunk);
    for (int64_t i0 = k * sp.rows_per_chunk; i0 < end; i0 += kBr) {
      const int64_t br = std::min(kBr, N - i0);
      for (int64_t j0 = 0; j0 < N; j0 += kBc) {
        const int64_t bc = std::min(kBc, N - j0);
        gemm<T>(false, true, br, bc, D, scale, A + i0 * D, D, B + j0 * D, D, T(0), S.data(), kBc);
        if (shift != T(0))
          for (int64_t r = 0; r < br; ++r)
            for (int64_t c = 0; c < bc; ++c) S[r * kBc + c] += shift;
        tile(k, i0, br, j0, bc, S.data());
      }
    }
  });
}

// softplus(x) = log(1 + e^x) for x [n], into out (which may alias x): max(x, 0) + log1p(e^-|x|),
// with log1p(u) = log(1 + u) · u / ((1 + u) - 1), exact to rounding where 1 + u rounds.
template <class T>
void softplus(int64_t n, const T* x, T* u, T* w, T* out) {
  const auto& kern = cpu::kernels_of<T>();
  for (int64_t c = 0; c < n; ++c) u[c] = -std::abs(x[c]);
  kern.exp_shift_sum(n, u, T(0), u);
  for (int64_t c = 0; c < n; ++c) w[c] = T(1) + u[c];
  kern.unary(cpu::UnaryOp::Log, n, w, w);
  for (int64_t c = 0; c < n; ++c) {
    const T onep = T(1) + u[c];
    out[c] = std::max(x[c], T(0)) + (onep == T(1) ? u[c] : w[c] * u[c] / (onep - T(1)));
  }
}

template <class T>
InfoNCEResult clip_forward(const T* img, const T* txt, int64_t N, int64_t D, double t, DType dt) {
  const Unit<T> A = normalise(img, N, D), B = normalise(txt, N, D);
  const T scale = static_cast<T>(std::exp(t));
  const Split sp = split_rows(N);
  const auto& kern = cpu::kernels_of<T>();
  const T neg_inf = -std::numeric_limits<T>::infinity();
  // Running (max, sum) of each row (rows are owned by one chunk) and, per chunk, of each column.
  std::vector<T> rm(N, neg_inf), rl(N, T(0)), cm(sp.chunks * N, neg_inf), cl(sp.chunks * N, T(0));
  for_each_tile<T>(sp, N, D, A.x.data(), B.x.data(), scale, T(0), [&](int64_t k, int64_t i0, int64_t br, int64_t j0, int64_t bc, T* S) {
    T* m = cm.data() + k * N + j0;
    T* l = cl.data() + k * N + j0;
    T tmax[kBc], e[kBc];
    std::fill(tmax, tmax + bc, neg_inf);
    for (int64_t r = 0; r < br; ++r)
      for (int64_t c = 0; c < bc; ++c) tmax[c] = std::max(tmax[c], S[r * kBc + c]);
    for (int64_t c = 0; c < bc; ++c) {
      const T mnew = std::max(m[c], tmax[c]);
      l[c] *= std::exp(m[c] - mnew);  // 0 * exp(-inf) on the first visit
      m[c] = mnew;
    }
    for (int64_t r = 0; r < br; ++r) {
      const T* s = S + r * kBc;
      kern.binary(cpu::BinaryOp::Sub, bc, s, 1, m, 1, e);
      kern.unary(cpu::UnaryOp::Exp, bc, e, e);
      kern.binary(cpu::BinaryOp::Add, bc, l, 1, e, 1, l);
      const int64_t i = i0 + r;
      const T mnew = std::max(rm[i], kern.row_max(bc, s));
      rl[i] = rl[i] * std::exp(rm[i] - mnew) + kern.exp_shift_sum(bc, s, mnew, e);
      rm[i] = mnew;
    }
  });
  InfoNCEResult res{Tensor::empty({}, dt), Tensor::empty({2, N}, dt)};
  T* lse = res.lse.data<T>();
  parallel_for(0, N, 256, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      lse[i] = rm[i] + std::log(rl[i]);
      T M = neg_inf;
      for (int64_t k = 0; k < sp.chunks; ++k) M = std::max(M, cm[k * N + i]);
      T sum = 0;
      for (int64_t k = 0; k < sp.chunks; ++k) sum += cl[k * N + i] * std::exp(cm[k * N + i] - M);
      lse[N + i] = M + std::log(sum);
    }
  });
  double total = 0;
  for (int64_t i = 0; i < N; ++i) {
    double diag = 0;
    for (int64_t c = 0; c < D; ++c) diag += double(A.x[i * D + c]) * B.x[i * D + c];
    total += double(lse[i]) + double(lse[N + i]) - 2 * double(scale) * diag;
  }
  res.loss.data<T>()[0] = static_cast<T>(total / (2.0 * N));
  return res;
}

template <class T>
Tensor siglip_forward(const T* img, const T* txt, int64_t N, int64_t D, double t, double b, DType dt) {
  const Unit<T> A = normalise(img, N, D), B = normalise(txt, N, D);
  const Split sp = split_rows(N);
  const auto& kern = cpu::kernels_of<T>();
  std::vector<double> part(sp.chunks, 0.0);
  for_each_tile<T>(sp, N, D, A.x.data(), B.x.data(), static_cast<T>(std::exp(t)), static_cast<T>(b),
                   [&](int64_t k, int64_t i0, int64_t br, int64_t j0, int64_t bc, T* S) {
                     T u[kBc], w[kBc], sum;
                     for (int64_t r = 0; r < br; ++r) {
                       T* s = S + r * kBc;
                       const int64_t c = i0 + r - j0;  // the diagonal's column in this tile, if any
                       const T diag = c >= 0 && c < bc ? s[c] : T(0);
                       softplus(bc, s, u, w, s);
                       kern.sum_rows(1, bc, s, &sum);
                       part[k] += double(sum) - double(diag);  // softplus(-x) = softplus(x) - x
                     }
                   });
  double total = 0;
  for (double p : part) total += p;
  Tensor loss = Tensor::empty({}, dt);
  loss.data<T>()[0] = static_cast<T>(total / N);
  return loss;
}

// The gradients common to both losses once the tiles' G are summed: from dÂ (of the chunk that
// owns each row) and the chunks' partial dT̂ to dt and the inputs' gradients.
template <class T>
InfoNCEGrads finish_grads(const Unit<T>& A, const Unit<T>& B, int64_t N, int64_t D, std::vector<T>& dA, std::vector<T>& dB, int64_t chunks,
                          DType dt) {
  parallel_for(0, N * D, 4096, [&](int64_t lo, int64_t hi) {
    for (int64_t k = 1; k < chunks; ++k)
      for (int64_t x = lo; x < hi; ++x) dB[x] += dB[k * N * D + x];
  });
  double dlog = 0;
  for (int64_t x = 0; x < N * D; ++x) dlog += double(A.x[x]) * dA[x];
  InfoNCEGrads g{Tensor::empty({N, D}, dt), Tensor::empty({N, D}, dt), Tensor::scalar(dlog, dt), Tensor()};
  normalise_backward(A, dA.data(), N, D, g.image.data<T>());
  normalise_backward(B, dB.data(), N, D, g.text.data<T>());
  return g;
}

// Runs the backward tiles: make_g(k, i0, br, j0, bc, S) turns a tile of logits into G in place,
// then dÂ and the chunk's dT̂ take G's products.
template <class T, class MakeG>
InfoNCEGrads contrastive_backward(const T* img, const T* txt, int64_t N, int64_t D, double t, double b, DType dt, MakeG&& make_g) {
  const Unit<T> A = normalise(img, N, D), B = normalise(txt, N, D);
  const T scale = static_cast<T>(std::exp(t));
  const Split sp = split_rows(N);
  std::vector<T> dA(N * D), dB(sp.chunks * N * D, T(0));
  for_each_tile<T>(sp, N, D, A.x.data(), B.x.data(), scale, static_cast<T>(b), [&](int64_t k, int64_t i0, int64_t br, int64_t j0, int64_t bc, T* S) {
    make_g(k, i0, br, j0, bc, S);
    gemm<T>(false, false, br, D, bc, scale, S, kBc, B.x.data() + j0 * D, D, j0 == 0 ? T(0) : T(1), dA.data() + i0 * D, D);
    gemm<T>(true, false, bc, D, br, scale, S, kBc, A.x.data() + i0 * D, D, T(1), dB.data() + (k * N + j0) * D, D);
  });
  return finish_grads(A, B, N, D, dA, dB, sp.chunks, dt);
}

template <class T>
InfoNCEGrads clip_backward(const T* img, const T* txt, int64_t N, int64_t D, double t, const T* lse, double g, DType dt) {
  const auto& kern = cpu::kernels_of<T>();
  const T coef = static_cast<T>(g / (2.0 * N));
  return contrastive_backward<T>(img, txt, N, D, t, 0.0, dt, [&](int64_t, int64_t i0, int64_t br, int64_t j0, int64_t bc, T* S) {
    T pr[kBc];
    for (int64_t r = 0; r < br; ++r) {
      T* s = S + r * kBc;
      kern.exp_shift_sum(bc, s, lse[i0 + r], pr);
      kern.binary(cpu::BinaryOp::Sub, bc, s, 1, lse + N + j0, 1, s);
      kern.unary(cpu::UnaryOp::Exp, bc, s, s);
      for (int64_t c = 0; c < bc; ++c) s[c] = coef * (pr[c] + s[c]);
      const int64_t c = i0 + r - j0;
      if (c >= 0 && c < bc) s[c] -= 2 * coef;
    }
  });
}

template <class T>
InfoNCEGrads siglip_backward(const T* img, const T* txt, int64_t N, int64_t D, double t, double b, double g, DType dt) {
  const auto& kern = cpu::kernels_of<T>();
  const T coef = static_cast<T>(g / N);
  const Split sp = split_rows(N);
  std::vector<double> gsum(sp.chunks, 0.0);
  InfoNCEGrads out = contrastive_backward<T>(img, txt, N, D, t, b, dt, [&](int64_t k, int64_t i0, int64_t br, int64_t j0, int64_t bc, T* S) {
    for (int64_t r = 0; r < br; ++r) {
      T* s = S + r * kBc;
      kern.unary(cpu::UnaryOp::Sigmoid, bc, s, s);
      T sum;
      kern.sum_rows(1, bc, s, &sum);
      gsum[k] += double(sum);
      for (int64_t c = 0; c < bc; ++c) s[c] *= coef;
      const int64_t c = i0 + r - j0;
      if (c >= 0 && c < bc) s[c] -= coef;
    }
  });
  double total = 0;
  for (double v : gsum) total += v;
  out.bias = Tensor::scalar(double(coef) * (total - double(N)), dt);
  return out;
}

}  // namespace

InfoNCEResult info_nce_forward(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss) {
  const int64_t N = image.size(0), D = image.size(1);
  const double t = log_scale.item(), b = bias.defined() ? bias.item() : 0.0;
  return dispatch_float(image.dtype(), [&](auto z) {
    using T = decltype(z);
    if (loss == ContrastiveLoss::Siglip) return InfoNCEResult{siglip_forward<T>(image.data<T>(), text.data<T>(), N, D, t, b, image.dtype()), Tensor()};
    return clip_forward<T>(image.data<T>(), text.data<T>(), N, D, t, image.dtype());
  });
}

InfoNCEGrads info_nce_backward(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss,
                               const Tensor& lse, const Tensor& g) {
  const int64_t N = image.size(0), D = image.size(1);
  const double t = log_scale.item(), b = bias.defined() ? bias.item() : 0.0, gv = g.item();
  return dispatch_float(image.dtype(), [&](auto z) {
    using T = decltype(z);
    if (loss == ContrastiveLoss::Siglip) return siglip_backward<T>(image.data<T>(), text.data<T>(), N, D, t, b, gv, image.dtype());
    return clip_backward<T>(image.data<T>(), text.data<T>(), N, D, t, lse.data<T>(), gv, image.dtype());
  });
}

// The readable reference: everything in double, the N x N logits and their gradient held whole.
Tensor info_nce_reference(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss,
                          InfoNCEGrads* grads) {
  const int64_t N = image.size(0), D = image.size(1);
  const double s = std::exp(log_scale.item()), b = bias.defined() ? bias.item() : 0.0;
  const DType dt = image.dtype();
  const std::vector<double> x = image.to_host_doubles(), y = text.to_host_doubles();
  std::vector<double> a(N * D), tt(N * D), na(N), nt(N);
  for (int64_t i = 0; i < N; ++i)
    for (const auto& [src, dst, n] : {std::tuple{&x, &a, &na}, std::tuple{&y, &tt, &nt}}) {
      double ss = 0;
      for (int64_t c = 0; c < D; ++c) ss += (*src)[i * D + c] * (*src)[i * D + c];
      (*n)[i] = std::max(std::sqrt(ss), kNormEps);
      for (int64_t c = 0; c < D; ++c) (*dst)[i * D + c] = (*src)[i * D + c] / (*n)[i];
    }
  std::vector<double> S(N * N), G(N * N);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double d = 0;
      for (int64_t c = 0; c < D; ++c) d += a[i * D + c] * tt[j * D + c];
      S[i * N + j] = s * d + b;
    }
  double L = 0;
  if (loss == ContrastiveLoss::Clip) {
    // Row i: softmax over j (image -> text); column j: softmax over i (text -> image).
    std::vector<double> rlse(N), clse(N);
    for (int64_t i = 0; i < N; ++i) {
      double mr = -INFINITY, mc = -INFINITY, sr = 0, sc = 0;
      for (int64_t j = 0; j < N; ++j) mr = std::max(mr, S[i * N + j]), mc = std::max(mc, S[j * N + i]);
      for (int64_t j = 0; j < N; ++j) sr += std::exp(S[i * N + j] - mr), sc += std::exp(S[j * N + i] - mc);
      rlse[i] = mr + std::log(sr);
      clse[i] = mc + std::log(sc);
      L += (rlse[i] - S[i * N + i]) + (clse[i] - S[i * N + i]);
    }
    L /= 2.0 * N;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j)
        G[i * N + j] = (std::exp(S[i * N + j] - rlse[i]) + std::exp(S[i * N + j] - clse[j]) - (i == j ? 2.0 : 0.0)) / (2.0 * N);
  } else {
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const double zx = (i == j ? 1.0 : -1.0) * S[i * N + j];  // -log σ(zx) = softplus(-zx)
        L += std::max(-zx, 0.0) + std::log1p(std::exp(-std::abs(zx)));
        G[i * N + j] = (1.0 / (1.0 + std::exp(-S[i * N + j])) - (i == j ? 1.0 : 0.0)) / N;
      }
    L /= N;
  }
  std::vector<double> da(N * D, 0.0), dtt(N * D, 0.0), dx(N * D), dy(N * D);
  double dlog = 0, dbias = 0;
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const double gij = G[i * N + j];
      dlog += gij * (S[i * N + j] - b);
      dbias += gij;
      for (int64_t c = 0; c < D; ++c) {
        da[i * D + c] += s * gij * tt[j * D + c];
        dtt[j * D + c] += s * gij * a[i * D + c];
      }
    }
  for (int64_t i = 0; i < N; ++i)
    for (const auto& [u, du, n, out] : {std::tuple{&a, &da, &na, &dx}, std::tuple{&tt, &dtt, &nt, &dy}}) {
      double dot = 0;
      if ((*n)[i] > kNormEps)
        for (int64_t c = 0; c < D; ++c) dot += (*u)[i * D + c] * (*du)[i * D + c];
      for (int64_t c = 0; c < D; ++c) (*out)[i * D + c] = ((*du)[i * D + c] - (*u)[i * D + c] * dot) / (*n)[i];
    }
  const auto to_tensor = [&](const std::vector<double>& v) {
    Tensor r = Tensor::empty({N, D}, dt);
    dispatch_float(dt, [&](auto z) {
      using T = decltype(z);
      for (int64_t k = 0; k < N * D; ++k) r.data<T>()[k] = static_cast<T>(v[k]);
      return 0;
    });
    return r;
  };
  *grads = {to_tensor(dx), to_tensor(dy), Tensor::scalar(dlog, dt), loss == ContrastiveLoss::Siglip ? Tensor::scalar(dbias, dt) : Tensor()};
  return Tensor::scalar(L, dt);
}

}  // namespace qkv::backend::cpu_impl
