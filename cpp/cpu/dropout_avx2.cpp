// The AVX2 build of dropout_kernels.inc (CMakeLists.txt compiles *_avx2.cpp with -mavx2 -mfma).
#include "cpu/dropout_kernels.h"

namespace qkv::cpu::dropout_avx2 {
#include "cpu/dropout_kernels.inc"
}  // namespace qkv::cpu::dropout_avx2
