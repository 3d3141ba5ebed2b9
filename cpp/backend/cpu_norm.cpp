// The CPU's batch norm and group norm and their backward passes (checked by ops/norm.cpp before they
// get here). x is [N, C, S] once its trailing dims are flattened; batch norm reduces over (N, S) per
// channel, group norm over (C / G, S) per sample and group, which is one contiguous block. Sums run
// in double, so these plain loops are also the reference: test/ops.test.ts checks them against
// float64 loops and test/norm-image.test.ts against PyTorch.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/backend.h"
#include "core/thread_pool.h"

namespace qkv::backend::cpu_impl {

namespace {

struct Dims {
  int64_t N, C, S;
};
Dims dims_of(const Tensor& x) {
  const int64_t N = x.size(0), C = x.size(1);
  return {N, C, N * C != 0 ? x.numel() / (N * C) : 0};
}

// An optional [C] parameter's element c.
template <class T> T at_or(const T* p, int64_t c, T fallback) { return p ? p[c] : fallback; }

// The sums of a contiguous run, in double. `omp simd` lets the compiler split each sum into vector
// lanes (-fopenmp-simd; a plain loop is one serial chain of additions).
template <class T> double sum_of(const T* p, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += p[i];
  return s;
}
template <class T> double squares_about(const T* p, int64_t n, double m) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += (p[i] - m) * (p[i] - m);
  return s;
}
// sum g and sum g (x - m) over a run.
template <class T> void grad_sums(const T* g, const T* x, int64_t n, double m, double* sg, double* sgx) {
  double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t i = 0; i < n; ++i) {
    a += g[i];
    b += g[i] * (x[i] - m);
  }
  *sg += a;
  *sgx += b;
}
// out = x a + b over a run.
template <class T> void affine(const T* x, int64_t n, double a, double b, T* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(x[i] * a + b);
}

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& gamma_in, const Tensor& beta_in, Tensor* running_mean, Tensor* running_var,
                  bool training, double momentum, double eps, Tensor* mean_out, Tensor* rstd_out) {
  const Tensor x = x_in.contiguous();
  const Tensor gamma = gamma_in.defined() ? gamma_in.contiguous() : Tensor(), beta = beta_in.defined() ? beta_in.contiguous() : Tensor();
  const Dims dims = dims_of(x);
  const int64_t N = dims.N, C = dims.C, S = dims.S;
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  Tensor mean = Tensor::empty({C}, x.dtype()), rstd = Tensor::empty({C}, x.dtype());
  const bool update = training && running_mean && running_var;
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.template data<T>();
    const T* pg = gamma.defined() ? gamma.template data<T>() : nullptr;
    const T* pb = beta.defined() ? beta.template data<T>() : nullptr;
    T *po = out.template data<T>(), *pm = mean.template data<T>(), *pr = rstd.template data<T>();
    T* prm = running_mean ? running_mean->template data<T>() : nullptr;
    T* prv = running_var ? running_var->template data<T>() : nullptr;
    const int64_t srm = running_mean ? running_mean->strides()[0] : 0, srv = running_var ? running_var->strides()[0] : 0;
    const double count = static_cast<double>(N * S);
    parallel_for(0, C, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        double m, var;
        if (training) {
          // Two passes: the mean, then the squared deviations (no cancellation for large means).
          double s = 0, ss = 0;
          for (int64_t n = 0; n < N; ++n) s += sum_of(px + (n * C + c) * S, S);
          m = s / count;
          for (int64_t n = 0; n < N; ++n) ss += squares_about(px + (n * C + c) * S, S, m);
          var = ss / count;
          if (update) {
            // PyTorch's rule: the running variance takes the unbiased batch variance.
            prm[c * srm] = static_cast<T>((1 - momentum) * prm[c * srm] + momentum * m);
            prv[c * srv] = static_cast<T>((1 - momentum) * prv[c * srv] + momentum * ss / (count - 1));
          }
        } else {
          m = prm[c * srm];
          var = prv[c * srv];
        }
        const double r = 1 / std::sqrt(var + eps);
        const double a = r * at_or(pg, c, T(1)), b = at_or(pb, c, T(0)) - m * a;
        for (int64_t n = 0; n < N; ++n) affine(px + (n * C + c) * S, S, a, b, po + (n * C + c) * S);
        pm[c] = static_cast<T>(m);
        pr[c] = static_cast<T>(r);
      }
    });
    return 0;
  });
  if (mean_out) *mean_out = mean;
  if (rstd_out) *rstd_out = rstd;
  return out;
}

// With xh = (x - mean) rstd:  dbeta = sum g,  dgamma = sum g xh  (per channel), and
//   training:  dx = gamma rstd (g - mean(g) - xh mean(g xh))   (the statistics depend on x)
//   eval:      dx = gamma rstd g                                (they are constants)
void batch_norm_backward(const Tensor& x_in, const Tensor& g_in, const Tensor& gamma_in, const Tensor& mean, const Tensor& rstd,
                         bool training, Tensor* dx, Tensor* dgamma, Tensor* dbeta) {
  const Tensor x = x_in.contiguous(), g = g_in.contiguous(), gamma = gamma_in.defined() ? gamma_in.contiguous() : Tensor();
  const Dims dims = dims_of(x);
  const int64_t N = dims.N, C = dims.C, S = dims.S;
  if (dx) *dx = Tensor::empty(x.shape(), x.dtype());
  if (dgamma) *dgamma = Tensor::empty({C}, x.dtype());
  if (dbeta) *dbeta = Tensor::empty({C}, x.dtype());
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *px = x.template data<T>(), *pg = g.template data<T>(), *pm = mean.template data<T>(), *pr = rstd.template data<T>();
    const T* pgam = gamma.defined() ? gamma.template data<T>() : nullptr;
    T* pdx = dx ? dx->template data<T>() : nullptr;
    T* pdg = dgamma ? dgamma->template data<T>() : nullptr;
    T* pdb = dbeta ? dbeta->template data<T>() : nullptr;
    const double count = static_cast<double>(N * S);
    parallel_for(0, C, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        const double m = pm[c], r = pr[c];
        double sg = 0, sgx = 0;
        for (int64_t n = 0; n < N; ++n) grad_sums(pg + (n * C + c) * S, px + (n * C + c) * S, S, m, &sg, &sgx);
        sgx *= r;
        if (pdg) pdg[c] = static_cast<T>(sgx);
        if (pdb) pdb[c] = static_cast<T>(sg);
        if (!pdx) continue;
        // dx = k g - k mean(g) - k r mean(g xh) (x - m): one multiply-add per input once expanded.
        const double k = r * at_or(pgam, c, T(1)), mg = training ? sg / count : 0, mgx = training ? sgx / count : 0;
        const double kx = -k * r * mgx, k0 = -k * mg - kx * m;
        for (int64_t n = 0; n < N; ++n) {
          const int64_t base = (n * C + c) * S;
          for (int64_t i = 0; i < S; ++i) pdx[base + i] = static_cast<T>(k * pg[base + i] + kx * px[base + i] + k0);
        }
      }
    });
    return 0;
  });
}

Tensor group_norm(const Tensor& x_in, const Tensor& gamma_in, const Tensor& beta_in, int64_t groups, double eps, Tensor* mean_out,
                  Tensor* rstd_out) {
  const Tensor x = x_in.contiguous();
  const Tensor gamma = gamma_in.defined() ? gamma_in.contiguous() : Tensor(), beta = beta_in.defined() ? beta_in.contiguous() : Tensor();
  const Dims dims = dims_of(x);
  const int64_t N = dims.N, C = dims.C, S = dims.S;
  const int64_t Cg = C / groups, block = Cg * S;
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  Tensor mean = Tensor::empty({N, groups}, x.dtype()), rstd = Tensor::empty({N, groups}, x.dtype());
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.template data<T>();
    const T* pg = gamma.defined() ? gamma.template data<T>() : nullptr;
    const T* pb = beta.defined() ? beta.template data<T>() : nullptr;
    T *po = out.template data<T>(), *pm = mean.template data<T>(), *pr = rstd.template data<T>();
    parallel_for(0, N * groups, std::max<int64_t>(1, 8192 / std::max<int64_t>(block, 1)), [&](int64_t lo, int64_t hi) {
      for (int64_t ng = lo; ng < hi; ++ng) {
        const T* b = px + ng * block;
        const double m = sum_of(b, block) / static_cast<double>(block);
        const double r = 1 / std::sqrt(squares_about(b, block, m) / static_cast<double>(block) + eps);
        const int64_t c0 = (ng % groups) * Cg;
        for (int64_t c = 0; c < Cg; ++c) {
          const double a = r * at_or(pg, c0 + c, T(1));
          affine(b + c * S, S, a, at_or(pb, c0 + c, T(0)) - m * a, po + ng * block + c * S);
        }
        pm[ng] = static_cast<T>(m);
        pr[ng] = static_cast<T>(r);
      }
    });
    return 0;
  });
  if (mean_out) *mean_out = mean;
  if (rstd_out) *rstd_out = rstd;
  return out;
}

// Per (sample, group) block of M elements, with xh = (x - mean) rstd and h = g gamma[c]:
//   dx = rstd (h - mean(h) - xh mean(h xh));  dgamma[c] = sum over n, s of g xh;  dbeta[c] = sum g.
void group_norm_backward(const Tensor& x_in, const Tensor& g_in, const Tensor& gamma_in, const Tensor& mean, const Tensor& rstd,
                         int64_t groups, Tensor* dx, Tensor* dgamma, Tensor* dbeta) {
  const Tensor x = x_in.contiguous(), g = g_in.contiguous(), gamma = gamma_in.defined() ? gamma_in.contiguous() : Tensor();
  const Dims dims = dims_of(x);
  const int64_t N = dims.N, C = dims.C, S = dims.S;
  const int64_t Cg = C / groups, block = Cg * S;
  if (dx) *dx = Tensor::empty(x.shape(), x.dtype());
  if (dgamma) *dgamma = Tensor::empty({C}, x.dtype());
  if (dbeta) *dbeta = Tensor::empty({C}, x.dtype());
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *px = x.template data<T>(), *pg = g.template data<T>(), *pm = mean.template data<T>(), *pr = rstd.template data<T>();
    const T* pgam = gamma.defined() ? gamma.template data<T>() : nullptr;
    if (dx) {
      T* pdx = dx->template data<T>();
      parallel_for(0, N * groups, std::max<int64_t>(1, 8192 / std::max<int64_t>(block, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t ng = lo; ng < hi; ++ng) {
          const double m = pm[ng], r = pr[ng];
          const int64_t c0 = (ng % groups) * Cg, base = ng * block;
          // h = g gamma[c] is constant per channel within the block.
          double sh = 0, shx = 0;
          for (int64_t c = 0; c < Cg; ++c) {
            double sg = 0, sgx = 0;
            grad_sums(pg + base + c * S, px + base + c * S, S, m, &sg, &sgx);
            const double gam = at_or(pgam, c0 + c, T(1));
            sh += gam * sg;
            shx += gam * sgx * r;
          }
          sh /= static_cast<double>(block);
          shx /= static_cast<double>(block);
          const double kx = -r * r * shx, k0 = -r * sh - kx * m;
          for (int64_t c = 0; c < Cg; ++c) {
            const double kg = r * at_or(pgam, c0 + c, T(1));
            for (int64_t i = base + c * S; i < base + (c + 1) * S; ++i) pdx[i] = static_cast<T>(kg * pg[i] + kx * px[i] + k0);
          }
        }
      });
    }
    if (dgamma || dbeta) {
      T* pdg = dgamma ? dgamma->template data<T>() : nullptr;
      T* pdb = dbeta ? dbeta->template data<T>() : nullptr;
      parallel_for(0, C, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t c = lo; c < hi; ++c) {
          double sg = 0, sgx = 0;
          for (int64_t n = 0; n < N; ++n) {
            const int64_t ng = n * groups + c / Cg, base = (n * C + c) * S;
            double g1 = 0, gx = 0;
            grad_sums(pg + base, px + base, S, pm[ng], &g1, &gx);
            sg += g1;
            sgx += gx * pr[ng];
          }
          if (pdg) pdg[c] = static_cast<T>(sgx);
          if (pdb) pdb[c] = static_cast<T>(sg);
        }
      });
    }
    return 0;
  });
}

}  // namespace qkv::backend::cpu_impl
