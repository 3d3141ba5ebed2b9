// GEMM micro-kernels for the AVX-512 level (compiled with -mavx512f -mavx512dq ...).
// The code is in gemm_avx512_impl.h (see there); bench/native/gemm_avx512_emu.cpp compiles the same
// body without AVX-512 so that `qkv_bench --check` verifies its logic on any x86-64.
#include <cstdint>

#include "cpu/gemm_kernels.h"
#include "cpu/gemm_pack.h"

namespace qkv::cpu::gemm_avx512 {
#include "cpu/gemm_avx512_impl.h"
static_assert(SMR == kSgemmMR && SNR == kSgemmNR && DMR == kDgemmMR && DNR == kDgemmNR, "block shapes");

// The packing template instantiated with this file's AVX-512 flags: the compiler vectorises the
// strided (gather) form of the panels with them, which the baseline build cannot (measured at
// 256^3 float32: 0.62x of these without them).
void sgemm_pack_a(bool trans, const float* src, int64_t ld, int64_t i0, int64_t p0, int64_t m, int64_t kc, float* dst) {
  pack_a_panel<float, SMR>(trans, src, ld, i0, p0, m, kc, dst);
}
void sgemm_pack_b(bool trans, const float* src, int64_t ld, int64_t j0, int64_t p0, int64_t n, int64_t kc, float* dst) {
  pack_b_panel<float, SNR>(trans, src, ld, j0, p0, n, kc, dst);
}
void dgemm_pack_a(bool trans, const double* src, int64_t ld, int64_t i0, int64_t p0, int64_t m, int64_t kc, double* dst) {
  pack_a_panel<double, DMR>(trans, src, ld, i0, p0, m, kc, dst);
}
void dgemm_pack_b(bool trans, const double* src, int64_t ld, int64_t j0, int64_t p0, int64_t n, int64_t kc, double* dst) {
  pack_b_panel<double, DNR>(trans, src, ld, j0, p0, n, kc, dst);
}
}  // namespace qkv::cpu::gemm_avx512
