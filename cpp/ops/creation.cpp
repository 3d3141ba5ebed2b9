// Tensors made from nothing: seeded random fills and ranges, on the current device.
#include <cmath>

#include "backend/backend.h"
#include "core/error.h"
#include "ops/ops.h"

namespace qkv::ops {

namespace {

Tensor random_fill(const char* op, const Shape& shape, DType dtype, RandomKind kind, uint64_t seed, double a, double b) {
  if (!is_float(dtype)) throw_type(std::string(op) + ": dtype must be float32 or float64, got " + dtype_name(dtype));
  Tensor t = Tensor::empty(shape, dtype);
  backend::call(t.device(), &backend::Backend::random, op, t, kind, seed, a, b);
  return t;
}

}  // namespace

Tensor randn(const Shape& shape, DType dtype, uint64_t seed, double mean, double std) {
  return random_fill("randn", shape, dtype, RandomKind::Normal, seed, mean, std);
}

Tensor rand_uniform(const Shape& shape, DType dtype, uint64_t seed, double low, double high) {
  return random_fill("rand", shape, dtype, RandomKind::Uniform, seed, low, high);
}

Tensor arange(double start, double end, double step, DType dtype) {
  if (step == 0 || !std::isfinite(step) || !std::isfinite(start) || !std::isfinite(end))
    throw_range("arange: start, end and step must be finite and step non-zero");
  double count = std::ceil((end - start) / step);
  if (count > double(int64_t(1) << 40))
    throw_range("arange: [" + std::to_string(start) + ", " + std::to_string(end) + ") in steps of " + std::to_string(step) +
                " is too large (more than 2^40 elements)");
  int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = Tensor::empty({n}, dtype);
  backend::call(t.device(), &backend::Backend::arange, "arange", t, start, step);
  return t;
}

}  // namespace qkv::ops
