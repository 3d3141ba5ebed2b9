// GEMM micro-kernels for the AVX2+FMA level (compiled with -mavx2 -mfma -mf16c), and the fp32
// packing, which is the shared template (gemm_pack.h) with 8x8 transposes for the gather form.
// fp32: 6x16 register block (12 ymm accumulators, 2 B vectors, 2 A broadcasts: all 16 registers),
// its k loop in inline assembly.
// fp64: 6x8 register block, same shape in doubles (packed by the portable template, gemm.cpp).
// Packed layouts and the micro-kernel contract are described in gemm_kernels.h.
// Only intrinsics, that loop, plain loops and gemm_pack.h's internal templates here: no std::
// templates and no inline functions shared with other translation units (see the ODR note in
// gemm_kernels.h).
#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm_kernels.h"
#include "cpu/gemm_pack.h"

namespace qkv::cpu::gemm_avx2 {

namespace {

constexpr int SMR = kSgemmMR, SNR = kSgemmNR, DMR = kDgemmMR, DNR = kDgemmNR;
static_assert(SMR == 6 && SNR == 16, "the assembly k loop of sgemm_micro hard-codes a 6 x 16 tile");

}  // namespace

// ---- fp32 micro-kernel: 6 x 16 ----------------------------------------------------------------

// One k step in assembly: B row (2 x 8 floats) at byte offset b0 of `b`, the 6 A values at byte
// offset a0 of `a`; accumulators pinned to ymm4..ymm15, scratch ymm0..ymm3.
#define QKV_S_ASM_STEP(a0, a1, a2, a3, a4, a5, b0, b1) \
  "vmovaps " #b0 "(%[b]), %%ymm0\n\t"                  \
  "vmovaps " #b1 "(%[b]), %%ymm1\n\t"                  \
  "vbroadcastss " #a0 "(%[a]), %%ymm2\n\t"             \
  "vfmadd231ps %%ymm0, %%ymm2, %%ymm4\n\t"             \
  "vfmadd231ps %%ymm1, %%ymm2, %%ymm5\n\t"             \
  "vbroadcastss " #a1 "(%[a]), %%ymm3\n\t"             \
  "vfmadd231ps %%ymm0, %%ymm3, %%ymm6\n\t"             \
  "vfmadd231ps %%ymm1, %%ymm3, %%ymm7\n\t"             \
  "vbroadcastss " #a2 "(%[a]), %%ymm2\n\t"             \
  "vfmadd231ps %%ymm0, %%ymm2, %%ymm8\n\t"             \
  "vfmadd231ps %%ymm1, %%ymm2, %%ymm9\n\t"             \
  "vbroadcastss " #a3 "(%[a]), %%ymm3\n\t"             \
  "vfmadd231ps %%ymm0, %%ymm3, %%ymm10\n\t"            \
  "vfmadd231ps %%ymm1, %%ymm3, %%ymm11\n\t"            \
  "vbroadcastss " #a4 "(%[a]), %%ymm2\n\t"             \
  "vfmadd231ps %%ymm0, %%ymm2, %%ymm12\n\t"            \
  "vfmadd231ps %%ymm1, %%ymm2, %%ymm13\n\t"            \
  "vbroadcastss " #a5 "(%[a]), %%ymm3\n\t"             \
  "vfmadd231ps %%ymm0, %%ymm3, %%ymm14\n\t"            \
  "vfmadd231ps %%ymm1, %%ymm3, %%ymm15\n\t"

// The k loop is written in assembly: GCC's allocation of the intrinsic version added register
// moves and ran ~5-8% slower in the full GEMM on Zen 3 (measured with 1024-2048 single-threaded).
void sgemm_micro(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t m, int64_t n,
                 float alpha, float beta) {
  register __m256 c00 asm("ymm4") = _mm256_setzero_ps();
  register __m256 c01 asm("ymm5") = _mm256_setzero_ps();
  register __m256 c10 asm("ymm6") = _mm256_setzero_ps();
  register __m256 c11 asm("ymm7") = _mm256_setzero_ps();
  register __m256 c20 asm("ymm8") = _mm256_setzero_ps();
  register __m256 c21 asm("ymm9") = _mm256_setzero_ps();
  register __m256 c30 asm("ymm10") = _mm256_setzero_ps();
  register __m256 c31 asm("ymm11") = _mm256_setzero_ps();
  register __m256 c40 asm("ymm12") = _mm256_setzero_ps();
  register __m256 c41 asm("ymm13") = _mm256_setzero_ps();
  register __m256 c50 asm("ymm14") = _mm256_setzero_ps();
  register __m256 c51 asm("ymm15") = _mm256_setzero_ps();

  const bool full = m == SMR && n == SNR;
  if (full) {
    for (int i = 0; i < SMR; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + SNR - 1), _MM_HINT_T0);
    }
  }
  int64_t k4 = kc / 4, k1 = kc % 4;
  if (k4 > 0) {
    __asm__ volatile(
        "1:\n\t"
        "prefetcht0 256(%[a])\n\t"
        QKV_S_ASM_STEP(0, 4, 8, 12, 16, 20, 0, 32)
        QKV_S_ASM_STEP(24, 28, 32, 36, 40, 44, 64, 96)
        QKV_S_ASM_STEP(48, 52, 56, 60, 64, 68, 128, 160)
        QKV_S_ASM_STEP(72, 76, 80, 84, 88, 92, 192, 224)
        "addq $96, %[a]\n\t"
        "addq $256, %[b]\n\t"
        "decq %[k]\n\t"
        "jnz 1b\n\t"
        : [a] "+r"(a), [b] "+r"(b), [k] "+r"(k4), "+x"(c00), "+x"(c01), "+x"(c10), "+x"(c11), "+x"(c20),
          "+x"(c21), "+x"(c30), "+x"(c31), "+x"(c40), "+x"(c41), "+x"(c50), "+x"(c51)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "memory", "cc");
  }
  if (k1 > 0) {
    __asm__ volatile(
        "1:\n\t"
        QKV_S_ASM_STEP(0, 4, 8, 12, 16, 20, 0, 32)
        "addq $24, %[a]\n\t"
        "addq $64, %[b]\n\t"
        "decq %[k]\n\t"
        "jnz 1b\n\t"
        : [a] "+r"(a), [b] "+r"(b), [k] "+r"(k1), "+x"(c00), "+x"(c01), "+x"(c10), "+x"(c11), "+x"(c20),
          "+x"(c21), "+x"(c30), "+x"(c31), "+x"(c40), "+x"(c41), "+x"(c50), "+x"(c51)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "memory", "cc");
  }
#undef QKV_S_ASM_STEP

  const __m256 va = _mm256_set1_ps(alpha);
  if (full) {
    float* c0 = c;
    float* c1 = c + ldc;
    float* c2 = c + 2 * ldc;
    float* c3 = c + 3 * ldc;
    float* c4 = c + 4 * ldc;
    float* c5 = c + 5 * ldc;
    if (beta == 0.0f) {
#define QKV_S_ST(p, x0, x1)                             \
  _mm256_storeu_ps(p, _mm256_mul_ps(va, x0));           \
  _mm256_storeu_ps(p + 8, _mm256_mul_ps(va, x1));
      QKV_S_ST(c0, c00, c01) QKV_S_ST(c1, c10, c11) QKV_S_ST(c2, c20, c21)
      QKV_S_ST(c3, c30, c31) QKV_S_ST(c4, c40, c41) QKV_S_ST(c5, c50, c51)
#undef QKV_S_ST
    } else {
      const __m256 vb = _mm256_set1_ps(beta);
#define QKV_S_ST(p, x0, x1)                                                                  \
  _mm256_storeu_ps(p, _mm256_fmadd_ps(va, x0, _mm256_mul_ps(vb, _mm256_loadu_ps(p))));       \
  _mm256_storeu_ps(p + 8, _mm256_fmadd_ps(va, x1, _mm256_mul_ps(vb, _mm256_loadu_ps(p + 8))));
      QKV_S_ST(c0, c00, c01) QKV_S_ST(c1, c10, c11) QKV_S_ST(c2, c20, c21)
      QKV_S_ST(c3, c30, c31) QKV_S_ST(c4, c40, c41) QKV_S_ST(c5, c50, c51)
#undef QKV_S_ST
    }
    return;
  }
  alignas(32) float t[SMR * SNR];
  _mm256_store_ps(t + 0, c00), _mm256_store_ps(t + 8, c01);
  _mm256_store_ps(t + 16, c10), _mm256_store_ps(t + 24, c11);
  _mm256_store_ps(t + 32, c20), _mm256_store_ps(t + 40, c21);
  _mm256_store_ps(t + 48, c30), _mm256_store_ps(t + 56, c31);
  _mm256_store_ps(t + 64, c40), _mm256_store_ps(t + 72, c41);
  _mm256_store_ps(t + 80, c50), _mm256_store_ps(t + 88, c51);
  store_tile(t, SNR, c, ldc, m, n, alpha, beta);
}

// ---- fp64 micro-kernel: 6 x 8 -----------------------------------------------------------------

void dgemm_micro(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, int64_t m, int64_t n,
                 double alpha, double beta) {
  __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
  __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
  __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
  __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
  __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
  __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();

#define QKV_D_STEP(off_a, off_b)                                                 \
  {                                                                              \
    const __m256d b0 = _mm256_load_pd(b + (off_b)), b1 = _mm256_load_pd(b + (off_b) + 4); \
    __m256d av = _mm256_broadcast_sd(a + (off_a) + 0);                           \
    c00 = _mm256_fmadd_pd(av, b0, c00);                                          \
    c01 = _mm256_fmadd_pd(av, b1, c01);                                          \
    av = _mm256_broadcast_sd(a + (off_a) + 1);                                   \
    c10 = _mm256_fmadd_pd(av, b0, c10);                                          \
    c11 = _mm256_fmadd_pd(av, b1, c11);                                          \
    av = _mm256_broadcast_sd(a + (off_a) + 2);                                   \
    c20 = _mm256_fmadd_pd(av, b0, c20);                                          \
    c21 = _mm256_fmadd_pd(av, b1, c21);                                          \
    av = _mm256_broadcast_sd(a + (off_a) + 3);                                   \
    c30 = _mm256_fmadd_pd(av, b0, c30);                                          \
    c31 = _mm256_fmadd_pd(av, b1, c31);                                          \
    av = _mm256_broadcast_sd(a + (off_a) + 4);                                   \
    c40 = _mm256_fmadd_pd(av, b0, c40);                                          \
    c41 = _mm256_fmadd_pd(av, b1, c41);                                          \
    av = _mm256_broadcast_sd(a + (off_a) + 5);                                   \
    c50 = _mm256_fmadd_pd(av, b0, c50);                                          \
    c51 = _mm256_fmadd_pd(av, b1, c51);                                          \
  }

  int64_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(a + 48), _MM_HINT_T0);
    QKV_D_STEP(0, 0)
    QKV_D_STEP(6, 8)
    QKV_D_STEP(12, 16)
    QKV_D_STEP(18, 24)
    a += 4 * DMR;
    b += 4 * DNR;
  }
  for (; k < kc; ++k) {
    QKV_D_STEP(0, 0)
    a += DMR;
    b += DNR;
  }
#undef QKV_D_STEP

  alignas(32) double t[DMR * DNR];
  _mm256_store_pd(t + 0, c00), _mm256_store_pd(t + 4, c01);
  _mm256_store_pd(t + 8, c10), _mm256_store_pd(t + 12, c11);
  _mm256_store_pd(t + 16, c20), _mm256_store_pd(t + 20, c21);
  _mm256_store_pd(t + 24, c30), _mm256_store_pd(t + 28, c31);
  _mm256_store_pd(t + 32, c40), _mm256_store_pd(t + 36, c41);
  _mm256_store_pd(t + 40, c50), _mm256_store_pd(t + 44, c51);
  if (m == DMR && n == DNR) {
    const __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta);
    for (int i = 0; i < DMR; ++i) {
      double* cr = c + i * ldc;
      for (int j = 0; j < DNR; j += 4) {
        __m256d x = _mm256_mul_pd(va, _mm256_load_pd(t + i * DNR + j));
        if (beta != 0.0) x = _mm256_fmadd_pd(vb, _mm256_loadu_pd(cr + j), x);
        _mm256_storeu_pd(cr + j, x);
      }
    }
    return;
  }
  store_tile(t, DNR, c, ldc, m, n, alpha, beta);
}

// ---- fp32 packing ------------------------------------------------------------------------------

namespace {

// 8x8 fp32 transpose of r0..r7 in place.
#define QKV_TRANSPOSE8_PS(r0, r1, r2, r3, r4, r5, r6, r7)                           \
  do {                                                                              \
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);        \
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);        \
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);        \
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);        \
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE); \
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE); \
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE); \
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE); \
    r0 = _mm256_permute2f128_ps(s0, s4, 0x20);                                      \
    r1 = _mm256_permute2f128_ps(s1, s5, 0x20);                                      \
    r2 = _mm256_permute2f128_ps(s2, s6, 0x20);                                      \
    r3 = _mm256_permute2f128_ps(s3, s7, 0x20);                                      \
    r4 = _mm256_permute2f128_ps(s0, s4, 0x31);                                      \
    r5 = _mm256_permute2f128_ps(s1, s5, 0x31);                                      \
    r6 = _mm256_permute2f128_ps(s2, s6, 0x31);                                      \
    r7 = _mm256_permute2f128_ps(s3, s7, 0x31);                                      \
  } while (0)

// The gather form of pack_panel, 8 k at a time: d[k*ldd + r] = s[r*ld + k] for r < Rows, k < 8
// (8x8 transposes in registers instead of one strided load per element).
struct Transpose8x8 {
  static constexpr int kK = 8, kRows = 8;
  template <int Rows>
  static void block(const float* s, int64_t ld, float* d, int64_t ldd) {
    static_assert(Rows == 8 || Rows == 6, "the stores below write 8 or 6 floats");
    const __m256 z = _mm256_setzero_ps();
    __m256 x0 = _mm256_loadu_ps(s), x1 = _mm256_loadu_ps(s + ld), x2 = _mm256_loadu_ps(s + 2 * ld);
    __m256 x3 = _mm256_loadu_ps(s + 3 * ld), x4 = _mm256_loadu_ps(s + 4 * ld), x5 = _mm256_loadu_ps(s + 5 * ld);
    __m256 x6 = Rows > 6 ? _mm256_loadu_ps(s + 6 * ld) : z, x7 = Rows > 7 ? _mm256_loadu_ps(s + 7 * ld) : z;
    QKV_TRANSPOSE8_PS(x0, x1, x2, x3, x4, x5, x6, x7);
    const __m256 xs[8] = {x0, x1, x2, x3, x4, x5, x6, x7};
    for (int k = 0; k < 8; ++k) {
      if constexpr (Rows == 8) {
        _mm256_storeu_ps(d + k * ldd, xs[k]);
      } else {
        _mm_storeu_ps(d + k * ldd, _mm256_castps256_ps128(xs[k]));
        _mm_storel_pi(reinterpret_cast<__m64*>(d + k * ldd + 4), _mm256_extractf128_ps(xs[k], 1));
      }
    }
  }
};

}  // namespace

void sgemm_pack_a(bool trans, const float* src, int64_t ld, int64_t i0, int64_t p0, int64_t m, int64_t kc,
                  float* dst) {
  pack_a_panel<float, SMR, Transpose8x8>(trans, src, ld, i0, p0, m, kc, dst);
}

void sgemm_pack_b(bool trans, const float* src, int64_t ld, int64_t j0, int64_t p0, int64_t n, int64_t kc,
                  float* dst) {
  pack_b_panel<float, SNR, Transpose8x8>(trans, src, ld, j0, p0, n, kc, dst);
}

#undef QKV_TRANSPOSE8_PS

// ---- the unpacked path for tiny problems ------------------------------------------------------

namespace {

// The first n (0..8) lanes set.
__m256i gemm_avx2_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Four dot products of length K: x . y0 .. x . y3 into t, 8 k per step (mk masks the last K % 8).
void gemm_avx2_dot4(const float* x, const float* y0, const float* y1, const float* y2, const float* y3, int64_t K,
                    __m256i mk, float* t) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  const int64_t kfull = K & ~int64_t(7);
  int64_t k = 0;
  for (; k < kfull; k += 8) {
    const __m256 v = _mm256_loadu_ps(x + k);
    acc0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(y0 + k), acc0);
    acc1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(y1 + k), acc1);
    acc2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(y2 + k), acc2);
    acc3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(y3 + k), acc3);
  }
  if (k < K) {
    const __m256 v = _mm256_maskload_ps(x + k, mk);
    acc0 = _mm256_fmadd_ps(v, _mm256_maskload_ps(y0 + k, mk), acc0);
    acc1 = _mm256_fmadd_ps(v, _mm256_maskload_ps(y1 + k, mk), acc1);
    acc2 = _mm256_fmadd_ps(v, _mm256_maskload_ps(y2 + k, mk), acc2);
    acc3 = _mm256_fmadd_ps(v, _mm256_maskload_ps(y3 + k, mk), acc3);
  }
  // Horizontal sums of the four accumulators, in one vector.
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc0, acc1), _mm256_hadd_ps(acc2, acc3));
  _mm_storeu_ps(t, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}

}  // namespace

void sgemm_small(bool ta, bool tb, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (!tb) {
    // Row i of C as a combination of rows of op(B): 64 columns (8 ymm accumulators) at a time while
    // they last, then 32 (4 accumulators, masked at the edge).
    for (int64_t i = i0; i < i1; ++i) {
      int64_t j = j0;
      for (; j + 64 <= j1; j += 64) {
        __m256 x0 = _mm256_setzero_ps(), x1 = _mm256_setzero_ps(), x2 = _mm256_setzero_ps();
        __m256 x3 = _mm256_setzero_ps(), x4 = _mm256_setzero_ps(), x5 = _mm256_setzero_ps();
        __m256 x6 = _mm256_setzero_ps(), x7 = _mm256_setzero_ps();
        const float* b = B + j;
        for (int64_t k = 0; k < K; ++k, b += ldb) {
          const __m256 a = _mm256_set1_ps(ta ? A[k * lda + i] : A[i * lda + k]);
          x0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b), x0);
          x1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b + 8), x1);
          x2 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b + 16), x2);
          x3 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b + 24), x3);
          x4 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b + 32), x4);
          x5 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b + 40), x5);
          x6 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b + 48), x6);
          x7 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b + 56), x7);
        }
        float* c = C + i * ldc + j;
        const __m256 xs[8] = {x0, x1, x2, x3, x4, x5, x6, x7};
        for (int v = 0; v < 8; ++v) {
          __m256 y = _mm256_mul_ps(va, xs[v]);
          if (beta != 0.0f) y = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8 * v), y);
          _mm256_storeu_ps(c + 8 * v, y);
        }
      }
      for (; j < j1; j += 32) {
        const int64_t w = j1 - j < 32 ? j1 - j : 32;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
        const float* b = B + j;
        if (w == 32) {
          for (int64_t k = 0; k < K; ++k, b += ldb) {
            const __m256 a = _mm256_set1_ps(ta ? A[k * lda + i] : A[i * lda + k]);
            acc0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b), acc0);
            acc1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b + 8), acc1);
            acc2 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b + 16), acc2);
            acc3 = _mm256_fmadd_ps(a, _mm256_loadu_ps(b + 24), acc3);
          }
        } else {
          const __m256i m0 = gemm_avx2_lanes(w), m1 = gemm_avx2_lanes(w - 8);
          const __m256i m2 = gemm_avx2_lanes(w - 16), m3 = gemm_avx2_lanes(w - 24);
          for (int64_t k = 0; k < K; ++k, b += ldb) {
            const __m256 a = _mm256_set1_ps(ta ? A[k * lda + i] : A[i * lda + k]);
            acc0 = _mm256_fmadd_ps(a, _mm256_maskload_ps(b, m0), acc0);
            if (w > 8) acc1 = _mm256_fmadd_ps(a, _mm256_maskload_ps(b + 8, m1), acc1);
            if (w > 16) acc2 = _mm256_fmadd_ps(a, _mm256_maskload_ps(b + 16, m2), acc2);
            if (w > 24) acc3 = _mm256_fmadd_ps(a, _mm256_maskload_ps(b + 24, m3), acc3);
          }
        }
        alignas(32) float t[32];
        _mm256_store_ps(t, acc0);
        _mm256_store_ps(t + 8, acc1);
        _mm256_store_ps(t + 16, acc2);
        _mm256_store_ps(t + 24, acc3);
        float* c = C + i * ldc + j;
        if (w == 32) {
          for (int v = 0; v < 32; v += 8) {
            __m256 x = _mm256_mul_ps(va, _mm256_load_ps(t + v));
            if (beta != 0.0f) x = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + v), x);
            _mm256_storeu_ps(c + v, x);
          }
        } else {
          for (int64_t q = 0; q < w; ++q) c[q] = beta == 0.0f ? alpha * t[q] : alpha * t[q] + beta * c[q];
        }
      }
    }
    return;
  }
  if (!ta) {
    // C[i, j] = row i of A . row j of B (op(B) = B^T): 4 dot products at a time (one row of A with 4
    // of B, or 4 rows of A with the one column of C), 8 k per step.
    const __m256i mk = gemm_avx2_lanes(K & 7);
    alignas(16) float t[4];
    if (j1 - j0 == 1) {
      const float* b = B + j0 * ldb;
      for (int64_t i = i0; i < i1; i += 4) {
        const int64_t h = i1 - i < 4 ? i1 - i : 4;
        const float* a0 = A + i * lda;
        gemm_avx2_dot4(b, a0, h > 1 ? a0 + lda : a0, h > 2 ? a0 + 2 * lda : a0, h > 3 ? a0 + 3 * lda : a0, K, mk, t);
        for (int64_t q = 0; q < h; ++q) {
          float* c = C + (i + q) * ldc + j0;
          *c = beta == 0.0f ? alpha * t[q] : alpha * t[q] + beta * *c;
        }
      }
      return;
    }
    for (int64_t i = i0; i < i1; ++i) {
      const float* a = A + i * lda;
      for (int64_t j = j0; j < j1; j += 4) {
        const int64_t w = j1 - j < 4 ? j1 - j : 4;
        const float* b0 = B + j * ldb;
        gemm_avx2_dot4(a, b0, w > 1 ? b0 + ldb : b0, w > 2 ? b0 + 2 * ldb : b0, w > 3 ? b0 + 3 * ldb : b0, K, mk, t);
        float* c = C + i * ldc + j;
        for (int64_t q = 0; q < w; ++q) c[q] = beta == 0.0f ? alpha * t[q] : alpha * t[q] + beta * c[q];
      }
    }
    return;
  }
  // op(A) = A^T and op(B) = B^T (rare): plain loops.
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t j = j0; j < j1; ++j) {
      float acc = 0.0f;
      for (int64_t k = 0; k < K; ++k) acc += A[k * lda + i] * B[j * ldb + k];
      float* c = C + i * ldc + j;
      *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
    }
}

}  // namespace qkv::cpu::gemm_avx2
