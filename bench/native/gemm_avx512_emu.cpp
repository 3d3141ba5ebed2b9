// The AVX-512 GEMM kernels (cpp/cpu/gemm_avx512_impl.h) compiled with baseline flags, so that
// `qkv_bench --check` verifies their logic (block shapes, packing, edge tiles) on a processor
// without AVX-512. The real ones are checked too wherever the processor supports AVX-512.
#include <cstdint>

#include "cpu/gemm_kernels.h"

namespace qkv::cpu::gemm_avx512_emu {
#include "cpu/gemm_avx512_impl.h"

// The AVX-512 levels (same blocking as the library's) with the emulated routines.
void emulated_levels(SgemmLevel* s, DgemmLevel* d) {
  static_assert(SMR == gemm_avx512::kSgemmMR && SNR == gemm_avx512::kSgemmNR, "fp32 block shape");
  static_assert(DMR == gemm_avx512::kDgemmMR && DNR == gemm_avx512::kDgemmNR, "fp64 block shape");
  *s = sgemm_level(SimdLevel::AVX512);
  s->micro = sgemm_micro;
  s->pack_a = sgemm_pack_a;
  s->pack_b = sgemm_pack_b;
  *d = dgemm_level(SimdLevel::AVX512);
  d->micro = dgemm_micro;
  d->pack_a = dgemm_pack_a;
  d->pack_b = dgemm_pack_b;
}
}  // namespace qkv::cpu::gemm_avx512_emu
