// The CPU's elementwise entries: binary with numpy broadcasting (strided inputs read in place),
// unary math, their backward rules, and the counter-based dropout.
#include <algorithm>
#include <cmath>

#include "backend/backend.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/simd.h"

namespace qkv::backend::cpu_impl {

namespace {

// Strides of `t` aligned to `out` (leading and size-1 dims get stride 0).
Shape broadcast_strides(const Tensor& t, const Shape& out) {
  Shape s(out.size(), 0);
  size_t off = out.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i) s[off + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return s;
}

template <class T, class Kernel>
void run_binary(Kernel kernel, BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  // Collapse the iteration space: merge adjacent dims that are contiguous for a, b and out alike.
  Shape shape = out.shape(), sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  Shape so = contiguous_strides(shape);
  std::vector<int64_t> dims, as, bs, os;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (!dims.empty() && as.back() == sa[i] * shape[i] && bs.back() == sb[i] * shape[i] && os.back() == so[i] * shape[i]) {
      dims.back() *= shape[i];
      as.back() = sa[i];
      bs.back() = sb[i];
      os.back() = so[i];
    } else {
      dims.push_back(shape[i]);
      as.push_back(sa[i]);
      bs.push_back(sb[i]);
      os.push_back(so[i]);
    }
  }
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  if (dims.empty()) {  // a single element
    kernel(op, 1, pa, 0, pb, 0, po);
    return;
  }
  const int64_t nd = static_cast<int64_t>(dims.size());
  const int64_t inner = dims[nd - 1], ia = as[nd - 1], ib = bs[nd - 1];
  const int64_t outer = out.numel() / inner;
  if (outer == 1) {
    parallel_for(0, inner, 32768, [&](int64_t lo, int64_t hi) {
      kernel(op, hi - lo, pa + lo * ia, ia, pb + lo * ib, ib, po + lo);
    });
    return;
  }
  parallel_for(0, outer, std::max<int64_t>(1, 32768 / inner), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      int64_t rem = r, oa = 0, ob = 0;
      for (int64_t d = nd - 2; d >= 0; --d) {
        int64_t idx = rem % dims[d];
        rem /= dims[d];
        oa += idx * as[d];
        ob += idx * bs[d];
      }
      kernel(op, inner, pa + oa, ia, pb + ob, ib, po + r * inner);
    }
  });
}

// out = f(a, b, y, g) elementwise over four tensors of one shape, in double (the slow rules).
template <class F>
Tensor zip4(const Tensor& a_in, const Tensor& b_in, const Tensor& y_in, const Tensor& g_in, F f) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous(), y = y_in.contiguous(), g = g_in.contiguous();
  Tensor out = Tensor::empty(y.shape(), y.dtype());
  dispatch_float(y.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *pa = a.template data<T>(), *pb = b.template data<T>(), *py = y.template data<T>(), *pg = g.template data<T>();
    T* po = out.template data<T>();
    parallel_for(0, y.numel(), 16384, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) po[i] = static_cast<T>(f(double(pa[i]), double(pb[i]), double(py[i])) * double(pg[i]));
    });
    return 0;
  });
  return out;
}

constexpr int64_t kDropoutGrain = 32768;  // elements per task

template <class T>
void dropout_kernel(const DropoutLaw& a, const T* x, const T* y, T* out, int64_t lo, int64_t hi) {
  const bool avx2 = cpu::simd_level() >= cpu::SimdLevel::AVX2;
  if constexpr (std::is_same_v<T, float>) {
    if (avx2) cpu::dropout_avx2::dropout_f32(a, x, y, out, lo, hi);
    else cpu::dropout_scalar::dropout_f32(a, x, y, out, lo, hi);
  } else {
    if (avx2) cpu::dropout_avx2::dropout_f64(a, x, y, out, lo, hi);
    else cpu::dropout_scalar::dropout_f64(a, x, y, out, lo, hi);
  }
}

}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Tensor out = Tensor::empty(out_shape, a.dtype());
  if (out.numel() == 0) return out;
  const auto& k = cpu::kernels();
  switch (a.dtype()) {
    case DType::F32: run_binary<float>(k.f32.binary, op, a, b, out); break;
    case DType::F64: run_binary<double>(k.f64.binary, op, a, b, out); break;
    case DType::I32: run_binary<int32_t>(k.binary_i32, op, a, b, out); break;
  }
  return out;
}

Tensor unary(UnaryOp op, const Tensor& a) {
  Tensor src = a.contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  if (a.dtype() == DType::I32) {  // Neg, Abs and Relu only (checked by ops::unary)
    const int32_t* s = src.data<int32_t>();
    int32_t* o = out.data<int32_t>();
    for (int64_t i = 0, n = a.numel(); i < n; ++i)
      o[i] = op == UnaryOp::Neg ? -s[i] : op == UnaryOp::Abs ? (s[i] < 0 ? -s[i] : s[i]) : (s[i] > 0 ? s[i] : 0);
    return out;
  }
  dispatch_float(a.dtype(), [&](auto z) {
    using T = decltype(z);
    const auto& k = cpu::kernels_of<T>();
    const T* s = src.data<T>();
    T* o = out.data<T>();
    parallel_for(0, a.numel(), 16384, [&](int64_t lo, int64_t hi) { k.unary(op, hi - lo, s + lo, o + lo); });
    return 0;
  });
  return out;
}

Tensor unary_backward(UnaryOp op, const Tensor& x_in, const Tensor& y_in, const Tensor& g_in) {
  const Tensor x = x_in.contiguous(), y = y_in.contiguous(), g = g_in.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const auto& k = cpu::kernels_of<T>();
    const T *px = x.template data<T>(), *py = y.template data<T>(), *pg = g.template data<T>();
    T* po = out.template data<T>();
    parallel_for(0, x.numel(), 16384, [&](int64_t lo, int64_t hi) { k.unary_backward(op, hi - lo, px + lo, py + lo, pg + lo, po + lo); });
    return 0;
  });
  return out;
}

Tensor binary_backward(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& y, const Tensor& g, bool wrt_b) {
  if (op == BinaryOp::Pow) {
    if (!wrt_b) return zip4(a, b, y, g, [](double x, double p, double) { return p == 0 ? 0.0 : p * std::pow(x, p - 1); });
    return zip4(a, b, y, g, [](double x, double, double v) { return x > 0 ? v * std::log(x) : 0.0; });
  }
  // Maximum / Minimum: the gradient goes to the operand that won; ties split it evenly, as PyTorch does.
  const bool is_max = op == BinaryOp::Maximum;
  return zip4(a, b, y, g, [is_max, wrt_b](double x, double w, double) {
    const double mine = wrt_b ? w : x, other = wrt_b ? x : w;
    return mine == other ? 0.5 : ((mine > other) == is_max ? 1.0 : 0.0);
  });
}

Tensor dropout(const Tensor* x_in, const Tensor& y_in, const DropoutLaw& law) {
  const Tensor y = y_in.contiguous();
  const Tensor x = x_in ? x_in->contiguous() : Tensor();
  Tensor out = Tensor::empty(y.shape(), y.dtype());
  const int64_t n = y.numel();
  dispatch_float(y.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x_in ? x.template data<T>() : nullptr;
    const T* py = y.template data<T>();
    T* po = out.template data<T>();
    const int64_t tasks = (n + kDropoutGrain - 1) / kDropoutGrain;
    if (tasks <= 1) dropout_kernel<T>(law, px, py, po, 0, n);
    else
      parallel_for(0, tasks, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t t = lo; t < hi; ++t) dropout_kernel<T>(law, px, py, po, t * kDropoutGrain, std::min(n, (t + 1) * kDropoutGrain));
      });
    return 0;
  });
  return out;
}

}  // namespace qkv::backend::cpu_impl
