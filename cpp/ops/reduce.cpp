// Reductions along axes: the reduced axes are moved last (a copy only when they are not already
// trailing), then each row is reduced on the tensor's device.
#include <algorithm>
#include <numeric>

#include "backend/backend.h"
#include "core/error.h"
#include "ops/ops.h"

namespace qkv::ops {

namespace {

struct Plan {
  Tensor rows;      // contiguous [outer, inner]
  Shape out_shape;  // result shape (keepdims applied)
};

Plan plan_reduction(const Tensor& a, const std::vector<int64_t>& axes_in, bool keepdims, const char* op) {
  const int64_t nd = a.dim();
  std::vector<bool> reduce(nd, axes_in.empty());
  for (int64_t ax : axes_in) {
    int64_t d = normalize_axis(ax, nd, op);
    if (reduce[d] && !axes_in.empty()) throw_range(std::string(op) + ": axis " + std::to_string(ax) + " given twice");
    reduce[d] = true;
  }
  std::vector<int64_t> perm;
  Shape out_shape;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < nd; ++d)
    if (!reduce[d]) {
      perm.push_back(d);
      outer *= a.shape()[d];
    }
  for (int64_t d = 0; d < nd; ++d)
    if (reduce[d]) {
      perm.push_back(d);
      inner *= a.shape()[d];
    }
  for (int64_t d = 0; d < nd; ++d) {
    if (!reduce[d]) out_shape.push_back(a.shape()[d]);
    else if (keepdims) out_shape.push_back(1);
  }
  Tensor p = nd ? a.permute(perm, op) : a;
  return {p.contiguous().view({outer, inner}, op), out_shape};
}

Tensor reduce(ReduceKind kind, const Tensor& a, const std::vector<int64_t>& axes, bool keepdims, const char* op) {
  Plan p = plan_reduction(a, axes, keepdims, op);
  if (kind != ReduceKind::Sum && p.rows.size(1) == 0)
    throw_range(std::string(op) + ": cannot reduce over an empty axis of shape " + shape_str(a.shape()));
  if (p.rows.size(0) == 0) return Tensor::empty(p.out_shape, kind == ReduceKind::Argmax ? DType::I32 : a.dtype(), a.device());
  Tensor out = backend::call(a.device(), &backend::Backend::reduce_rows, op, kind, p.rows);
  return out.view(p.out_shape, op);
}

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims) { return reduce(ReduceKind::Sum, a, axes, keepdims, "sum"); }

Tensor mean(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims) {
  if (!is_float(a.dtype())) throw_type(std::string("mean: needs a float32 or float64 tensor, got ") + dtype_name(a.dtype()));
  Tensor s = reduce(ReduceKind::Sum, a, axes, keepdims, "mean");
  int64_t count = s.numel() ? a.numel() / s.numel() : 0;
  return binary(BinaryOp::Div, s, Tensor::scalar(static_cast<double>(count), a.dtype(), a.device()));
}

Tensor max(const Tensor& a, const std::vector<int64_t>& axes, bool keepdims) { return reduce(ReduceKind::Max, a, axes, keepdims, "max"); }

Tensor argmax(const Tensor& a, int64_t axis, bool keepdims) {
  if (a.dim() == 0) throw_range("argmax: needs a tensor with at least 1 dim");
  return reduce(ReduceKind::Argmax, a, {axis}, keepdims, "argmax");
}

double sum_squares(const Tensor& a) {
  if (!is_float(a.dtype())) throw_type(std::string("sumSquares: needs a float tensor, got ") + dtype_name(a.dtype()));
  return backend::call(a.device(), &backend::Backend::sum_squares, "sumSquares", a);
}

}  // namespace qkv::ops
