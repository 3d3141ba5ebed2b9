// Backward rules of batch norm and group norm: the statistics of the forward pass are saved, the
// kernels of backend/cpu_norm.cpp do the rest. Checked against central finite differences in
// float64 by test/autograd.test.ts.
#include "autograd/functions.h"

namespace qkv::ag {

namespace {

// Detached contiguous copies for the backward closure (undefined stays undefined).
Tensor saved(const Tensor& t) { return t.defined() ? t.contiguous().detach() : Tensor(); }
bool wants(const Tensor& t) { return t.defined() && t.requires_grad(); }

}  // namespace

Tensor batch_norm(const Tensor& x_in, Tensor* running_mean, Tensor* running_var, const Tensor& gamma_in, const Tensor& beta_in,
                  const ops::BatchNormOptions& options) {
  const bool track = needs_grad({&x_in, &gamma_in, &beta_in});
  Tensor mean, rstd;
  Tensor out = ops::batch_norm(x_in, running_mean, running_var, gamma_in, beta_in, options, track ? &mean : nullptr, track ? &rstd : nullptr);
  if (!track) return out;
  const Tensor x = saved(x_in), gamma = saved(gamma_in);
  const bool gx = wants(x_in), gg = wants(gamma_in), gb = wants(beta_in), training = options.training;
  record(out, OpKind::BatchNorm, {x_in, gamma_in, beta_in}, [=](const Tensor& g) {
    Tensor dx, dgamma, dbeta;
    ops::batch_norm_backward(x, g, gamma, mean, rstd, training, gx ? &dx : nullptr, gg ? &dgamma : nullptr, gb ? &dbeta : nullptr);
    return std::vector<Tensor>{dx, dgamma, dbeta};
  });
  return out;
}

Tensor group_norm(const Tensor& x_in, int64_t groups, const Tensor& gamma_in, const Tensor& beta_in, double eps) {
  const bool track = needs_grad({&x_in, &gamma_in, &beta_in});
  Tensor mean, rstd;
  Tensor out = ops::group_norm(x_in, groups, gamma_in, beta_in, eps, track ? &mean : nullptr, track ? &rstd : nullptr);
  if (!track) return out;
  const Tensor x = saved(x_in), gamma = saved(gamma_in);
  const bool gx = wants(x_in), gg = wants(gamma_in), gb = wants(beta_in);
  record(out, OpKind::GroupNorm, {x_in, gamma_in, beta_in}, [=](const Tensor& g) {
    Tensor dx, dgamma, dbeta;
    ops::group_norm_backward(x, g, gamma, mean, rstd, groups, gx ? &dx : nullptr, gg ? &dgamma : nullptr, gb ? &dbeta : nullptr);
    return std::vector<Tensor>{dx, dgamma, dbeta};
  });
  return out;
}

}  // namespace qkv::ag
