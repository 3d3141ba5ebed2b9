// Batch norm and group norm: the checks; the kernels are in each device's table.
#include "ops/norm.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "backend/backend.h"
#include "core/error.h"

namespace qkv::ops {

namespace {

// x [N, C, ...] of a float dtype; each given parameter a [C] tensor of x's dtype.
void check_norm_input(const Tensor& x, const char* op) {
  if (!x.defined() || !is_float(x.dtype()))
    throw_type(std::string(op) + ": input must be a float32 or float64 tensor" +
               (x.defined() ? std::string(", got ") + dtype_name(x.dtype()) : std::string()));
  if (x.dim() < 2) throw_range(std::string(op) + ": input must be [N, C, ...], got " + shape_str(x.shape()));
}

void check_channel_param(const Tensor& x, const Tensor& p, const char* op, const char* name) {
  if (!p.defined()) return;
  if (p.dtype() != x.dtype())
    throw_type(std::string(op) + ": " + name + " dtype " + dtype_name(p.dtype()) + " differs from input " + dtype_name(x.dtype()));
  if (p.dim() != 1 || p.size(0) != x.size(1))
    throw_range(std::string(op) + ": " + name + " must have shape [" + std::to_string(x.size(1)) + "] for input " + shape_str(x.shape()) +
                ", got " + shape_str(p.shape()));
}

void check_eps(double eps, const char* op) {
  if (!(eps >= 0) || !std::isfinite(eps)) throw_range(std::string(op) + ": eps must be a finite number >= 0");
}

}  // namespace

Tensor batch_norm(const Tensor& x, Tensor* running_mean, Tensor* running_var, const Tensor& gamma, const Tensor& beta,
                  const BatchNormOptions& o, Tensor* mean_out, Tensor* rstd_out) {
  const char* op = "batchNorm";
  check_norm_input(x, op);
  Tensor* rm = running_mean && running_mean->defined() ? running_mean : nullptr;
  Tensor* rv = running_var && running_var->defined() ? running_var : nullptr;
  if (!rm != !rv) throw_range("batchNorm: runningMean and runningVar must be given together");
  if (!o.training && !rm) throw_range("batchNorm: evaluation mode (training: false) needs runningMean and runningVar");
  check_channel_param(x, gamma, op, "gamma");
  check_channel_param(x, beta, op, "beta");
  if (rm) {
    check_channel_param(x, *rm, op, "runningMean");
    check_channel_param(x, *rv, op, "runningVar");
  }
  check_eps(o.eps, op);
  if (!(o.momentum >= 0 && o.momentum <= 1)) throw_range("batchNorm: momentum must be in [0, 1]");
  if (o.training && x.numel() / std::max<int64_t>(x.size(1), 1) < 2)
    throw_range("batchNorm: training needs more than one value per channel, got input " + shape_str(x.shape()));
  return backend::call(backend::common_device({&x, &gamma, &beta, rm, rv}, op), &backend::Backend::batch_norm, op, x, gamma, beta, rm, rv,
                       o.training, o.momentum, o.eps, mean_out, rstd_out);
}

void batch_norm_backward(const Tensor& x, const Tensor& g, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, bool training,
                         Tensor* dx, Tensor* dgamma, Tensor* dbeta) {
  const char* op = "batchNorm";
  backend::call(backend::common_device({&x, &g, &gamma, &mean, &rstd}, op), &backend::Backend::batch_norm_backward, op, x, g, gamma, mean,
                rstd, training, dx, dgamma, dbeta);
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta, double eps, Tensor* mean_out, Tensor* rstd_out) {
  const char* op = "groupNorm";
  check_norm_input(x, op);
  const int64_t C = x.size(1);
  if (groups < 1 || C % groups != 0)
    throw_range("groupNorm: groups must divide the " + std::to_string(C) + " channels of input " + shape_str(x.shape()) + ", got " +
                std::to_string(groups));
  check_channel_param(x, gamma, op, "gamma");
  check_channel_param(x, beta, op, "beta");
  check_eps(eps, op);
  return backend::call(backend::common_device({&x, &gamma, &beta}, op), &backend::Backend::group_norm, op, x, gamma, beta, groups, eps,
                       mean_out, rstd_out);
}

void group_norm_backward(const Tensor& x, const Tensor& g, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, int64_t groups,
                         Tensor* dx, Tensor* dgamma, Tensor* dbeta) {
  const char* op = "groupNorm";
  backend::call(backend::common_device({&x, &g, &gamma, &mean, &rstd}, op), &backend::Backend::group_norm_backward, op, x, g, gamma, mean,
                rstd, groups, dx, dgamma, dbeta);
}

}  // namespace qkv::ops
