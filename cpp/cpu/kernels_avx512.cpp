// The kernels of kernels_impl.inc compiled for the avx512 level (target flags set in CMakeLists.txt).
#include <cstdint>

#include "cpu/kernels.h"

namespace qkv::cpu::avx512_impl {
#include "cpu/kernels_impl.inc"
}  // namespace qkv::cpu::avx512_impl
