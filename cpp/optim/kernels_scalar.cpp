// The optimizer loops of kernels_impl.inc compiled for the scalar level (target flags set in CMakeLists.txt).
#include <cmath>
#include <cstdint>

#include "optim/kernels.h"

namespace qkv::optim::kern::scalar_impl {
#include "optim/kernels_impl.inc"
}  // namespace qkv::optim::kern::scalar_impl
