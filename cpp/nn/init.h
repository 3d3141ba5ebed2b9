#pragma once
// Initialisation schemes, all seeded (the same seed gives the same values on every machine).
// Fans follow PyTorch: for a weight of shape [out, in, k...], fan_in = in * prod(k) and
// fan_out = out * prod(k); a 1-D tensor has fan_in = fan_out = its length.
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace qkv::nn {

enum class InitKind : uint8_t {
  Default,         // the layer's own default (Linear: PyTorch's, uniform within 1/sqrt(fan_in))
  Zeros,
  Ones,
  Normal,          // N(0, std^2)
  Uniform,         // U(-bound, bound)
  XavierUniform,   // U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))
  XavierNormal,    // N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))
  KaimingUniform,  // U(-b, b), b = gain * sqrt(3 / fan_in)   (gain sqrt(2) by default: ReLU)
  KaimingNormal,   // N(0, s^2), s = gain / sqrt(fan_in)
};

struct Init {
  InitKind kind = InitKind::Default;
  double std = 0.02;   // Normal
  double bound = 0.1;  // Uniform
  double gain = -1;    // Xavier (default 1) and Kaiming (default sqrt(2)); negative = the default
};

// "default", "zeros", "ones", "normal", "uniform", "xavierUniform", "xavierNormal",
// "kaimingUniform", "kaimingNormal"; TypeError naming `op` otherwise.
InitKind init_kind_from_name(const std::string& name, const char* op);

struct Fans {
  int64_t in, out;
};
Fans fans_of(const Shape& shape);

// Writes fresh values into `t` (in place, not recorded). Default is treated as KaimingUniform with
// PyTorch's Linear gain (bound 1/sqrt(fan_in)).
void initialize(Tensor& t, const Init& init, uint64_t seed);
// Fills `t` with U(low, high) / N(mean, std) from `seed`, in place.
void fill_uniform(Tensor& t, double low, double high, uint64_t seed);
void fill_normal(Tensor& t, double mean, double std, uint64_t seed);
void fill_constant(Tensor& t, double value);

}  // namespace qkv::nn
