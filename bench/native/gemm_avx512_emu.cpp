// The AVX-512 GEMM micro-kernels (cpp/cpu/gemm_avx512_impl.h) compiled with baseline flags, so
// that `qkv_bench --check` verifies their logic (block shapes, edge tiles) on a processor without
// AVX-512; their panels are packed by the library's own routines for that level, which need no
// AVX-512. The real ones are checked too wherever the processor supports AVX-512.
#include <cstdint>

#include "cpu/gemm_kernels.h"
#include "cpu/gemm_pack.h"

namespace qkv::cpu::gemm_avx512_emu {
#include "cpu/gemm_avx512_impl.h"

// The AVX-512 levels (same blocking and packing as the library's) with the emulated micro-kernels.
void emulated_levels(SgemmLevel* s, DgemmLevel* d) {
  static_assert(SMR == gemm_avx512::kSgemmMR && SNR == gemm_avx512::kSgemmNR, "fp32 block shape");
  static_assert(DMR == gemm_avx512::kDgemmMR && DNR == gemm_avx512::kDgemmNR, "fp64 block shape");
  *s = sgemm_level(SimdLevel::AVX512);
  s->micro = sgemm_micro;
  *d = dgemm_level(SimdLevel::AVX512);
  d->micro = dgemm_micro;
}
}  // namespace qkv::cpu::gemm_avx512_emu
