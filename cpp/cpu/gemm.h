#pragma once
// General matrix multiply on row-major data:  C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
// op(A) = A ([M,K], row stride lda) or A^T (A stored [K,M], row stride lda); likewise for B.
// With beta == 0, C is not read (it may hold NaN). Multi-threaded on the global pool.
#include <cstdint>

namespace qkv::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// The readable reference (triple loop, double accumulation): what the fast kernels are tested against.
void sgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void dgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                     int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

}  // namespace qkv::cpu
