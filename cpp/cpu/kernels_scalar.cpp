// The kernels of kernels_impl.inc compiled for the scalar level (target flags set in CMakeLists.txt).
#include <cstdint>

#include "cpu/kernels.h"

namespace qkv::cpu::scalar_impl {
#include "cpu/kernels_impl.inc"
}  // namespace qkv::cpu::scalar_impl
