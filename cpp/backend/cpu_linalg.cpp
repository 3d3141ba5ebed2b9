// The CPU's linear algebra: batched matmul and the fused linear layer over the GEMM kernels.
// Operands that are transposed views are passed to GEMM as transposed (no copy); batch dims
// broadcast like numpy.
#include <algorithm>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu_gemm.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace qkv::backend::cpu_impl {

namespace {

struct Operand {
  Tensor t;        // at least 2-D
  bool trans;      // the last two dims are stored transposed
  int64_t ld;      // leading dimension of the stored matrix
};

// Reads the last two dims as a (possibly transposed) matrix, copying only when neither layout fits.
Operand as_matrix(Tensor t) {
  const int64_t nd = t.dim();
  int64_t rows = t.shape()[nd - 2], cols = t.shape()[nd - 1];
  int64_t s0 = t.strides()[nd - 2], s1 = t.strides()[nd - 1];
  if ((s1 == 1 || cols == 1) && s0 >= cols && s0 > 0) return {t, false, s0};
  if ((s0 == 1 || rows == 1) && s1 >= rows && s1 > 0) return {t, true, s1};
  if (rows <= 1 || cols <= 1) {  // degenerate strides on a vector: a contiguous copy is cheap
    t = t.clone();
    return {t, false, cols > 0 ? cols : 1};
  }
  t = t.clone();
  return {t, false, cols};
}

}  // namespace

// The shapes were checked by ops::matmul; both operands have at least 2 dims.
Tensor matmul(const Tensor& a, const Tensor& b, const Shape& batch) {
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  Shape full_shape = batch;
  full_shape.push_back(M);
  full_shape.push_back(N);
  const int64_t nbatch = numel_of(batch);
  if (numel_of(full_shape) == 0) return Tensor::empty(full_shape, a.dtype());
  if (K == 0) return Tensor::zeros(full_shape, a.dtype());
  Tensor out = Tensor::empty(full_shape, a.dtype());

  Operand A = as_matrix(a), B = as_matrix(b);
  // Batch offsets of each operand (broadcast dims have stride 0).
  auto batch_offsets = [&](const Tensor& t) {
    std::vector<int64_t> offs(nbatch, 0);
    const int64_t tb = t.dim() - 2, nb = static_cast<int64_t>(batch.size());
    for (int64_t i = 0; i < nbatch; ++i) {
      int64_t rem = i, off = 0;
      for (int64_t d = nb - 1; d >= 0; --d) {
        int64_t idx = rem % batch[d];
        rem /= batch[d];
        int64_t td = d - (nb - tb);
        if (td >= 0 && t.shape()[td] != 1) off += idx * t.strides()[td];
      }
      offs[i] = off;
    }
    return offs;
  };
  std::vector<int64_t> oa = batch_offsets(A.t), ob = batch_offsets(B.t);

  dispatch_float(a.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* pa = A.t.template data<T>();
    const T* pb = B.t.template data<T>();
    T* po = out.template data<T>();
    auto gemm_one = [&](int64_t i) {
      gemm<T>(A.trans, B.trans, M, N, K, T(1), pa + oa[i], A.ld, pb + ob[i], B.ld, T(0), po + i * M * N, N);
    };
    // Many small products: one per task. Few large ones: GEMM parallelises inside.
    if (nbatch > 1 && M * N * K < (int64_t(1) << 21))
      ThreadPool::global().run(nbatch, gemm_one);
    else
      for (int64_t i = 0; i < nbatch; ++i) gemm_one(i);
    return 0;
  });
  return out;
}

// The fused linear op. Shapes: x [N, in] (any strides), weight [out, in], bias [out] (or undefined) -> y [N, out].
//   forward   y = x W^T + b      (one GEMM, the bias rows preloaded into y)
//   backward  dx = g W [N, in];  dW = g^T x [out, in];  db = sum over rows of g [out]
// Each gradient comes out contiguous in its parameter's layout, with no transposed copy.
// Checked against central finite differences in test/nn.test.ts and PyTorch in test/parity.test.ts.
Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in) {
  const Tensor x = x_in.contiguous(), w = w_in.contiguous();
  const int64_t N = x.size(0), in = x.size(1), out = w.size(0);
  Tensor y = Tensor::empty({N, out}, x.dtype());
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    T* py = y.template data<T>();
    if (b_in.defined()) {
      const Tensor b = b_in.contiguous();
      const T* pb = b.template data<T>();
      parallel_for(0, N, std::max<int64_t>(1, 16384 / out), [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) std::copy(pb, pb + out, py + r * out);
      });
    }
    if (N > 0) gemm<T>(false, true, N, out, in, T(1), x.template data<T>(), in, w.template data<T>(), in, b_in.defined() ? T(1) : T(0), py, out);
    return 0;
  });
  return y;
}

void linear_backward(const Tensor& x_in, const Tensor& w_in, const Tensor& g_in, Tensor* dx, Tensor* dw, Tensor* db) {
  const Tensor x = x_in.contiguous(), w = w_in.contiguous(), g = g_in.contiguous();
  const int64_t N = x.size(0), in = x.size(1), out = w.size(0);
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* pg = g.template data<T>();
    if (dx) {
      *dx = Tensor::empty({N, in}, x.dtype());
      if (N > 0) gemm<T>(false, false, N, in, out, T(1), pg, out, w.template data<T>(), in, T(0), dx->template data<T>(), in);
    }
    if (dw) {
      *dw = N > 0 ? Tensor::empty({out, in}, x.dtype()) : Tensor::zeros({out, in}, x.dtype());
      if (N > 0) gemm<T>(true, false, out, in, N, T(1), pg, out, x.template data<T>(), in, T(0), dw->template data<T>(), in);
    }
    if (db) {
      // The column sums of g, as the product ones[1, N] g (the GEMM's vectorised matrix-vector path).
      *db = N > 0 ? Tensor::empty({out}, x.dtype()) : Tensor::zeros({out}, x.dtype());
      if (N > 0) {
        const std::vector<T> ones(static_cast<size_t>(N), T(1));
        gemm<T>(false, false, 1, out, N, T(1), ones.data(), N, pg, out, T(0), db->template data<T>(), out);
      }
    }
    return 0;
  });
}

}  // namespace qkv::backend::cpu_impl
