#include "optim/kernels.h"

#include "cpu/simd.h"

namespace qkv::optim::kern {

const Table& table() {
  switch (cpu::simd_level()) {
    case cpu::SimdLevel::AVX512: return avx512_impl::kTable;
    case cpu::SimdLevel::AVX2: return avx2_impl::kTable;
    default: return scalar_impl::kTable;
  }
}

}  // namespace qkv::optim::kern
