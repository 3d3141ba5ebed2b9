// The portable build of dropout_kernels.inc.
#include "cpu/dropout_kernels.h"

namespace qkv::cpu::dropout_scalar {
#include "cpu/dropout_kernels.inc"
}  // namespace qkv::cpu::dropout_scalar
