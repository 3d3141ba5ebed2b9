#pragma once
// A dual encoder (CLIP, Radford et al. 2021): an image tower and a text tower projected into one
// embedding space of width E, trained contrastively so that an image and its caption land close
// and the other captions of the batch far.
//
// In a batch of N pairs the towers' features are L2-normalised and compared all against all,
// logits = exp(t) · Î T̂ᵀ, and the loss is the fused symmetric InfoNCE of ops/contrastive.h,
// (CE over rows + CE over columns) / 2, with a learnable log temperature t initialised to
// ln(1/0.07) and clamped to [0, ln 100] after every optimizer step (open_clip). SigLIP's pairwise
// sigmoid loss is the option (t = ln 10 and a learnable bias b = −10 at the start).
//
// Parameter names: `visual.*` (towers.h: either image tower), `text.*`, `logit_scale` (a scalar) and, for SigLIP,
// `logit_bias`.
#include <cstdint>
#include <memory>
#include <vector>

#include "clip/towers.h"
#include "ops/op_args.h"

namespace qkv::clip {

using ops::ContrastiveLoss;

struct DualEncoderOptions {
  int64_t embed_dim = 256;
  bool conv_vision = false;         // the image tower: a ViT (`vision`) or a ConvTower (`conv`)
  VisionTransformerOptions vision;  // output_dim is set to embed_dim
  ConvTowerOptions conv;            // output_dim is set to embed_dim
  TextTransformerOptions text;      // output_dim is set to embed_dim
  ContrastiveLoss loss = ContrastiveLoss::Clip;
  double init_logit_scale = -1;     // < 0: ln(1/0.07) for CLIP, ln 10 for SigLIP
  double init_logit_bias = -10;     // SigLIP only
  double max_logit_scale = 4.605170185988092;  // ln 100
};

class DualEncoder : public nn::Module {
 public:
  explicit DualEncoder(const DualEncoderOptions& options);
  // The towers' features (not normalised): images [N, C, H, W] -> [N, E]; ids [N, L] -> [N, E].
  Tensor image_features(const Tensor& images);
  Tensor text_features(const Tensor& ids, const std::vector<int32_t>& lengths);
  // The contrastive loss of N pairs (a recorded scalar).
  Tensor loss(const Tensor& image_features, const Tensor& text_features);
  // Keeps logit_scale in [0, max_logit_scale] (after each optimizer step).
  void clamp_logit_scale();
  Tensor forward(const Tensor& images) override { return image_features(images); }
  json::Value config() const override;
  const DualEncoderOptions& options() const { return o_; }

  std::shared_ptr<nn::Module> visual;  // a VisionTransformer or a ConvTower
  std::shared_ptr<TextTransformer> text;
  Tensor logit_scale, logit_bias;  // logit_bias: SigLIP only

 private:
  DualEncoderOptions o_;
};

// Rows of x [N, E] scaled to unit length (recorded).
Tensor l2_normalize(const Tensor& x);

nn::ModulePtr build_dual_encoder(const json::Value& config);

}  // namespace qkv::clip
