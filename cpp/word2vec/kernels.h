#pragma once
// The inner loops of word2vec training and of similarity queries, one table per instruction-set
// level. kernels_impl.inc is their single source; kernels_{scalar,avx2,avx512}.cpp compile it with
// different target flags, each in its own namespace, so that no inline function is shared between
// differently-flagged objects. Their arithmetic is checked against plain double-precision loops by
// a test-only program (test/native/w2v_kernel_check.cpp, built and run by
// test/word2vec_quality.test.ts) at every SIMD level on awkward sizes; the plain per-pair training
// loops in reference.cpp are checked against the fast path in model quality.
//
// Row layout: every row is `stride` floats, stride a multiple of 16 (64 bytes), rows 64-byte
// aligned, and the padding columns beyond `dim` hold zeros (they stay zero under every update).
#include <cstdint>

#include "cpu/simd.h"

namespace qkv::w2v {

// Sigmoid and log-sigmoid tables over [-kMaxExp, kMaxExp] (word2vec.c's EXP_TABLE, finer).
constexpr int kSigmoidTableSize = 4096;
constexpr float kMaxExp = 6.0f;
const float* sigmoid_table();      // sigma(x) at kSigmoidTableSize points
const float* log_sigmoid_table();  // log sigma(x) at the same points

struct Kernels {
  cpu::SimdLevel level;
  // The batched update (Ji et al. 2016, "Parallelizing Word2Vec in Shared and Distributed Memory"):
  // k input rows (context words in skip-gram, the mean context in CBOW) against m output rows
  // (the centre word and the shared negatives, or Huffman inner nodes), labels lab[j] in {0, 1}
  // (a negative label skips that output: a negative sample that hit the centre word).
  //   S = In Out^T   (k x m);   G = alpha * (lab - sigma(S))
  //   din = G Out    (k x stride, written to din; Out before the update)
  //   Out += G^T In
  // Shapes: k <= 2 * window, m <= negative + 1 + Huffman depth. scratch holds k*m floats.
  // Returns the summed loss -log sigma(+-s) of the pairs when want_loss, else 0.
  double (*block)(const float* const* in, int k, float* const* out, int m, const float* lab, float alpha,
                  int stride, float* din, float* scratch, bool want_loss);
  // rows[i] += src + i * src_step (src_step 0: the same row added to every row).
  void (*add_rows)(float* const* rows, int k, const float* src, int src_step, int stride);
  // out = scale * sum of rows.
  void (*sum_rows)(const float* const* rows, int k, float* out, int stride, float scale);
  // out[r] = dot(mat + r * stride, v) for r < rows.
  void (*dots)(const float* mat, int64_t rows, int stride, const float* v, float* out);
};

const Kernels& kernels();                        // for cpu::simd_level()
const Kernels& kernels_for(cpu::SimdLevel level);

namespace scalar_impl { void fill(Kernels* k); }
namespace avx2_impl { void fill(Kernels* k); }
namespace avx512_impl { void fill(Kernels* k); }

}  // namespace qkv::w2v
