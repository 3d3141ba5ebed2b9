#include <cmath>

#include "core/error.h"
#include "core/random.h"
#include "ops/ops.h"

namespace qkv::ops {

// A float tensor filled element by element from one seeded generator (sequential, so the values do
// not depend on the thread count).
template <class Sample>
static Tensor random_fill(const char* op, const Shape& shape, DType dtype, uint64_t seed, Sample sample) {
  if (!is_float(dtype)) throw_type(std::string(op) + ": dtype must be float32 or float64, got " + dtype_name(dtype));
  Tensor t = Tensor::empty(shape, dtype);
  Rng rng(seed);
  const int64_t n = t.numel();
  dispatch_float(dtype, [&](auto z) {
    using T = decltype(z);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(sample(rng));
    return 0;
  });
  return t;
}

Tensor randn(const Shape& shape, DType dtype, uint64_t seed, double mean, double std) {
  return random_fill("randn", shape, dtype, seed, [&](Rng& r) { return mean + std * r.normal(); });
}

Tensor rand_uniform(const Shape& shape, DType dtype, uint64_t seed, double low, double high) {
  return random_fill("rand", shape, dtype, seed, [&](Rng& r) { return low + (high - low) * r.uniform(); });
}

Tensor arange(double start, double end, double step, DType dtype) {
  if (step == 0 || !std::isfinite(step) || !std::isfinite(start) || !std::isfinite(end))
    throw_range("arange: start, end and step must be finite and step non-zero");
  double count = std::ceil((end - start) / step);
  int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = Tensor::empty({n}, dtype);
  dispatch_dtype(dtype, [&](auto z) {
    using T = decltype(z);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
    return 0;
  });
  return t;
}

}  // namespace qkv::ops
