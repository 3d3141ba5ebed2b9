// The optimizer loops of optim_kernels_impl.inc compiled for the avx512 level (target flags set in CMakeLists.txt).
#include <cmath>
#include <cstdint>

#include "cpu/optim_kernels.h"

namespace qkv::cpu::optim::avx512_impl {
#include "cpu/optim_kernels_impl.inc"
}  // namespace qkv::cpu::optim::avx512_impl
