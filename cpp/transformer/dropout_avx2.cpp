// The AVX2 build of dropout_kernels.inc (CMakeLists.txt compiles *_avx2.cpp with -mavx2 -mfma).
#include "transformer/dropout_kernels.h"

namespace qkv::transformer::dropout_avx2 {
#include "transformer/dropout_kernels.inc"
}  // namespace qkv::transformer::dropout_avx2
