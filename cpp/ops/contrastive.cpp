// The contrastive losses: the checks, then the device's tiled kernels (backend/cpu_contrastive.cpp on the CPU).
#include "ops/contrastive.h"

#include <string>

#include "backend/backend.h"
#include "core/error.h"

namespace qkv::ops {

namespace {
constexpr const char* kOp = "infoNCE";
}  // namespace

void check_info_nce(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss) {
  const std::string op = kOp;
  if (!is_float(image.dtype())) throw_type(op + ": imageEmb must be float32 or float64, got " + dtype_name(image.dtype()));
  for (const auto& [t, name] : {std::pair{&text, "textEmb"}, std::pair{&log_scale, "logScale"}, std::pair{&bias, "bias"}})
    if (t->defined() && t->dtype() != image.dtype())
      throw_type(op + ": " + name + " must have imageEmb's dtype " + dtype_name(image.dtype()) + ", got " + dtype_name(t->dtype()));
  if (image.dim() != 2 || image.shape() != text.shape())
    throw_range(op + ": imageEmb and textEmb must both be [N, D] of one shape, got " + shape_str(image.shape()) + " and " +
                shape_str(text.shape()));
  if (image.size(0) == 0 || image.size(1) == 0) throw_range(op + ": needs at least one pair of non-empty embeddings, got " + shape_str(image.shape()));
  if (log_scale.numel() != 1 || log_scale.dim() > 1)
    throw_range(op + ": logScale must be a scalar tensor, got shape " + shape_str(log_scale.shape()));
  if (loss == ContrastiveLoss::Siglip && !bias.defined()) throw_range(op + ": the siglip loss needs a bias tensor");
  if (loss == ContrastiveLoss::Clip && bias.defined()) throw_range(op + ": bias is only for the siglip loss");
  if (bias.defined() && (bias.numel() != 1 || bias.dim() > 1)) throw_range(op + ": bias must be a scalar tensor, got shape " + shape_str(bias.shape()));
}

InfoNCEResult info_nce_forward(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss) {
  check_info_nce(image, text, log_scale, bias, loss);
  const Device d = backend::common_device({&image, &text, &log_scale, &bias}, kOp);
  return backend::call(d, &backend::Backend::info_nce_forward, kOp, image.contiguous(), text.contiguous(), log_scale, bias, loss);
}

InfoNCEGrads info_nce_backward(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss,
                               const Tensor& lse, const Tensor& g) {
  const Device d = backend::common_device({&image, &text, &log_scale, &bias, &lse, &g}, kOp);
  return backend::call(d, &backend::Backend::info_nce_backward, kOp, image.contiguous(), text.contiguous(), log_scale, bias, loss, lse, g);
}

Tensor info_nce_reference(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss,
                          InfoNCEGrads* grads) {
  const char* op = "infoNCEReference";
  check_info_nce(image, text, log_scale, bias, loss);
  return backend::call(backend::common_device({&image, &text, &log_scale, &bias}, op), &backend::Backend::info_nce_reference, op,
                       image.contiguous(), text.contiguous(), log_scale, bias, loss, grads);
}

}  // namespace qkv::ops
