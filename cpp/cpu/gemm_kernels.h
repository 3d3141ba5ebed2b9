#pragma once
// Internal to the GEMM: the micro-kernels and packing routines of each SIMD level, used by the
// driver in gemm.cpp. Each level lives in its own namespace and its own translation unit
// (gemm_avx2.cpp, gemm_avx512.cpp are compiled with their ISA flags; the scalar level lives in
// gemm.cpp). Only plain functions are declared here: no inline functions or templates, so that no
// code compiled for one ISA can be picked by the linker for another. The packing itself is one
// template with internal linkage (gemm_pack.h).
//
// Packed layouts (what every level agrees on):
//   A panel: MR rows of op(A) for kc steps, stored k-major: a[k*MR + i]; rows past M are zero.
//   B panel: NR columns of op(B) for kc steps, stored k-major: b[k*NR + j]; columns past N are zero.
// Micro-kernel: C[0:m, 0:n] = alpha * (Apanel * Bpanel) + beta * C, m <= MR, n <= NR; with
// beta == 0, C is not read.
#include <cstdint>

#include "cpu/simd.h"

namespace qkv::cpu {

using SgemmMicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t m,
                                  int64_t n, float alpha, float beta);
using DgemmMicroKernel = void (*)(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, int64_t m,
                                  int64_t n, double alpha, double beta);
// Packs rows [i0, i0+m) (m <= MR) x depth [p0, p0+kc) of op(A) into one A panel; likewise for B
// with columns [j0, j0+n) (n <= NR) of op(B). `trans` says whether the operand is stored transposed.
using SgemmPack = void (*)(bool trans, const float* src, int64_t ld, int64_t i0, int64_t p0, int64_t m, int64_t kc,
                           float* dst);
using DgemmPack = void (*)(bool trans, const double* src, int64_t ld, int64_t i0, int64_t p0, int64_t m, int64_t kc,
                           double* dst);

// The unpacked path: C[i0:i1, j0:j1] = alpha * op(A) op(B) + beta * C, straight from A and B (row
// and column indices are those of C; A, B and C point at the whole matrices).
using SgemmSmall = void (*)(bool trans_a, bool trans_b, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t K,
                            float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                            float* C, int64_t ldc);
using DgemmSmall = void (*)(bool trans_a, bool trans_b, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t K,
                            double alpha, const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                            double* C, int64_t ldc);

// One SIMD level's GEMM: register-block shape, cache blocking and routines.
struct SgemmLevel {
  int mr, nr;              // micro-tile
  int64_t mc, kc, nc;      // cache blocks: A block mc x kc (L2), B panel kc x NR (L1), B block kc x nc (L3)
  SgemmMicroKernel micro;
  SgemmPack pack_a, pack_b;
  SgemmSmall small;
};
struct DgemmLevel {
  int mr, nr;
  int64_t mc, kc, nc;
  DgemmMicroKernel micro;
  DgemmPack pack_a, pack_b;
  DgemmSmall small;
};

const SgemmLevel& sgemm_level(SimdLevel level);
const DgemmLevel& dgemm_level(SimdLevel level);

// The packed, blocked, multi-threaded driver with an explicit level, whatever the problem size
// (sgemm/dgemm pick the level from simd_level() and send tiny problems to a simple loop). For
// tests and benchmarks. The arguments are those of sgemm/dgemm.
void sgemm_blocked(const SgemmLevel& level, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void dgemm_blocked(const DgemmLevel& level, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                   double alpha, const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
                   int64_t ldc);
// The unpacked path (at simd_level()) used for tiny problems and matrix-vector shapes, whatever the size.
void sgemm_small(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void dgemm_small(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                 int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

namespace gemm_avx2 {
constexpr int kSgemmMR = 6, kSgemmNR = 16;  // 12 ymm accumulators
constexpr int kDgemmMR = 6, kDgemmNR = 8;   // 12 ymm accumulators
void sgemm_micro(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t m, int64_t n,
                 float alpha, float beta);
void dgemm_micro(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, int64_t m, int64_t n,
                 double alpha, double beta);
void sgemm_pack_a(bool trans, const float* src, int64_t ld, int64_t i0, int64_t p0, int64_t m, int64_t kc,
                  float* dst);
void sgemm_pack_b(bool trans, const float* src, int64_t ld, int64_t j0, int64_t p0, int64_t n, int64_t kc,
                  float* dst);
void sgemm_small(bool trans_a, bool trans_b, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
}  // namespace gemm_avx2

namespace gemm_avx512 {
constexpr int kSgemmMR = 12, kSgemmNR = 32;  // 24 zmm accumulators
constexpr int kDgemmMR = 12, kDgemmNR = 16;  // 24 zmm accumulators
void sgemm_micro(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t m, int64_t n,
                 float alpha, float beta);
void dgemm_micro(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, int64_t m, int64_t n,
                 double alpha, double beta);
// gemm_pack.h's template, compiled with AVX-512 flags.
void sgemm_pack_a(bool trans, const float* src, int64_t ld, int64_t i0, int64_t p0, int64_t m, int64_t kc, float* dst);
void sgemm_pack_b(bool trans, const float* src, int64_t ld, int64_t j0, int64_t p0, int64_t n, int64_t kc, float* dst);
void dgemm_pack_a(bool trans, const double* src, int64_t ld, int64_t i0, int64_t p0, int64_t m, int64_t kc, double* dst);
void dgemm_pack_b(bool trans, const double* src, int64_t ld, int64_t j0, int64_t p0, int64_t n, int64_t kc, double* dst);
}  // namespace gemm_avx512

}  // namespace qkv::cpu
