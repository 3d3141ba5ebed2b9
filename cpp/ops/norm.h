#pragma once
// Batch norm and group norm over [N, C, ...] (NCHW images, or [N, C] features). These check their
// arguments and run the device's kernels (backend/backend.h); the differentiable versions are
// ag::batch_norm and ag::group_norm (autograd/functions.h).
#include "core/tensor.h"

namespace qkv::ops {

// Per channel c: (x - mean_c) / sqrt(var_c + eps) * gamma[c] + beta[c] (gamma, beta [C] or undefined).
// training: the batch's statistics over N and the spatial dims (biased variance), and, when running
// statistics are given, running = (1 - momentum) running + momentum stat in place, the running
// variance taking the unbiased batch variance (PyTorch's rule). Otherwise the running statistics,
// which are then required. mean_out, rstd_out [C] receive the mean and 1/sqrt(var + eps) used.
struct BatchNormOptions {
  bool training = false;
  double momentum = 0.1;
  double eps = 1e-5;
};
Tensor batch_norm(const Tensor& x, Tensor* running_mean, Tensor* running_var, const Tensor& gamma, const Tensor& beta,
                  const BatchNormOptions& o, Tensor* mean_out = nullptr, Tensor* rstd_out = nullptr);
void batch_norm_backward(const Tensor& x, const Tensor& g, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, bool training,
                         Tensor* dx, Tensor* dgamma, Tensor* dbeta);

// The channels split into `groups` equal groups; each sample's group normalised over its channels and
// spatial positions, then scaled and shifted per channel. mean_out, rstd_out [N, groups].
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta, double eps, Tensor* mean_out = nullptr,
                  Tensor* rstd_out = nullptr);
void group_norm_backward(const Tensor& x, const Tensor& g, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, int64_t groups,
                         Tensor* dx, Tensor* dgamma, Tensor* dbeta);

}  // namespace qkv::ops
