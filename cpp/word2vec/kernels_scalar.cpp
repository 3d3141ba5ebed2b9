// The kernels of kernels_impl.inc compiled for the scalar level (target flags set in CMakeLists.txt).
#include <cstdint>

#include "word2vec/kernels.h"

namespace qkv::w2v::scalar_impl {
#define QKV_W2V_VBYTES 16
#define QKV_W2V_LEVEL cpu::SimdLevel::Scalar
#include "word2vec/kernels_impl.inc"
#undef QKV_W2V_LEVEL
#undef QKV_W2V_VBYTES
}  // namespace qkv::w2v::scalar_impl
