// Linear algebra: batched matmul with numpy's broadcasting and 1-D promotion, and the fused linear layer.
#include "backend/backend.h"
#include "core/error.h"
#include "ops/ops.h"

namespace qkv::ops {

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  const char* op = "matmul";
  if (a_in.dtype() != b_in.dtype())
    throw_type(std::string("matmul: dtypes differ (") + dtype_name(a_in.dtype()) + " and " + dtype_name(b_in.dtype()) + ")");
  if (!is_float(a_in.dtype())) throw_type(std::string("matmul: needs float32 or float64 tensors, got ") + dtype_name(a_in.dtype()));
  if (a_in.dim() == 0 || b_in.dim() == 0)
    throw_range("matmul: operands must have at least 1 dim, got " + shape_str(a_in.shape()) + " and " + shape_str(b_in.shape()));
  const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
  const Tensor a = a_vec ? a_in.unsqueeze(0) : a_in;
  const Tensor b = b_vec ? b_in.unsqueeze(1) : b_in;
  const int64_t M = a.size(-2), K = a.size(-1), K2 = b.size(-2), N = b.size(-1);
  if (K != K2)
    throw_range("matmul: inner dims differ: " + shape_str(a_in.shape()) + " x " + shape_str(b_in.shape()) + " (" +
                std::to_string(K) + " vs " + std::to_string(K2) + ")");
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(ba, bb, op);
  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(M);
  if (!b_vec) out_shape.push_back(N);
  Tensor out = backend::call(backend::common_device({&a, &b}, op), &backend::Backend::matmul, op, a, b, batch);
  return out.view(out_shape, op);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const char* op = "linear";
  if (!x.defined() || !weight.defined()) throw_type("linear: the input and the weight must be tensors");
  if (!is_float(x.dtype()) || x.dtype() != weight.dtype() || (bias.defined() && bias.dtype() != x.dtype()))
    throw_type("linear: the input, weight and bias must be float tensors of one dtype");
  if (x.dim() != 2 || weight.dim() != 2 || x.size(1) != weight.size(1) ||
      (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0))))
    throw_range("linear: expected x [N, in], weight [out, in] and bias [out], got " + shape_str(x.shape()) + ", " +
                shape_str(weight.shape()) + (bias.defined() ? ", " + shape_str(bias.shape()) : std::string()));
  return backend::call(backend::common_device({&x, &weight, &bias}, op), &backend::Backend::linear, op, x, weight, bias);
}

void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& g, Tensor* dx, Tensor* dweight, Tensor* dbias) {
  const char* op = "linear";
  if (g.dim() != 2 || g.size(0) != x.size(0) || g.size(1) != weight.size(0))
    throw Error(ErrorKind::Internal, "linear: the output gradient has shape " + shape_str(g.shape()));
  backend::call(backend::common_device({&x, &weight, &g}, op), &backend::Backend::linear_backward, op, x, weight, g, dx, dweight, dbias);
}

}  // namespace qkv::ops
