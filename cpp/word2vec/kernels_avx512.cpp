// The kernels of kernels_impl.inc compiled for the avx512 level (target flags set in CMakeLists.txt).
#include <cstdint>

#include "word2vec/kernels.h"

namespace qkv::w2v::avx512_impl {
#define QKV_W2V_VBYTES 64
#define QKV_W2V_LEVEL cpu::SimdLevel::AVX512
#include "word2vec/kernels_impl.inc"
#undef QKV_W2V_LEVEL
#undef QKV_W2V_VBYTES
}  // namespace qkv::w2v::avx512_impl
