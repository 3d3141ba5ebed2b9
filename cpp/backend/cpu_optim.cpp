// The CPU's optimizer entries: in-place updates over fixed chunks of a parameter (each element
// depends only on its own inputs, so the thread split never changes the result).
#include "backend/backend.h"
#include "core/thread_pool.h"
#include "cpu/optim_kernels.h"

namespace qkv::backend::cpu_impl {

namespace {

constexpr int64_t kGrain = 16384;

template <class F> void chunked(int64_t n, F fn) {
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) { fn(lo, hi); });
}

}  // namespace

void adam_step(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamStep& a) {
  const auto& k = cpu::optim::table();
  if (p.dtype() == DType::F64) {
    double *pp = p.data<double>(), *pm = m.data<double>(), *pv = v.data<double>();
    const double* pg = g.data<double>();
    chunked(p.numel(), [&](int64_t lo, int64_t hi) { k.adam_f64(pp + lo, pg + lo, pm + lo, pv + lo, hi - lo, a); });
  } else {
    float *pp = p.data<float>(), *pm = m.data<float>(), *pv = v.data<float>();
    const float* pg = g.data<float>();
    chunked(p.numel(), [&](int64_t lo, int64_t hi) { k.adam_f32(pp + lo, pg + lo, pm + lo, pv + lo, hi - lo, a); });
  }
}

void sgd_step(Tensor& p, const Tensor& g, Tensor* momentum, const SgdStep& a) {
  const auto& k = cpu::optim::table();
  if (p.dtype() == DType::F64) {
    double* pp = p.data<double>();
    double* pb = momentum ? momentum->data<double>() : nullptr;
    const double* pg = g.data<double>();
    chunked(p.numel(), [&](int64_t lo, int64_t hi) { k.sgd_f64(pp + lo, pg + lo, pb ? pb + lo : nullptr, hi - lo, a); });
  } else {
    float* pp = p.data<float>();
    float* pb = momentum ? momentum->data<float>() : nullptr;
    const float* pg = g.data<float>();
    chunked(p.numel(), [&](int64_t lo, int64_t hi) { k.sgd_f32(pp + lo, pg + lo, pb ? pb + lo : nullptr, hi - lo, a); });
  }
}

void scale_inplace(Tensor& x, double c) {
  const auto& k = cpu::optim::table();
  if (x.dtype() == DType::F64) {
    double* px = x.data<double>();
    chunked(x.numel(), [&](int64_t lo, int64_t hi) { k.scale_f64(px + lo, hi - lo, c); });
  } else {
    float* px = x.data<float>();
    const float cf = static_cast<float>(c);
    chunked(x.numel(), [&](int64_t lo, int64_t hi) { k.scale_f32(px + lo, hi - lo, cf); });
  }
}

}  // namespace qkv::backend::cpu_impl
