// Layout ops that copy: concatenation and row gathers / scatters along the first axis.
#include "backend/backend.h"
#include "core/error.h"
#include "ops/ops.h"

namespace qkv::ops {

Tensor concat(const std::vector<Tensor>& parts, int64_t axis) {
  const char* op = "concat";
  if (parts.empty()) throw_range("concat: needs at least one tensor");
  const Tensor& first = parts[0];
  if (first.dim() == 0) throw_range("concat: cannot concatenate scalars");
  const int64_t ax = normalize_axis(axis, first.dim(), op);
  Shape out_shape = first.shape();
  out_shape[ax] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& p = parts[i];
    if (p.dtype() != first.dtype())
      throw_type("concat: tensor " + std::to_string(i) + " has dtype " + dtype_name(p.dtype()) + ", tensor 0 has " + dtype_name(first.dtype()));
    bool ok = p.dim() == first.dim();
    for (int64_t d = 0; ok && d < first.dim(); ++d) ok = d == ax || p.shape()[d] == first.shape()[d];
    if (!ok)
      throw_range("concat: tensor " + std::to_string(i) + " has shape " + shape_str(p.shape()) + ", incompatible with " +
                  shape_str(first.shape()) + " along axis " + std::to_string(ax));
    out_shape[ax] += p.shape()[ax];
  }
  Tensor out = Tensor::empty(out_shape, first.dtype(), backend::common_device(parts, op));
  int64_t at = 0;
  for (const Tensor& p : parts) {  // each part into its slice of the output
    Tensor slot = out.slice(ax, at, at + p.shape()[ax], 1, op);
    slot.copy_from(p, op);
    at += p.shape()[ax];
  }
  return out;
}

void write_slice(Tensor& dst, int64_t axis, int64_t start, const Tensor& src) {
  const char* op = "writeSlice";
  if (src.dim() != dst.dim()) throw_range(std::string(op) + ": " + shape_str(src.shape()) + " does not fit into " + shape_str(dst.shape()));
  const int64_t ax = normalize_axis(axis, dst.dim(), op);
  const int64_t n = src.shape()[ax];
  if (start < 0 || start + n > dst.shape()[ax])
    throw_range(std::string(op) + ": positions " + std::to_string(start) + ".." + std::to_string(start + n) + " exceed " +
                std::to_string(dst.shape()[ax]) + " along axis " + std::to_string(ax));
  Tensor slot = dst.slice(ax, start, start + n, 1, op);
  slot.copy_from(src, op);
}

namespace {

void check_rows(const Tensor& x, const std::vector<int64_t>& idx, const char* op) {
  if (x.dim() == 0) throw_range(std::string(op) + ": needs a tensor with at least 1 dim");
  for (size_t i = 0; i < idx.size(); ++i)
    if (idx[i] < 0 || idx[i] >= x.size(0))
      throw_range(std::string(op) + ": index " + std::to_string(idx[i]) + " at position " + std::to_string(i) + " is out of range for " +
                  std::to_string(x.size(0)) + " rows");
}

}  // namespace

Tensor index_select(const Tensor& x, const std::vector<int64_t>& idx) {
  const char* op = "indexSelect";
  check_rows(x, idx, op);
  return backend::call(x.device(), &backend::Backend::index_select, op, x, idx);
}

void index_add(Tensor& dst, const std::vector<int64_t>& idx, const Tensor& src) {
  const char* op = "indexAdd";
  check_rows(dst, idx, op);
  Shape want = dst.shape();
  want[0] = static_cast<int64_t>(idx.size());
  if (!dst.is_contiguous() || src.shape() != want || src.dtype() != dst.dtype() || !is_float(dst.dtype()))
    throw_range("indexAdd: expected a contiguous float destination and a source of shape " + shape_str(want) + ", got " +
                shape_str(src.shape()));
  backend::call(backend::common_device({&dst, &src}, op), &backend::Backend::index_add, op, dst, idx, src);
}

}  // namespace qkv::ops
