// The CPU's memory entries: fills, strided copies, casts, host transfers, random fills, row
// gathers and scatters.
#include <algorithm>
#include <cstring>

#include "backend/backend.h"
#include "core/error.h"
#include "core/random.h"
#include "core/thread_pool.h"

namespace qkv::backend::cpu_impl {

namespace {

// Dims of `shape` merged where both stride lists are contiguous across them (size-1 dims dropped),
// so that a copy runs over as few and as long inner rows as the layouts allow.
struct Collapsed {
  Shape dims, src, dst;
};
Collapsed collapse(const Shape& shape, const Shape& src, const Shape& dst) {
  Collapsed c;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (!c.dims.empty() && c.src.back() == src[i] * shape[i] && c.dst.back() == dst[i] * shape[i]) {
      c.dims.back() *= shape[i];
      c.src.back() = src[i];
      c.dst.back() = dst[i];
    } else {
      c.dims.push_back(shape[i]);
      c.src.push_back(src[i]);
      c.dst.push_back(dst[i]);
    }
  }
  return c;
}

// dst = src over a strided layout on both sides, element type E (a same-size integer: copies are bitwise).
template <class E>
void copy_strided(const E* src, E* dst, const Collapsed& c) {
  const int64_t nd = static_cast<int64_t>(c.dims.size());
  if (nd == 0) {
    dst[0] = src[0];
    return;
  }
  const int64_t inner = c.dims[nd - 1], si = c.src[nd - 1], di = c.dst[nd - 1];
  int64_t outer = 1;
  for (int64_t d = 0; d + 1 < nd; ++d) outer *= c.dims[d];
  parallel_for(0, outer, std::max<int64_t>(1, 16384 / inner), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      int64_t rem = r, so = 0, dof = 0;
      for (int64_t d = nd - 2; d >= 0; --d) {
        const int64_t idx = rem % c.dims[d];
        rem /= c.dims[d];
        so += idx * c.src[d];
        dof += idx * c.dst[d];
      }
      const E* s = src + so;
      E* o = dst + dof;
      if (si == 1 && di == 1) std::memcpy(o, s, sizeof(E) * static_cast<size_t>(inner));
      else for (int64_t j = 0; j < inner; ++j) o[j * di] = s[j * si];
    }
  });
}

template <class F>
void for_chunks(int64_t n, int64_t grain, F fn) {
  parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) { fn(lo, hi); });
}

}  // namespace

void fill(Tensor& dst, double value) {
  const int64_t n = dst.numel();
  dispatch_dtype(dst.dtype(), [&](auto z) {
    using T = decltype(z);
    const T v = static_cast<T>(value);
    T* p = dst.data<T>();
    for_chunks(n, 65536, [&](int64_t lo, int64_t hi) { std::fill(p + lo, p + hi, v); });
    return 0;
  });
}

void copy(const Tensor& src, Tensor& dst) {
  if (dst.numel() == 0) return;
  if (src.is_contiguous() && dst.is_contiguous()) {
    const char* s = static_cast<const char*>(src.raw());
    char* d = static_cast<char*>(dst.raw());
    for_chunks(static_cast<int64_t>(dst.nbytes()), 1 << 18, [&](int64_t lo, int64_t hi) { std::memcpy(d + lo, s + lo, hi - lo); });
    return;
  }
  const Collapsed c = collapse(dst.shape(), src.strides(), dst.strides());
  if (dtype_size(dst.dtype()) == 8) copy_strided(static_cast<const uint64_t*>(src.raw()), static_cast<uint64_t*>(dst.raw()), c);
  else copy_strided(static_cast<const uint32_t*>(src.raw()), static_cast<uint32_t*>(dst.raw()), c);
}

void cast(const Tensor& src, Tensor& dst) {
  const int64_t n = src.numel();
  dispatch_dtype(src.dtype(), [&](auto zs) {
    using S = decltype(zs);
    dispatch_dtype(dst.dtype(), [&](auto zt) {
      using T = decltype(zt);
      const S* s = src.data<S>();
      T* o = dst.data<T>();
      for_chunks(n, 65536, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) o[i] = static_cast<T>(s[i]);
      });
      return 0;
    });
    return 0;
  });
}

void to_host(const Tensor& src, void* host) {
  if (src.nbytes()) std::memcpy(host, src.raw(), src.nbytes());
}

void from_host(const void* host, Tensor& dst) {
  if (dst.nbytes()) std::memcpy(dst.raw(), host, dst.nbytes());
}

// Sequential on purpose: the values depend on the seed only, not on the thread count.
void random(Tensor& dst, RandomKind kind, uint64_t seed, double a, double b) {
  Rng rng(seed);
  const int64_t n = dst.numel();
  dispatch_float(dst.dtype(), [&](auto z) {
    using T = decltype(z);
    T* p = dst.data<T>();
    if (kind == RandomKind::Normal)
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(a + b * rng.normal());
    else
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(a + (b - a) * rng.uniform());
    return 0;
  });
}

void arange(Tensor& dst, double start, double step) {
  const int64_t n = dst.numel();
  dispatch_dtype(dst.dtype(), [&](auto z) {
    using T = decltype(z);
    T* p = dst.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
    return 0;
  });
}

Tensor index_select(const Tensor& x_in, const std::vector<int64_t>& idx) {
  const Tensor x = x_in.contiguous();
  Shape shape = x.shape();
  shape[0] = static_cast<int64_t>(idx.size());
  Tensor out = Tensor::empty(shape, x.dtype());
  const size_t row = x.size(0) ? x.nbytes() / static_cast<size_t>(x.size(0)) : 0;
  const char* s = static_cast<const char*>(x.raw());
  char* d = static_cast<char*>(out.raw());
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(65536 / std::max<size_t>(row, 1)));
  parallel_for(0, static_cast<int64_t>(idx.size()), grain, [&](int64_t a, int64_t b) {
    for (int64_t i = a; i < b; ++i) std::memcpy(d + static_cast<size_t>(i) * row, s + static_cast<size_t>(idx[i]) * row, row);
  });
  return out;
}

// Serial over the rows: two of them may land on the same destination.
void index_add(Tensor& dst, const std::vector<int64_t>& idx, const Tensor& src_in) {
  const Tensor src = src_in.contiguous();
  const int64_t D = dst.size(0) ? dst.numel() / dst.size(0) : 0;
  dispatch_float(dst.dtype(), [&](auto z) {
    using T = decltype(z);
    T* d = dst.data<T>();
    const T* s = src.data<T>();
    for (size_t i = 0; i < idx.size(); ++i) {
      T* row = d + idx[i] * D;
      const T* g = s + static_cast<int64_t>(i) * D;
      for (int64_t j = 0; j < D; ++j) row[j] += g[j];
    }
    return 0;
  });
}

}  // namespace qkv::backend::cpu_impl
