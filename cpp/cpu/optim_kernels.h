#pragma once
// The optimizers' elementwise loops over [0, n), compiled from optim_kernels_impl.inc once per SIMD level
// (optim_kernels_scalar.cpp, optim_kernels_avx2.cpp, optim_kernels_avx512.cpp) and picked by cpu::simd_level() at the
// time of the call. Each element depends only on its own inputs, so results do not depend on how
// the caller splits [0, n) across threads.
#include <cstdint>

namespace qkv::cpu::optim {

// p <- p * decay (AdamW); g' = g + l2 * p (Adam's L2); m <- b1 m + (1-b1) g'; v <- b2 v + (1-b2) g'^2;
// p <- p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
struct AdamArgs {
  double b1, b2, eps, bc2_sqrt, step_size, decay, l2;
};
// d = g + wd * p; with momentum: b = first ? d : mu b + damp d; d = nesterov ? d + mu b : b; p <- p - lr d
struct SgdArgs {
  double lr, wd, momentum, damp;
  bool nesterov, first;
};

struct Table {
  void (*adam_f32)(float* p, const float* g, float* m, float* v, int64_t n, const AdamArgs& a);
  void (*adam_f64)(double* p, const double* g, double* m, double* v, int64_t n, const AdamArgs& a);
  void (*sgd_f32)(float* p, const float* g, float* buf, int64_t n, const SgdArgs& a);  // buf null: no momentum
  void (*sgd_f64)(double* p, const double* g, double* buf, int64_t n, const SgdArgs& a);
  double (*sumsq_f32)(const float* x, int64_t n);   // in double
  double (*sumsq_f64)(const double* x, int64_t n);
  void (*scale_f32)(float* x, int64_t n, float c);
  void (*scale_f64)(double* x, int64_t n, double c);
};

const Table& table();  // for the current cpu::simd_level()

namespace scalar_impl { extern const Table kTable; }
namespace avx2_impl { extern const Table kTable; }
namespace avx512_impl { extern const Table kTable; }

}  // namespace qkv::cpu::optim
