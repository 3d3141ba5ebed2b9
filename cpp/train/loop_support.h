#pragma once
// Small pieces shared by the native training loops (train/fit.cpp, transformer/train.cpp).
#include <chrono>
#include <cmath>
#include <string>

namespace qkv::train {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A loss or norm for an error message: NaN and infinities spelled as JavaScript prints them.
inline std::string num_str(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return std::to_string(v);
}

}  // namespace qkv::train
