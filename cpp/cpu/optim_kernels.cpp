#include "cpu/optim_kernels.h"

#include "cpu/simd.h"

namespace qkv::cpu::optim {

const Table& table() {
  switch (simd_level()) {
    case SimdLevel::AVX512: return avx512_impl::kTable;
    case SimdLevel::AVX2: return avx2_impl::kTable;
    default: return scalar_impl::kTable;
  }
}

}  // namespace qkv::cpu::optim
