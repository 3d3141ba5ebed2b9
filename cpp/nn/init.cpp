#include "nn/init.h"

#include <cmath>

#include "core/error.h"
#include "autograd/autograd.h"
#include "ops/ops.h"

namespace qkv::nn {

namespace {
const std::pair<const char*, InitKind> kInitNames[] = {
    {"default", InitKind::Default},           {"zeros", InitKind::Zeros},
    {"ones", InitKind::Ones},                 {"normal", InitKind::Normal},
    {"uniform", InitKind::Uniform},           {"xavierUniform", InitKind::XavierUniform},
    {"xavierNormal", InitKind::XavierNormal}, {"kaimingUniform", InitKind::KaimingUniform},
    {"kaimingNormal", InitKind::KaimingNormal}};
}

InitKind init_kind_from_name(const std::string& name, const char* op) {
  for (auto& [n, k] : kInitNames)
    if (name == n) return k;
  throw_type(std::string(op) + ": unknown init '" + name +
             "' (default, zeros, ones, normal, uniform, xavierUniform, xavierNormal, kaimingUniform, kaimingNormal)");
}

Fans fans_of(const Shape& shape) {
  if (shape.empty()) return {1, 1};
  if (shape.size() == 1) return {shape[0], shape[0]};
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

static void copy_into(Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  t.copy_from(values, "init");
}

void fill_uniform(Tensor& t, double low, double high, uint64_t seed) {
  copy_into(t, ops::rand_uniform(t.shape(), t.dtype(), seed, low, high));
}

void fill_normal(Tensor& t, double mean, double std, uint64_t seed) {
  copy_into(t, ops::randn(t.shape(), t.dtype(), seed, mean, std));
}

void fill_constant(Tensor& t, double value) { copy_into(t, Tensor::full(t.shape(), t.dtype(), value)); }

void initialize(Tensor& t, const Init& init, uint64_t seed) {
  if (!is_float(t.dtype())) throw_type("init: only float tensors can be initialised");
  const Fans f = fans_of(t.shape());
  const double fan_in = static_cast<double>(std::max<int64_t>(f.in, 1)),
               fan_sum = static_cast<double>(std::max<int64_t>(f.in + f.out, 1));
  switch (init.kind) {
    case InitKind::Zeros: fill_constant(t, 0); return;
    case InitKind::Ones: fill_constant(t, 1); return;
    case InitKind::Normal: fill_normal(t, 0, init.std, seed); return;
    case InitKind::Uniform: fill_uniform(t, -init.bound, init.bound, seed); return;
    case InitKind::XavierUniform: {
      double b = (init.gain >= 0 ? init.gain : 1.0) * std::sqrt(6.0 / fan_sum);
      fill_uniform(t, -b, b, seed);
      return;
    }
    case InitKind::XavierNormal:
      fill_normal(t, 0, (init.gain >= 0 ? init.gain : 1.0) * std::sqrt(2.0 / fan_sum), seed);
      return;
    case InitKind::KaimingUniform: {
      double b = (init.gain >= 0 ? init.gain : std::sqrt(2.0)) * std::sqrt(3.0 / fan_in);
      fill_uniform(t, -b, b, seed);
      return;
    }
    case InitKind::KaimingNormal:
      fill_normal(t, 0, (init.gain >= 0 ? init.gain : std::sqrt(2.0)) / std::sqrt(fan_in), seed);
      return;
    case InitKind::Default: {
      // PyTorch's Linear: kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
      double b = 1.0 / std::sqrt(fan_in);
      fill_uniform(t, -b, b, seed);
      return;
    }
  }
}

}  // namespace qkv::nn
