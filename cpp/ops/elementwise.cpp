// Elementwise ops: binary with numpy broadcasting, unary math, their backward rules, dropout.
#include <algorithm>
#include <cmath>

#include "backend/backend.h"
#include "core/error.h"
#include "ops/ops.h"

namespace qkv::ops {

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Pow: return "pow";
    case BinaryOp::Maximum: return "maximum";
    case BinaryOp::Minimum: return "minimum";
    case BinaryOp::Equal: return "equal";
  }
  return "binary";
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::GeluTanh: return "geluTanh";
    case UnaryOp::GeluErf: return "gelu";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::QuickGelu: return "quickGelu";
  }
  return "unary";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw_range(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  if (a.dtype() != b.dtype())
    throw_type(std::string(name) + ": dtypes differ (" + dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()) + ")");
  if (a.dtype() == DType::I32 && (op == BinaryOp::Div || op == BinaryOp::Pow))
    throw_type(std::string(name) + ": not defined for int32 tensors; convert to float32 first");
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  return backend::call(backend::common_device({&a, &b}, name), &backend::Backend::binary, name, op, a, b, shape);
}

Tensor unary(UnaryOp op, const Tensor& a) {
  const char* name = unary_name(op);
  if (!is_float(a.dtype()) && !(a.dtype() == DType::I32 && (op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Relu)))
    throw_type(std::string(name) + ": needs a float32 or float64 tensor, got " + dtype_name(a.dtype()));
  return backend::call(a.device(), &backend::Backend::unary, name, op, a);
}

Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& g) {
  const char* name = unary_name(op);
  return backend::call(backend::common_device({&x, &y, &g}, name), &backend::Backend::unary_backward, name, op, x, y, g);
}

Tensor binary_backward(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& y, const Tensor& g, bool wrt_b) {
  const char* name = binary_name(op);
  if (op != BinaryOp::Pow && op != BinaryOp::Maximum && op != BinaryOp::Minimum)
    throw Error(ErrorKind::Internal, std::string(name) + ": binary_backward covers pow, maximum and minimum only");
  const Tensor ab = a.expand(y.shape(), name), bb = b.expand(y.shape(), name);
  return backend::call(backend::common_device({&a, &b, &y, &g}, name), &backend::Backend::binary_backward, name, op, ab, bb, y, g, wrt_b);
}

DropoutLaw dropout_law(double p, uint64_t seed, const char* op) {
  if (!(p >= 0 && p < 1)) throw_range(std::string(op) + ": p must be in [0, 1), got " + std::to_string(p));
  DropoutLaw a;
  const double t = std::round(p * 4294967296.0);
  a.threshold = t >= 4294967295.0 ? 4294967295U : static_cast<uint32_t>(t);
  a.scale = 1.0 / (1.0 - static_cast<double>(a.threshold) / 4294967296.0);
  a.s1 = static_cast<uint32_t>(seed);
  a.s2 = static_cast<uint32_t>(seed >> 32) ^ 0x9e3779b9U;
  return a;
}

Tensor dropout(const Tensor* x, const Tensor& y, const DropoutLaw& law) {
  const char* op = "dropout";
  if (!y.defined() || !is_float(y.dtype()) || (x && (!x->defined() || x->dtype() != y.dtype())))
    throw_type(std::string(op) + ": the inputs must be float tensors of one dtype");
  if (x && x->shape() != y.shape())
    throw_range(std::string(op) + ": x " + shape_str(x->shape()) + " and y " + shape_str(y.shape()) + " must have one shape");
  return backend::call(backend::common_device({x, &y}, op), &backend::Backend::dropout, op, x, y, law);
}

}  // namespace qkv::ops
