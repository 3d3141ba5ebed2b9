#pragma once
// The symmetric contrastive losses of a dual encoder (CLIP, SigLIP), fused: one op from the two
// batches of embeddings to the scalar loss, with its own backward.
//   image, text [N, D]: row i of each is a matching pair; both are L2-normalised inside the op
//   (x / max(|x|, 1e-12), as torch.nn.functional.normalize), Î and T̂.
//   CLIP:   logits S = exp(t) Î T̂ᵀ; L = (CE(S, rows → i) + CE(Sᵀ, rows → i)) / 2, the mean
//           cross-entropy image→text and text→image (Radford et al. 2021).
//   SigLIP: logits S = exp(t) Î T̂ᵀ + b; L = -(1/N) Σ_ij log σ(z_ij S_ij), z = +1 on the diagonal
//           and -1 elsewhere (Zhai et al. 2023: the sum over all N² pairs divided by N).
// log_scale t and bias b are scalar tensors (learnable). The kernels are tiled: the N x N logits
// are never stored (memory O(N·D + N)); the backward recomputes them from the saved per-row and
// per-column log-sum-exps.
#include "core/tensor.h"
#include "ops/op_args.h"

namespace qkv::ops {

// Checks the arguments; TypeError/RangeError naming infoNCE. bias must be defined exactly for SigLIP.
void check_info_nce(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss);

InfoNCEResult info_nce_forward(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss);
// The gradients for the scalar output gradient g (a one-element tensor); lse from the forward.
InfoNCEGrads info_nce_backward(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss,
                               const Tensor& lse, const Tensor& g);
// The readable reference (the explicit N x N logits in double): the loss, and into *grads its
// gradients; what the tiled kernels are tested against.
Tensor info_nce_reference(const Tensor& image, const Tensor& text, const Tensor& log_scale, const Tensor& bias, ContrastiveLoss loss,
                          InfoNCEGrads* grads);

}  // namespace qkv::ops
