#pragma once
// GEMM on the float type T, for the CPU implementations that are written once for float32 and
// float64 (cpu/gemm.h has the operands' meaning).
#include <type_traits>

#include "cpu/gemm.h"

namespace qkv::backend::cpu_impl {

template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B, int64_t ldb,
          T beta, T* C, int64_t ldc) {
  if constexpr (std::is_same_v<T, double>) cpu::dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else cpu::sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace qkv::backend::cpu_impl
