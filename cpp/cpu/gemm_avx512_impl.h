// The body of the AVX-512 GEMM micro-kernels, included inside a namespace (no include guard, no
// #includes: the includer provides <cstdint>, cpu/gemm_kernels.h and cpu/gemm_pack.h). Their
// panels are packed by the portable template (gemm_pack.h, instantiated in gemm.cpp).
//   cpp/cpu/gemm_avx512.cpp            : namespace qkv::cpu::gemm_avx512, compiled with -mavx512f...
//   bench/native/gemm_avx512_emu.cpp   : namespace qkv::cpu::gemm_avx512_emu, baseline flags, so that
//                                        the same logic is checked on machines without AVX-512.
// Written with GCC/Clang vector extensions (64-byte vectors = one zmm register) instead of
// intrinsics for that reason. With -ffp-contract=fast (the GNU dialect's default) `acc += a * b`
// compiles to vfmadd231ps with an embedded broadcast.
//   fp32: 12 x 32 register block (24 zmm accumulators + 2 B vectors + 1 broadcast).
//   fp64: 12 x 16 register block.
// Functions in this file take no vector-typed parameters (keeps the ABI the same with or without
// AVX-512 enabled).

namespace {

constexpr int SMR = 12, SNR = 32, DMR = 12, DNR = 16;

typedef float v16sf __attribute__((vector_size(64)));
typedef double v8df __attribute__((vector_size(64)));
typedef float v16sf_u __attribute__((vector_size(64), aligned(4)));
typedef double v8df_u __attribute__((vector_size(64), aligned(8)));

}  // namespace

#define QKV_ROWS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

// ---- fp32 micro-kernel: 12 x 32 ---------------------------------------------------------------

void sgemm_micro(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t m, int64_t n,
                 float alpha, float beta) {
#define QKV_DECL(i) v16sf c##i##a = {}, c##i##b = {};
  QKV_ROWS12(QKV_DECL)
#undef QKV_DECL
  for (int64_t k = 0; k < kc; ++k) {
    const v16sf b0 = *reinterpret_cast<const v16sf*>(b);
    const v16sf b1 = *reinterpret_cast<const v16sf*>(b + 16);
#define QKV_FMA(i)            \
  {                           \
    const float ai = a[i];    \
    c##i##a += ai * b0;       \
    c##i##b += ai * b1;       \
  }
    QKV_ROWS12(QKV_FMA)
#undef QKV_FMA
    a += SMR;
    b += SNR;
  }
  if (m == SMR && n == SNR) {
#define QKV_ST(i)                                                        \
  {                                                                      \
    v16sf_u* p0 = reinterpret_cast<v16sf_u*>(c + (i) * ldc);             \
    v16sf_u* p1 = reinterpret_cast<v16sf_u*>(c + (i) * ldc + 16);        \
    if (beta == 0.0f) {                                                  \
      *p0 = alpha * c##i##a;                                             \
      *p1 = alpha * c##i##b;                                             \
    } else {                                                             \
      *p0 = alpha * c##i##a + beta * *p0;                                \
      *p1 = alpha * c##i##b + beta * *p1;                                \
    }                                                                    \
  }
    QKV_ROWS12(QKV_ST)
#undef QKV_ST
    return;
  }
  alignas(64) float t[SMR * SNR];
#define QKV_TMP(i)                                                  \
  *reinterpret_cast<v16sf*>(t + (i) * SNR) = c##i##a;               \
  *reinterpret_cast<v16sf*>(t + (i) * SNR + 16) = c##i##b;
  QKV_ROWS12(QKV_TMP)
#undef QKV_TMP
  store_tile(t, SNR, c, ldc, m, n, alpha, beta);
}

// ---- fp64 micro-kernel: 12 x 16 ---------------------------------------------------------------

void dgemm_micro(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, int64_t m, int64_t n,
                 double alpha, double beta) {
#define QKV_DECL(i) v8df c##i##a = {}, c##i##b = {};
  QKV_ROWS12(QKV_DECL)
#undef QKV_DECL
  for (int64_t k = 0; k < kc; ++k) {
    const v8df b0 = *reinterpret_cast<const v8df*>(b);
    const v8df b1 = *reinterpret_cast<const v8df*>(b + 8);
#define QKV_FMA(i)            \
  {                           \
    const double ai = a[i];   \
    c##i##a += ai * b0;       \
    c##i##b += ai * b1;       \
  }
    QKV_ROWS12(QKV_FMA)
#undef QKV_FMA
    a += DMR;
    b += DNR;
  }
  if (m == DMR && n == DNR) {
#define QKV_ST(i)                                                        \
  {                                                                      \
    v8df_u* p0 = reinterpret_cast<v8df_u*>(c + (i) * ldc);               \
    v8df_u* p1 = reinterpret_cast<v8df_u*>(c + (i) * ldc + 8);           \
    if (beta == 0.0) {                                                   \
      *p0 = alpha * c##i##a;                                             \
      *p1 = alpha * c##i##b;                                             \
    } else {                                                             \
      *p0 = alpha * c##i##a + beta * *p0;                                \
      *p1 = alpha * c##i##b + beta * *p1;                                \
    }                                                                    \
  }
    QKV_ROWS12(QKV_ST)
#undef QKV_ST
    return;
  }
  alignas(64) double t[DMR * DNR];
#define QKV_TMP(i)                                                  \
  *reinterpret_cast<v8df*>(t + (i) * DNR) = c##i##a;                \
  *reinterpret_cast<v8df*>(t + (i) * DNR + 8) = c##i##b;
  QKV_ROWS12(QKV_TMP)
#undef QKV_TMP
  store_tile(t, DNR, c, ldc, m, n, alpha, beta);
}

#undef QKV_ROWS12
