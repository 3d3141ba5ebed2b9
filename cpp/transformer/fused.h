#pragma once
// Dropout for the transformer layers, fused and mask-free. Shapes: any, elementwise.
//
//   dropout(y)         = y * m / (1 - p)
//   add_dropout(x, y)  = x + y * m / (1 - p)      (the residual connection and its dropout, one pass)
//
// The keep mask m comes from a counter-based generator: element i (its flat index modulo 2^32) is
// kept when mix(mix(i ^ s1) + s2) >= round(p * 2^32), with mix a 32-bit integer hash and s1, s2 the
// halves of the seed (dropout_kernels.inc; AVX2 and portable builds give the same bits). p is thus
// rounded to a multiple of 2^-32 and the scale uses that rounded p, so that E[m / (1 - p)] = 1. The
// backward pass regenerates the mask from (seed, i) instead of storing it, and any thread split
// gives the same mask. Recorded as Mul (dropout) and Add (add_dropout) nodes.
//
// Reference: nn::Dropout (a stored mask of the same law); test/transformer.test.ts checks the
// law, the seed, thread independence and the gradients.
#include <cstdint>

#include "core/tensor.h"

namespace qkv::transformer {

// p in [0, 1); p == 0 returns y itself (dropout) or x + y (add_dropout).
Tensor dropout(const Tensor& y, double p, uint64_t seed);
Tensor add_dropout(const Tensor& x, const Tensor& y, double p, uint64_t seed);

}  // namespace qkv::transformer
