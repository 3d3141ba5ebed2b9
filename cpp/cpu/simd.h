#pragma once
// Which instruction set the CPU kernels use. Detected once at load time; QKV_SIMD=avx2|scalar
// forces a lower level, and tests switch levels to run every path.
namespace qkv::cpu {

enum class SimdLevel { Scalar = 0, AVX2 = 1, AVX512 = 2 };

SimdLevel simd_supported();  // the highest level this processor runs
SimdLevel simd_level();      // the level in use
void set_simd_level(SimdLevel level);  // throws RangeError when the processor lacks it
const char* simd_name(SimdLevel level);
bool simd_from_name(const char* name, SimdLevel* out);

}  // namespace qkv::cpu
