// GEMM micro-kernels for the AVX-512 level (compiled with -mavx512f -mavx512dq ...).
// The code is in gemm_avx512_impl.h (see there); bench/native/gemm_avx512_emu.cpp compiles the same
// body without AVX-512 so that `qkv_bench --check` verifies its logic on any x86-64.
#include <cstdint>

#include "cpu/gemm_kernels.h"
#include "cpu/gemm_pack.h"

namespace qkv::cpu::gemm_avx512 {
#include "cpu/gemm_avx512_impl.h"
static_assert(SMR == kSgemmMR && SNR == kSgemmNR && DMR == kDgemmMR && DNR == kDgemmNR, "block shapes");
}  // namespace qkv::cpu::gemm_avx512
