// Reductions along axes: the reduced axes are moved last (a copy only when they are not already
// trailing), then each row is reduced by a SIMD kernel.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/ops.h"

namespace qkv::ops {

namespace {

struct Plan {
  Tensor rows;       // contiguous [outer, inner]
  Shape out_shape;   // result shape (keepdims applied)
  int64_t outer, inner;
};

Plan plan_reduction(const Tensor& a, const std::vector<int64_t>& axes_in, bool keepdims, const char* op) {
  const int64_t nd = a.dim();
  std::vector<bool> reduce(nd, axes_in.empty());
  for (int64_t ax : axes_in) {
    int64_t d = normalize_axis(ax, nd, op);
    if (reduce[d] && !axes_in.empty()) throw_range(std::string(op) + ": axis " + std::to_string(ax) + " given twice");
    reduce[d] = true;
  }
  std::vector<int64_t> perm;
  Shape out_shape;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < nd; ++d)
    if (!reduce[d]) {
      perm.push_back(d);
      outer *= a.shape()[d];
    }
  for (int64_t d = 0; d < nd; ++d)
    if (reduce[d]) {
      perm.push_back(d);
      inner *= a.shape()[d];
    }
  for (int64_t d = 0; d < nd; ++d) {
    if (!reduce[d]) out_shape.push_back(a.shape()[d]);
    else if (keepdims) out_shape.push_back(1);
  }
  Tensor p = nd ? a.permute(perm, op) : a;
  return {p.contiguous(), out_shape, outer, inner};
}

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims) {
  Plan p = plan_reduction(a, axes, keepdims, "sum");
  Tensor out = Tensor::empty(p.out_shape, a.dtype());
  if (out.numel() == 0) return out;
  if (a.dtype() == DType::I32) {
    const int32_t* s = p.rows.data<int32_t>();
    int32_t* o = out.data<int32_t>();
    for (int64_t r = 0; r < p.outer; ++r) {
      int64_t acc = 0;
      for (int64_t j = 0; j < p.inner; ++j) acc += s[r * p.inner + j];
      o[r] = static_cast<int32_t>(acc);
    }
    return out;
  }
  dispatch_float(a.dtype(), [&](auto z) {
    using T = decltype(z);
    const auto& k = cpu::kernels_of<T>();
    const T* s = p.rows.template data<T>();
    T* o = out.template data<T>();
    if (p.inner == 0) {
      for (int64_t r = 0; r < p.outer; ++r) o[r] = 0;
      return 0;
    }
    parallel_for(0, p.outer, std::max<int64_t>(1, 16384 / p.inner),
                 [&](int64_t lo, int64_t hi) { k.sum_rows(hi - lo, p.inner, s + lo * p.inner, o + lo); });
    return 0;
  });
  return out;
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims) {
  if (!is_float(a.dtype())) throw_type(std::string("mean: needs a float32 or float64 tensor, got ") + dtype_name(a.dtype()));
  Tensor s = sum(a, axes, keepdims);
  int64_t count = s.numel() ? a.numel() / s.numel() : 0;
  return binary(cpu::BinaryOp::Div, s, Tensor::scalar(static_cast<double>(count), a.dtype()));
}

Tensor max(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims) {
  Plan p = plan_reduction(a, axes, keepdims, "max");
  if (p.inner == 0) throw_range("max: cannot reduce over an empty axis of shape " + shape_str(a.shape()));
  Tensor out = Tensor::empty(p.out_shape, a.dtype());
  dispatch_dtype(a.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* s = p.rows.template data<T>();
    T* o = out.template data<T>();
    parallel_for(0, p.outer, std::max<int64_t>(1, 16384 / p.inner), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const T* row = s + r * p.inner;
        T m = row[0];
        for (int64_t j = 1; j < p.inner; ++j)
          if (row[j] > m || row[j] != row[j]) m = row[j];  // NaN propagates
        o[r] = m;
      }
    });
    return 0;
  });
  return out;
}

Tensor argmax(const Tensor& a, int64_t axis, bool keepdims) {
  if (a.dim() == 0) throw_range("argmax: needs a tensor with at least 1 dim");
  Plan p = plan_reduction(a, {axis}, keepdims, "argmax");
  if (p.inner == 0) throw_range("argmax: cannot reduce over an empty axis of shape " + shape_str(a.shape()));
  Tensor out = Tensor::empty(p.out_shape, DType::I32);
  dispatch_dtype(a.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* s = p.rows.template data<T>();
    int32_t* o = out.data<int32_t>();
    for (int64_t r = 0; r < p.outer; ++r) {
      const T* row = s + r * p.inner;
      int64_t best = 0;
      for (int64_t j = 1; j < p.inner; ++j)
        if (row[j] > row[best]) best = j;  // the first maximum wins, as in numpy
      o[r] = static_cast<int32_t>(best);
    }
    return 0;
  });
  return out;
}

}  // namespace qkv::ops
