// The optimizer loops of kernels_impl.inc compiled for the avx512 level (target flags set in CMakeLists.txt).
#include <cmath>
#include <cstdint>

#include "optim/kernels.h"

namespace qkv::optim::kern::avx512_impl {
#include "optim/kernels_impl.inc"
}  // namespace qkv::optim::kern::avx512_impl
