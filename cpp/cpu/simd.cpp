#include "cpu/simd.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "cpu/kernels.h"

namespace qkv::cpu {

SimdLevel simd_supported() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return SimdLevel::AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::AVX2;
#endif
  return SimdLevel::Scalar;
}

const char* simd_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::AVX512: return "avx512";
    case SimdLevel::AVX2: return "avx2";
    default: return "scalar";
  }
}

bool simd_from_name(const char* name, SimdLevel* out) {
  if (!std::strcmp(name, "avx512")) *out = SimdLevel::AVX512;
  else if (!std::strcmp(name, "avx2")) *out = SimdLevel::AVX2;
  else if (!std::strcmp(name, "scalar")) *out = SimdLevel::Scalar;
  else return false;
  return true;
}

namespace {

SimdLevel initial_level() {
  SimdLevel best = simd_supported();
  if (const char* env = std::getenv("QKV_SIMD")) {
    SimdLevel wanted;
    // An unknown or unsupported request falls back to what the processor runs: never a crash.
    if (simd_from_name(env, &wanted) && wanted <= best) return wanted;
  }
  return best;
}

std::atomic<int> g_level{static_cast<int>(initial_level())};

struct Tables {
  Kernels by_level[3];
  // Code compiled for a level (even its fill function) may use that level's instructions, so
  // only supported levels are filled; the others repeat the best supported table.
  Tables() {
    const SimdLevel best = simd_supported();
    scalar_impl::fill(&by_level[0]);
    if (best >= SimdLevel::AVX2) avx2_impl::fill(&by_level[1]);
    else by_level[1] = by_level[0];
    if (best >= SimdLevel::AVX512) avx512_impl::fill(&by_level[2]);
    else by_level[2] = by_level[1];
    by_level[0].level = SimdLevel::Scalar;
    by_level[1].level = best >= SimdLevel::AVX2 ? SimdLevel::AVX2 : SimdLevel::Scalar;
    by_level[2].level = best;
  }
};

const Tables& tables() {
  static Tables t;
  return t;
}

}  // namespace

SimdLevel simd_level() { return static_cast<SimdLevel>(g_level.load(std::memory_order_relaxed)); }

void set_simd_level(SimdLevel level) {
  if (level > simd_supported())
    throw_range(std::string("setSimdLevel: this processor does not support ") + simd_name(level) + " (best is " +
                simd_name(simd_supported()) + ")");
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

const Kernels& kernels_for(SimdLevel level) { return tables().by_level[static_cast<int>(level)]; }
const Kernels& kernels() { return kernels_for(simd_level()); }

}  // namespace qkv::cpu
