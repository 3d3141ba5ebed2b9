#include "word2vec/kernels.h"

#include <cmath>

namespace qkv::w2v {

namespace {
struct Tables {
  float sig[kSigmoidTableSize];
  float logsig[kSigmoidTableSize];
  Kernels by_level[3];
  Tables() {
    for (int i = 0; i < kSigmoidTableSize; ++i) {
      // Midpoint of bucket i of [-kMaxExp, kMaxExp].
      double x = (i + 0.5) / kSigmoidTableSize * 2.0 * kMaxExp - kMaxExp;
      sig[i] = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
      logsig[i] = static_cast<float>(-std::log1p(std::exp(-x)));
    }
    scalar_impl::fill(&by_level[0]);
    avx2_impl::fill(&by_level[1]);
    avx512_impl::fill(&by_level[2]);
  }
};
const Tables& tables() {
  static Tables t;
  return t;
}
}  // namespace

const float* sigmoid_table() { return tables().sig; }
const float* log_sigmoid_table() { return tables().logsig; }

const Kernels& kernels_for(cpu::SimdLevel level) {
  if (level > cpu::simd_supported()) level = cpu::simd_supported();
  return tables().by_level[static_cast<int>(level)];
}
const Kernels& kernels() { return kernels_for(cpu::simd_level()); }

}  // namespace qkv::w2v
