// The CPU's 2-D convolution: im2col + GEMM per sample and group, threaded over the samples.
// Shapes: x [N, C, H, W], weight [O, C/G, kH, kW], bias [O], y [N, O, OH, OW]; with Cg = C/G,
// Og = O/G, K = Cg kH kW, L = OH OW, for sample n and group g:
//   forward   y[n, g] [Og, L] = W_g [Og, K] x col(x[n, g]) [K, L]    (+ bias, preloaded)
//   backward  dx[n, g] = col2im(W_g^T g[n, g]);  dW_g = sum_n g[n, g] col(x[n, g])^T;
//             db = sum over n and L of g
// A 1x1 kernel at stride 1 without padding reads x itself as its columns. Checked against the
// direct loops of cpu/conv_reference.cpp and float64 references in test/conv.test.ts, and by
// finite differences in test/autograd.test.ts.
#include <algorithm>
#include <functional>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu_gemm.h"
#include "core/thread_pool.h"
#include "cpu/image_kernels.h"

namespace qkv::backend::cpu_impl {

namespace {

struct ConvShape {
  int64_t N, C, H, W, O, G, Cg, Og, K, L;
  cpu::Plane plane;  // one group of one sample
  bool direct;       // the input is its own column matrix (1x1, stride 1, no padding)
};

ConvShape conv_shape(const Tensor& x, const Tensor& w, const Window2d& win, int64_t groups) {
  ConvShape s;
  s.N = x.size(0), s.C = x.size(1), s.H = x.size(2), s.W = x.size(3), s.O = w.size(0), s.G = groups;
  s.Cg = s.C / groups, s.Og = s.O / groups;
  const int64_t OH = cpu::window_out(s.H, win, 0), OW = cpu::window_out(s.W, win, 1);
  s.K = s.Cg * win.kernel[0] * win.kernel[1], s.L = OH * OW;
  s.plane = {s.Cg, s.H, s.W, OH, OW};
  s.direct = win.kernel == std::array<int64_t, 2>{1, 1} && win.stride == std::array<int64_t, 2>{1, 1} &&
             win.padding == std::array<int64_t, 2>{0, 0};
  return s;
}

// Runs fn(i) for i in [0, count): one pool task each when there are enough to share out (each
// GEMM then runs on its task's thread), else in turn, so that each GEMM uses every thread itself.
void for_each(int64_t count, const std::function<void(int64_t)>& fn) {
  if (count >= ThreadPool::global().threads()) ThreadPool::global().run(count, fn);
  else
    for (int64_t i = 0; i < count; ++i) fn(i);
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Window2d& win, int64_t groups) {
  const Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  const ConvShape s = conv_shape(x, w, win, groups);
  Tensor y = Tensor::empty({s.N, s.O, s.plane.OH, s.plane.OW}, x.dtype());
  if (y.numel() == 0) return y;
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *px = x.template data<T>(), *pw = w.template data<T>(), *pb = b.defined() ? b.template data<T>() : nullptr;
    T* py = y.template data<T>();
    for_each(s.N, [&](int64_t n) {
      std::vector<T> col(s.direct ? 0 : static_cast<size_t>(s.K * s.L));
      T* yn = py + n * s.O * s.L;
      if (pb)
        for (int64_t o = 0; o < s.O; ++o) std::fill(yn + o * s.L, yn + (o + 1) * s.L, pb[o]);
      for (int64_t g = 0; g < s.G; ++g) {
        const T* xg = px + (n * s.C + g * s.Cg) * s.H * s.W;
        if (!s.direct) cpu::im2col(xg, s.plane, win, col.data());
        gemm<T>(false, false, s.Og, s.L, s.K, T(1), pw + g * s.Og * s.K, s.K, s.direct ? xg : col.data(), s.L,
                pb ? T(1) : T(0), yn + g * s.Og * s.L, s.L);
      }
    });
    return 0;
  });
  return y;
}

void conv2d_backward(const Tensor& x_in, const Tensor& w_in, const Tensor& g_in, const Window2d& win, int64_t groups, Tensor* dx,
                     Tensor* dw, Tensor* db) {
  const Tensor x = x_in.contiguous(), w = w_in.contiguous(), g = g_in.contiguous();
  const ConvShape s = conv_shape(x, w, win, groups);
  if (dx) *dx = Tensor::zeros(x.shape(), x.dtype());
  if (dw) *dw = Tensor::zeros(w.shape(), x.dtype());
  if (db) *db = Tensor::zeros({s.O}, x.dtype());
  if (g.numel() == 0) return;
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *px = x.template data<T>(), *pw = w.template data<T>(), *pg = g.template data<T>();
    if (dx) {
      T* pdx = dx->template data<T>();
      for_each(s.N, [&](int64_t n) {
        std::vector<T> dcol(s.direct ? 0 : static_cast<size_t>(s.K * s.L));
        for (int64_t gi = 0; gi < s.G; ++gi) {
          T* dxg = pdx + (n * s.C + gi * s.Cg) * s.H * s.W;
          // dcol [K, L] = W_g^T [K, Og] x g[n, g] [Og, L]; a direct conv writes dx itself
          gemm<T>(true, false, s.K, s.L, s.Og, T(1), pw + gi * s.Og * s.K, s.K, pg + (n * s.O + gi * s.Og) * s.L, s.L, T(0),
                  s.direct ? dxg : dcol.data(), s.L);
          if (!s.direct) cpu::col2im(dcol.data(), s.plane, win, dxg);
        }
      });
    }
    if (dw) {
      // Threaded over the samples, each thread's chunk of them sums into its own copy of dW (the
      // copies are added in chunk order); else one chunk, its GEMMs threaded inside.
      const int64_t threads = ThreadPool::global().threads(), chunks = s.N >= threads ? threads : 1;
      const int64_t wsize = s.O * s.K;
      std::vector<T> partial(static_cast<size_t>((chunks - 1) * wsize));
      T* pdw = dw->template data<T>();
      for_each(chunks, [&](int64_t c) {
        T* acc = c == 0 ? pdw : partial.data() + (c - 1) * wsize;
        std::vector<T> col(s.direct ? 0 : static_cast<size_t>(s.K * s.L));
        for (int64_t n = s.N * c / chunks; n < s.N * (c + 1) / chunks; ++n)
          for (int64_t gi = 0; gi < s.G; ++gi) {
            const T* xg = px + (n * s.C + gi * s.Cg) * s.H * s.W;
            if (!s.direct) cpu::im2col(xg, s.plane, win, col.data());
            // dW_g [Og, K] += g[n, g] [Og, L] x col^T [L, K]
            gemm<T>(false, true, s.Og, s.K, s.L, T(1), pg + (n * s.O + gi * s.Og) * s.L, s.L, s.direct ? xg : col.data(), s.L,
                    T(1), acc + gi * s.Og * s.K, s.K);
          }
      });
      for (int64_t c = 1; c < chunks; ++c) {
        const T* part = partial.data() + (c - 1) * wsize;
        for (int64_t i = 0; i < wsize; ++i) pdw[i] += part[i];
      }
    }
    if (db) {
      T* pdb = db->template data<T>();
      parallel_for(0, s.O, std::max<int64_t>(1, 16384 / std::max<int64_t>(s.N * s.L, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t o = lo; o < hi; ++o) {
          double acc = 0;
          for (int64_t n = 0; n < s.N; ++n) {
            const T* row = pg + (n * s.O + o) * s.L;
            for (int64_t l = 0; l < s.L; ++l) acc += row[l];
          }
          pdb[o] = static_cast<T>(acc);
        }
      });
    }
    return 0;
  });
}

Tensor conv2d_reference(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Window2d& win, int64_t groups) {
  const Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  const ConvShape s = conv_shape(x, w, win, groups);
  Tensor y = Tensor::empty({s.N, s.O, s.plane.OH, s.plane.OW}, x.dtype());
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *px = x.template data<T>(), *pw = w.template data<T>(), *pb = b.defined() ? b.template data<T>() : nullptr;
    T* py = y.template data<T>();
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t gi = 0; gi < s.G; ++gi)
        cpu::conv2d_reference(px + (n * s.C + gi * s.Cg) * s.H * s.W, pw + gi * s.Og * s.K, pb ? pb + gi * s.Og : nullptr, s.Og,
                              s.plane, win, py + (n * s.O + gi * s.Og) * s.L);
    return 0;
  });
  return y;
}

}  // namespace qkv::backend::cpu_impl
