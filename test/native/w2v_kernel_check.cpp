// A test-only program (not part of the addon): the word2vec batched kernel (kernels.h, `block`) at
// every SIMD level this processor runs, against plain double-precision loops, on random rows of
// awkward sizes, with random labels and a skipped output (label -1). One JSON line per case:
//   {"level":"avx2","k":7,"m":13,"dim":33,"maxAbsDiff":...,"maxAbs":...,"loss":...,"referenceLoss":...}
// test/word2vec_quality.test.ts builds it (CMake target qkv_w2v_kernel_check, EXCLUDE_FROM_ALL, in
// the addon's build folder), runs it, and holds the numbers to the tolerances.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "core/random.h"
#include "cpu/simd.h"
#include "word2vec/kernels.h"
#include "word2vec/matrix.h"

namespace {

using namespace qkv;

struct Result {
  double max_diff = 0, max_abs = 0, loss = 0, ref_loss = 0;
};

Result check(cpu::SimdLevel level, int k, int mo, int dim, uint64_t seed) {
  const w2v::Kernels& K = w2v::kernels_for(level);
  w2v::Matrix in(k, dim), out(mo, dim), out_ref(mo, dim), din(k, dim);
  Rng rng(seed);
  for (int i = 0; i < k; ++i)
    for (int d = 0; d < dim; ++d) in.row(i)[d] = static_cast<float>(rng.uniform() - 0.5);
  for (int j = 0; j < mo; ++j)
    for (int d = 0; d < dim; ++d) out.row(j)[d] = out_ref.row(j)[d] = static_cast<float>(rng.uniform() - 0.5);
  std::vector<float> lab(mo);
  for (int j = 0; j < mo; ++j) lab[j] = j == 0 ? 1.0f : (j == mo - 1 && mo > 2 ? -1.0f : static_cast<float>(rng.next() & 1));
  std::vector<float*> inp(k), outp(mo);
  for (int i = 0; i < k; ++i) inp[i] = in.row(i);
  for (int j = 0; j < mo; ++j) outp[j] = out.row(j);
  std::vector<float> scratch(static_cast<size_t>(k) * mo + 16);
  const float alpha = 0.025f;
  Result r;
  r.loss = K.block(inp.data(), k, outp.data(), mo, lab.data(), alpha, in.stride(), din.data(), scratch.data(), true);
  // Reference: the same maths, in double, with the exact sigmoid (the kernels' tables have ~0.3%
  // resolution; the test's tolerance allows for it).
  std::vector<double> G(static_cast<size_t>(k) * mo, 0.0);
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < mo; ++j) {
      if (lab[j] < 0) continue;
      double s = 0;
      for (int d = 0; d < dim; ++d) s += static_cast<double>(in.row(i)[d]) * out_ref.row(j)[d];
      const double f = 1.0 / (1.0 + std::exp(-s));
      const double z = lab[j] > 0.5f ? s : -s;
      r.ref_loss += std::log1p(std::exp(-z));
      G[i * mo + j] = std::fabs(s) >= w2v::kMaxExp ? 0.0 : (lab[j] - f) * alpha;
    }
  // din = G Out (Out before the update); padding columns must stay zero.
  for (int i = 0; i < k; ++i)
    for (int d = 0; d < in.stride(); ++d) {
      double v = 0;
      if (d < dim)
        for (int j = 0; j < mo; ++j) v += G[i * mo + j] * out_ref.row(j)[d];
      r.max_diff = std::max(r.max_diff, std::fabs(v - din.row(i)[d]));
      r.max_abs = std::max(r.max_abs, std::fabs(v));
    }
  // Out += G^T In
  for (int j = 0; j < mo; ++j)
    for (int d = 0; d < out.stride(); ++d) {
      double v = out_ref.row(j)[d];
      if (d < dim)
        for (int i = 0; i < k; ++i) v += G[i * mo + j] * in.row(i)[d];
      r.max_diff = std::max(r.max_diff, std::fabs(v - out.row(j)[d]));
    }
  return r;
}

}  // namespace

int main() {
  const int sizes[][3] = {{1, 1, 1}, {1, 6, 100}, {10, 6, 100}, {7, 13, 33}, {3, 30, 300}, {9, 5, 17}, {2, 2, 64}};
  const int top = static_cast<int>(qkv::cpu::simd_supported());
  for (int l = 0; l <= top; ++l) {
    const auto level = static_cast<qkv::cpu::SimdLevel>(l);
    for (const auto& s : sizes) {
      const int k = s[0], m = s[1], dim = s[2];
      const Result r = check(level, k, m, dim, static_cast<uint64_t>(k) * 1000 + m * 10 + dim);
      std::printf("{\"level\":\"%s\",\"kernelLevel\":\"%s\",\"k\":%d,\"m\":%d,\"dim\":%d,\"maxAbsDiff\":%.17g,\"maxAbs\":%.17g,"
                  "\"loss\":%.17g,\"referenceLoss\":%.17g}\n",
                  qkv::cpu::simd_name(level), qkv::cpu::simd_name(qkv::w2v::kernels_for(level).level), k, m, dim,
                  r.max_diff, r.max_abs, r.loss, r.ref_loss);
    }
  }
  return 0;
}
