// In-place updates that the autograd never records: optimizer steps and gradient scaling.
#include "backend/backend.h"
#include "core/error.h"
#include "ops/ops.h"

namespace qkv::ops {

namespace {

void check_same(const Tensor& p, const Tensor& other, const char* op) {
  if (!other.is_contiguous() || other.shape() != p.shape() || other.dtype() != p.dtype())
    throw Error(ErrorKind::Internal, std::string(op) + ": a state tensor does not match its parameter " + shape_str(p.shape()));
}

void check_param(const Tensor& p, const char* op) {
  if (!p.is_contiguous() || !is_float(p.dtype())) throw Error(ErrorKind::Internal, std::string(op) + ": the tensor must be contiguous float");
}

}  // namespace

void scale_inplace(Tensor& x, double c) {
  const char* op = "scale";
  check_param(x, op);
  backend::call(x.device(), &backend::Backend::scale_inplace, op, x, c);
}

void adam_step(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamStep& a) {
  const char* op = "Adam.step";
  check_param(p, op);
  check_same(p, g, op);
  check_same(p, m, op);
  check_same(p, v, op);
  backend::call(backend::common_device({&p, &g, &m, &v}, op), &backend::Backend::adam_step, op, p, g, m, v, a);
}

void sgd_step(Tensor& p, const Tensor& g, Tensor* momentum, const SgdStep& a) {
  const char* op = "SGD.step";
  check_param(p, op);
  check_same(p, g, op);
  if (momentum) check_same(p, *momentum, op);
  backend::call(backend::common_device({&p, &g, momentum}, op), &backend::Backend::sgd_step, op, p, g, momentum, a);
}

}  // namespace qkv::ops
