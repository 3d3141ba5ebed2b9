// The kernels of kernels_impl.inc compiled for the avx2 level (target flags set in CMakeLists.txt).
#include <cstdint>

#include "word2vec/kernels.h"

namespace qkv::w2v::avx2_impl {
#define QKV_W2V_VBYTES 32
#define QKV_W2V_LEVEL cpu::SimdLevel::AVX2
#include "word2vec/kernels_impl.inc"
#undef QKV_W2V_LEVEL
#undef QKV_W2V_VBYTES
}  // namespace qkv::w2v::avx2_impl
