// The portable build of dropout_kernels.inc.
#include "transformer/dropout_kernels.h"

namespace qkv::transformer::dropout_scalar {
#include "transformer/dropout_kernels.inc"
}  // namespace qkv::transformer::dropout_scalar
