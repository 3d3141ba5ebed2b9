#include "transformer/fused.h"

#include <cmath>
#include <type_traits>

#include "autograd/autograd.h"
#include "autograd/functions.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/simd.h"
#include "transformer/dropout_kernels.h"

namespace qkv::transformer {

namespace {

DropoutArgs law_of(double p, uint64_t seed, const char* op) {
  if (!(p >= 0 && p < 1)) throw_range(std::string(op) + ": p must be in [0, 1), got " + std::to_string(p));
  DropoutArgs a;
  const double t = std::round(p * 4294967296.0);
  a.threshold = t >= 4294967295.0 ? 4294967295U : static_cast<uint32_t>(t);
  a.scale = 1.0 / (1.0 - static_cast<double>(a.threshold) / 4294967296.0);
  a.s1 = static_cast<uint32_t>(seed);
  a.s2 = static_cast<uint32_t>(seed >> 32) ^ 0x9e3779b9U;
  return a;
}

constexpr int64_t kGrain = 32768;  // elements per task

template <class T>
void kernel(const DropoutArgs& a, const T* x, const T* y, T* out, int64_t lo, int64_t hi) {
  const bool avx2 = cpu::simd_level() >= cpu::SimdLevel::AVX2;
  if constexpr (std::is_same_v<T, float>) {
    if (avx2) dropout_avx2::dropout_f32(a, x, y, out, lo, hi);
    else dropout_scalar::dropout_f32(a, x, y, out, lo, hi);
  } else {
    if (avx2) dropout_avx2::dropout_f64(a, x, y, out, lo, hi);
    else dropout_scalar::dropout_f64(a, x, y, out, lo, hi);
  }
}

// out = (x ?: 0) + y * mask * scale, all contiguous, same shape and dtype.
Tensor compute(const Tensor* x, const Tensor& y, const DropoutArgs& a) {
  Tensor out = Tensor::empty(y.shape(), y.dtype());
  const int64_t n = y.numel();
  dispatch_float(y.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = x ? x->template data<T>() : nullptr;
    const T* py = y.template data<T>();
    T* po = out.template data<T>();
    const int64_t tasks = (n + kGrain - 1) / kGrain;
    if (tasks <= 1) kernel<T>(a, px, py, po, 0, n);
    else
      parallel_for(0, tasks, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t t = lo; t < hi; ++t) kernel<T>(a, px, py, po, t * kGrain, std::min(n, (t + 1) * kGrain));
      });
    return 0;
  });
  return out;
}

void check_float(const Tensor& t, const char* op) {
  if (!t.defined() || !is_float(t.dtype())) throw_type(std::string(op) + ": the input must be a float tensor");
}

}  // namespace

Tensor dropout(const Tensor& y_in, double p, uint64_t seed) {
  const char* op = "dropout";
  check_float(y_in, op);
  const DropoutArgs law = law_of(p, seed, op);
  if (law.threshold == 0) return y_in;
  const Tensor y = y_in.contiguous();
  Tensor out = compute(nullptr, y, law);
  if (needs_grad({&y_in})) {
    record(out, OpKind::Mul, {y_in}, [law](const Tensor& g) { return std::vector<Tensor>{compute(nullptr, g.contiguous(), law)}; });
  }
  return out;
}

Tensor add_dropout(const Tensor& x_in, const Tensor& y_in, double p, uint64_t seed) {
  const char* op = "add_dropout";
  check_float(x_in, op);
  check_float(y_in, op);
  if (x_in.shape() != y_in.shape() || x_in.dtype() != y_in.dtype())
    throw_range(std::string(op) + ": x " + shape_str(x_in.shape()) + " and y " + shape_str(y_in.shape()) + " must match");
  const DropoutArgs law = law_of(p, seed, op);
  if (law.threshold == 0) return ag::add(x_in, y_in);
  const Tensor x = x_in.contiguous(), y = y_in.contiguous();
  Tensor out = compute(&x, y, law);
  if (needs_grad({&x_in, &y_in})) {
    const bool gx = x_in.requires_grad(), gy = y_in.requires_grad();
    record(out, OpKind::Add, {x_in, y_in}, [law, gx, gy](const Tensor& g) {
      const Tensor gc = g.contiguous();
      return std::vector<Tensor>{gx ? gc : Tensor(), gy ? compute(nullptr, gc, law) : Tensor()};
    });
  }
  return out;
}

}  // namespace qkv::transformer
