#pragma once
// The dropout kernels (the law is in ops/op_args.h), one set per instruction-set level (the source
// is dropout_kernels.inc): out[i] = (x ? x[i] : 0) + y[i] * (keep(i) ? scale : 0) for i in [lo, hi).
#include <cstdint>

namespace qkv::cpu {

struct DropoutArgs {
  uint32_t s1, s2;      // the seed's two halves
  uint32_t threshold;   // keep when the element's hash >= threshold
  double scale;         // 1 / P(keep)
};

namespace dropout_scalar {
void dropout_f32(const DropoutArgs& a, const float* x, const float* y, float* out, int64_t lo, int64_t hi);
void dropout_f64(const DropoutArgs& a, const double* x, const double* y, double* out, int64_t lo, int64_t hi);
}  // namespace dropout_scalar

namespace dropout_avx2 {
void dropout_f32(const DropoutArgs& a, const float* x, const float* y, float* out, int64_t lo, int64_t hi);
void dropout_f64(const DropoutArgs& a, const double* x, const double* y, double* out, int64_t lo, int64_t hi);
}  // namespace dropout_avx2

}  // namespace qkv::cpu
