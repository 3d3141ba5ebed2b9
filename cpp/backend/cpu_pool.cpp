// The CPU's 2-D pooling: the plane kernels of cpu/pool_kernels.cpp threaded over the N * C planes
// of [N, C, H, W]. Checked against float64 loops in test/ops.test.ts and PyTorch in test/conv.test.ts.
#include <algorithm>

#include "backend/backend.h"
#include "core/thread_pool.h"
#include "cpu/image_kernels.h"

namespace qkv::backend::cpu_impl {

namespace {

// Runs fn(lo, hi) over the planes in chunks of about 16K elements.
void over_planes(int64_t planes, int64_t plane_size, const std::function<void(int64_t, int64_t)>& fn) {
  parallel_for(0, planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(plane_size, 1)), fn);
}

}  // namespace

Tensor max_pool2d(const Tensor& x_in, const Window2d& win, Tensor* arg) {
  const Tensor x = x_in.contiguous();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = cpu::window_out(H, win, 0), OW = cpu::window_out(W, win, 1);
  Tensor y = Tensor::empty({N, C, OH, OW}, x.dtype());
  Tensor idx = Tensor::empty({N, C, OH, OW}, DType::I32);
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.template data<T>();
    T* py = y.template data<T>();
    int32_t* pi = idx.template data<int32_t>();
    over_planes(N * C, H * W, [&](int64_t lo, int64_t hi) {
      for (int64_t p = lo; p < hi; ++p) cpu::max_pool_plane(px + p * H * W, H, W, win, OH, OW, py + p * OH * OW, pi + p * OH * OW);
    });
    return 0;
  });
  if (arg) *arg = idx;
  return y;
}

Tensor max_pool2d_backward(const Tensor& g_in, const Tensor& arg_in, const Shape& x_shape) {
  const Tensor g = g_in.contiguous(), arg = arg_in.contiguous();
  const int64_t planes = x_shape[0] * x_shape[1], HW = x_shape[2] * x_shape[3], OHW = g.size(2) * g.size(3);
  Tensor dx = Tensor::zeros(x_shape, g.dtype());
  dispatch_float(g.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* pg = g.template data<T>();
    const int32_t* pi = arg.template data<int32_t>();
    T* pdx = dx.template data<T>();
    over_planes(planes, HW, [&](int64_t lo, int64_t hi) {
      for (int64_t p = lo; p < hi; ++p)
        for (int64_t o = 0; o < OHW; ++o)
          if (pi[p * OHW + o] >= 0) pdx[p * HW + pi[p * OHW + o]] += pg[p * OHW + o];
    });
    return 0;
  });
  return dx;
}

Tensor avg_pool2d(const Tensor& x_in, const AvgBins& bins) {
  const Tensor x = x_in.contiguous();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = static_cast<int64_t>(bins.h0.size()), OW = static_cast<int64_t>(bins.w0.size());
  Tensor y = Tensor::empty({N, C, OH, OW}, x.dtype());
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x.template data<T>();
    T* py = y.template data<T>();
    over_planes(N * C, H * W, [&](int64_t lo, int64_t hi) {
      for (int64_t p = lo; p < hi; ++p) cpu::avg_pool_plane(px + p * H * W, W, bins, py + p * OH * OW);
    });
    return 0;
  });
  return y;
}

Tensor avg_pool2d_backward(const Tensor& g_in, const AvgBins& bins, const Shape& x_shape) {
  const Tensor g = g_in.contiguous();
  const int64_t planes = x_shape[0] * x_shape[1], H = x_shape[2], W = x_shape[3], OHW = g.size(2) * g.size(3);
  Tensor dx = Tensor::zeros(x_shape, g.dtype());
  dispatch_float(g.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* pg = g.template data<T>();
    T* pdx = dx.template data<T>();
    over_planes(planes, H * W, [&](int64_t lo, int64_t hi) {
      for (int64_t p = lo; p < hi; ++p) cpu::avg_pool_plane_backward(pg + p * OHW, W, bins, pdx + p * H * W);
    });
    return 0;
  });
  return dx;
}

}  // namespace qkv::backend::cpu_impl
