#pragma once
// The table of CPU kernels for one instruction-set level. kernels_impl.inc holds their single
// source; kernels_scalar.cpp, kernels_avx2.cpp and kernels_avx512.cpp compile it with different
// target flags, each inside its own namespace so that no inline function is shared between them.
#include <cstdint>

#include "cpu/simd.h"

namespace qkv::cpu {

// Equal gives 1 where a == b and 0 elsewhere (masks; it has no gradient).
enum class BinaryOp : uint8_t { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Equal };
enum class UnaryOp : uint8_t { Neg, Exp, Log, Sqrt, Tanh, Abs, Relu, GeluTanh, GeluErf, Sigmoid, QuickGelu };

template <class T> struct KernelsFor {
  // out[i] = a[i*sa] (op) b[i*sb]; sa, sb are element strides (0 broadcasts). out may alias a or b.
  void (*binary)(BinaryOp op, int64_t n, const T* a, int64_t sa, const T* b, int64_t sb, T* out);
  // out[i] = op(a[i]) for contiguous a and out (which may alias).
  void (*unary)(UnaryOp op, int64_t n, const T* a, T* out);
  // Row-wise over [rows, cols] contiguous: softmax, or log-softmax when `log`.
  void (*softmax_rows)(int64_t rows, int64_t cols, const T* x, T* out, bool log);
  // Row-wise layer norm over [rows, cols]; mean/rstd may be null, gamma/beta may be null.
  void (*layernorm_rows)(int64_t rows, int64_t cols, const T* x, const T* gamma, const T* beta, T eps, T* out,
                         T* mean, T* rstd);
  // Layer norm backward: dx rows from the output gradient g and the saved mean/rstd (gamma may be null).
  void (*layernorm_backward_rows)(int64_t rows, int64_t cols, const T* x, const T* g, const T* gamma, const T* mean,
                                  const T* rstd, T* dx);
  // Adds column sums over `rows` rows (stride ld) of g * xhat to dgamma and of g to dbeta.
  void (*layernorm_param_grads)(int64_t rows, int64_t cols, int64_t ld, const T* x, const T* g, const T* mean,
                                const T* rstd, T* dgamma, T* dbeta);
  // Sum of each row of [rows, cols], accumulated in double for float32.
  void (*sum_rows)(int64_t rows, int64_t cols, const T* x, T* out);
  // Largest of x[0..n) (-inf for n == 0).
  T (*row_max)(int64_t n, const T* x);
  // out[i] = g[i] * op'(x[i]), given y[i] = op(x[i]) too (some rules are cheaper from y).
  void (*unary_backward)(UnaryOp op, int64_t n, const T* x, const T* y, const T* g, T* out);
  // out[i] = exp(x[i] - shift); returns the sum of out. (The attention kernel's online softmax.)
  T (*exp_shift_sum)(int64_t n, const T* x, T shift, T* out);
};

struct Kernels {
  SimdLevel level;
  KernelsFor<float> f32;
  KernelsFor<double> f64;
  // int32 arithmetic (Pow and Div are rejected before they get here).
  void (*binary_i32)(BinaryOp op, int64_t n, const int32_t* a, int64_t sa, const int32_t* b, int64_t sb,
                     int32_t* out);
};

const Kernels& kernels();  // the table for simd_level()
const Kernels& kernels_for(SimdLevel level);

template <class T> const KernelsFor<T>& kernels_of();
template <> inline const KernelsFor<float>& kernels_of<float>() { return kernels().f32; }
template <> inline const KernelsFor<double>& kernels_of<double>() { return kernels().f64; }

namespace scalar_impl { void fill(Kernels* k); }
namespace avx2_impl { void fill(Kernels* k); }
namespace avx512_impl { void fill(Kernels* k); }

}  // namespace qkv::cpu
