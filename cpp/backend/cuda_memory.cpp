// The CUDA device's memory entries: host transfers over the plugin's copies, the rest over its
// kernel slots (backend/cuda.cpp wires only those the plugin provides).
#include "backend/cuda_support.h"

namespace qkv::backend::cuda_impl {

void fill(Tensor& dst, double value) { run(&Table::fill, "fill", Desc(dst), value); }

void copy(const Tensor& src, Tensor& dst) { run(&Table::copy, "copy", Desc(src), Desc(dst)); }

void cast(const Tensor& src, Tensor& dst) { run(&Table::cast, "cast", Desc(src), Desc(dst)); }

void to_host(const Tensor& src, void* host) {
  const qkv_cuda_table_v2& p = cuda_support::table();
  cuda::check(p, p.copy_to_host(cuda::stream(), host, src.raw(), src.nbytes()), "toHost");
}

void from_host(const void* host, Tensor& dst) {
  const qkv_cuda_table_v2& p = cuda_support::table();
  cuda::check(p, p.copy_to_device(cuda::stream(), dst.raw(), host, dst.nbytes()), "fromHost");
}

void random(Tensor& dst, RandomKind kind, uint64_t seed, double a, double b) {
  run(&Table::random, "random", Desc(dst), code(kind), seed, a, b);
}

void arange(Tensor& dst, double start, double step) { run(&Table::arange, "arange", Desc(dst), start, step); }

Tensor index_select(const Tensor& x, const std::vector<int64_t>& idx) {
  Shape shape = x.shape();
  shape[0] = static_cast<int64_t>(idx.size());
  Tensor out = Tensor::empty(shape, x.dtype());
  run(&Table::index_select, "indexSelect", Desc(dense(x)), idx.data(), static_cast<int64_t>(idx.size()), Desc(out));
  return out;
}

void index_add(Tensor& dst, const std::vector<int64_t>& idx, const Tensor& src) {
  run(&Table::index_add, "indexAdd", Desc(dst), idx.data(), static_cast<int64_t>(idx.size()), Desc(dense(src)));
}

}  // namespace qkv::backend::cuda_impl
