#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace qkv {

enum class DType : uint8_t { F32 = 0, F64 = 1, I32 = 2 };

inline size_t dtype_size(DType t) { return t == DType::F64 ? 8 : 4; }
inline bool is_float(DType t) { return t == DType::F32 || t == DType::F64; }
const char* dtype_name(DType t);                     // "float32", "float64", "int32"
bool dtype_from_name(const std::string& name, DType* out);

template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };

// Calls fn with a value of the C++ type matching `t`: fn(float{}), fn(double{}) or fn(int32_t{}).
template <class Fn> auto dispatch_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::F64: return fn(double{});
    case DType::I32: return fn(int32_t{});
    default: return fn(float{});
  }
}
template <class Fn> auto dispatch_float(DType t, Fn&& fn) {
  if (t == DType::F64) return fn(double{});
  return fn(float{});
}

}  // namespace qkv
