// Batched matmul over the GEMM kernels. Operands that are transposed views are passed to GEMM as
// transposed (no copy); batch dims broadcast like numpy.
#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/gemm.h"
#include "ops/ops.h"

namespace qkv::ops {

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

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  if (a_in.dtype() != b_in.dtype())
    throw_type(std::string("matmul: dtypes differ (") + dtype_name(a_in.dtype()) + " and " + dtype_name(b_in.dtype()) + ")");
  if (!is_float(a_in.dtype())) throw_type(std::string("matmul: needs float32 or float64 tensors, got ") + dtype_name(a_in.dtype()));
  if (a_in.dim() == 0 || b_in.dim() == 0)
    throw_range("matmul: operands must have at least 1 dim, got " + shape_str(a_in.shape()) + " and " + shape_str(b_in.shape()));
  const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
  Tensor a = a_vec ? a_in.unsqueeze(0) : a_in;
  Tensor b = b_vec ? b_in.unsqueeze(1) : b_in;
  const int64_t M = a.size(-2), K = a.size(-1), K2 = b.size(-2), N = b.size(-1);
  if (K != K2)
    throw_range("matmul: inner dims differ: " + shape_str(a_in.shape()) + " x " + shape_str(b_in.shape()) + " (" +
                std::to_string(K) + " vs " + std::to_string(K2) + ")");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(M);
  if (!b_vec) out_shape.push_back(N);
  Shape full_shape = batch;
  full_shape.push_back(M);
  full_shape.push_back(N);
  Tensor out = Tensor::empty(full_shape, a.dtype());
  const int64_t nbatch = numel_of(batch);
  if (out.numel() == 0) return out.view(out_shape, "matmul");
  if (K == 0) return Tensor::zeros(full_shape, a.dtype()).view(out_shape, "matmul");

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
      if constexpr (sizeof(T) == 4)
        cpu::sgemm(A.trans, B.trans, M, N, K, 1.0f, pa + oa[i], A.ld, pb + ob[i], B.ld, 0.0f, po + i * M * N, N);
      else
        cpu::dgemm(A.trans, B.trans, M, N, K, 1.0, pa + oa[i], A.ld, pb + ob[i], B.ld, 0.0, po + i * M * N, N);
    };
    // Many small products: one per task. Few large ones: GEMM parallelises inside.
    if (nbatch > 1 && M * N * K < (int64_t(1) << 21))
      ThreadPool::global().run(nbatch, gemm_one);
    else
      for (int64_t i = 0; i < nbatch; ++i) gemm_one(i);
    return 0;
  });
  return out.view(out_shape, "matmul");
}

}  // namespace qkv::ops
