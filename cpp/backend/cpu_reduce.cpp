// The CPU's reductions: each row of a contiguous [R, C] reduced by a SIMD kernel (ops/reduce.cpp
// moves the reduced axes last first).
#include <algorithm>

#include "backend/backend.h"
#include "core/thread_pool.h"
#include "cpu/optim_kernels.h"

namespace qkv::backend::cpu_impl {

namespace {

Tensor sum_rows(const Tensor& rows) {
  const int64_t R = rows.size(0), C = rows.size(1);
  Tensor out = Tensor::empty({R}, rows.dtype());
  if (rows.dtype() == DType::I32) {
    const int32_t* s = rows.data<int32_t>();
    int32_t* o = out.data<int32_t>();
    for (int64_t r = 0; r < R; ++r) {
      int64_t acc = 0;
      for (int64_t j = 0; j < C; ++j) acc += s[r * C + j];
      o[r] = static_cast<int32_t>(acc);
    }
    return out;
  }
  dispatch_float(rows.dtype(), [&](auto z) {
    using T = decltype(z);
    const auto& k = cpu::kernels_of<T>();
    const T* s = rows.template data<T>();
    T* o = out.template data<T>();
    if (C == 0) {
      std::fill(o, o + R, T(0));
      return 0;
    }
    parallel_for(0, R, std::max<int64_t>(1, 16384 / C), [&](int64_t lo, int64_t hi) { k.sum_rows(hi - lo, C, s + lo * C, o + lo); });
    return 0;
  });
  return out;
}

Tensor max_rows(const Tensor& rows) {
  const int64_t R = rows.size(0), C = rows.size(1);
  Tensor out = Tensor::empty({R}, rows.dtype());
  dispatch_dtype(rows.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* s = rows.template data<T>();
    T* o = out.template data<T>();
    parallel_for(0, R, std::max<int64_t>(1, 16384 / C), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const T* row = s + r * C;
        T m = row[0];
        for (int64_t j = 1; j < C; ++j)
          if (row[j] > m || row[j] != row[j]) m = row[j];  // NaN propagates
        o[r] = m;
      }
    });
    return 0;
  });
  return out;
}

Tensor argmax_rows(const Tensor& rows) {
  const int64_t R = rows.size(0), C = rows.size(1);
  Tensor out = Tensor::empty({R}, DType::I32);
  dispatch_dtype(rows.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* s = rows.template data<T>();
    int32_t* o = out.data<int32_t>();
    parallel_for(0, R, std::max<int64_t>(1, 16384 / C), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const T* row = s + r * C;
        int64_t best = 0;
        for (int64_t j = 1; j < C; ++j)
          if (row[j] > row[best]) best = j;  // the first maximum wins, as in numpy
        o[r] = static_cast<int32_t>(best);
      }
    });
    return 0;
  });
  return out;
}

}  // namespace

Tensor reduce_rows(ReduceKind kind, const Tensor& rows) {
  switch (kind) {
    case ReduceKind::Sum: return sum_rows(rows);
    case ReduceKind::Max: return max_rows(rows);
    case ReduceKind::Argmax: return argmax_rows(rows);
  }
  return sum_rows(rows);
}

// Fixed chunks summed in order: the result does not depend on the thread count.
double sum_squares(const Tensor& x_in) {
  const Tensor x = x_in.contiguous();
  const int64_t n = x.numel(), chunk = 16384, chunks = (n + chunk - 1) / chunk;
  std::vector<double> part(static_cast<size_t>(chunks), 0.0);
  const auto& k = cpu::optim::table();
  dispatch_float(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* p = x.template data<T>();
    parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        const int64_t a = c * chunk, len = std::min(n, a + chunk) - a;
        if constexpr (sizeof(T) == 4) part[c] = k.sumsq_f32(p + a, len);
        else part[c] = k.sumsq_f64(p + a, len);
      }
    });
    return 0;
  });
  double total = 0;
  for (double v : part) total += v;
  return total;
}

}  // namespace qkv::backend::cpu_impl
