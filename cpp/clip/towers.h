#pragma once
// The two towers of a dual encoder (Radford et al. 2021, CLIP), each mapping its input to a vector
// of the shared embedding width E. Both are arrangements of the shared transformer parts.
//
// VisionTransformer (CLIP's ViT): the image is cut into patches of p×p pixels, each projected by
// `conv1` (a convolution with kernel = stride = p and no bias, stored in PyTorch's conv layout
// [W, C, p, p]; computed as the identical patch-matrix product), a learned `class_embedding` is put
// in front, learned `positional_embedding` [(H/p)·(W/p) + 1, W] added, `ln_pre`, bidirectional
// pre-LN TransformerBlocks, `ln_post` on the class token's state and `proj` Linear(W, E) without
// bias.
//
// ConvTower (a small ResNet): a 3×3 stem convolution, stages of basic residual blocks (two 3×3
// convolutions with batch norm; the first block of each later stage halves the resolution with
// stride 2 and a 1×1 projection shortcut), global average pooling and `proj` Linear(C_last, E)
// without bias. Convolutions have no bias (batch norm follows each); He (fan-out) initialisation,
// and the last batch norm of each block starts at zero so that blocks start as identities.
//
// TextTransformer (CLIP's text tower): `token_embedding` plus learned `positional_embedding`,
// causal pre-LN TransformerBlocks, `ln_final`, the state at the end-of-text token (its first
// occurrence in the row; CLIP puts it last) and `text_projection` Linear(W, E) without bias.
//
// Initialisation follows open_clip: token embeddings N(0, 0.02²), text positions N(0, 0.01²); in
// both transformers attention projections N(0, W⁻¹), residual projections N(0, W⁻¹/(2L)),
// feed-forward inputs N(0, 1/(2W)); class embedding, image positions and projections N(0, W⁻¹).
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/image_layers.h"
#include "nn/layers.h"
#include "transformer/layers.h"

namespace qkv::clip {

using transformer::LayerOptions;
using transformer::TransformerBlock;

struct VisionTransformerOptions {
  int64_t image_size = 32, channels = 3, patch_size = 4, layers = 4, output_dim = 256;
  LayerOptions layer;  // width W = layer.dim, heads, ffDim, activation (CLIP: quickGelu), eps
};

class VisionTransformer : public nn::Module {
 public:
  explicit VisionTransformer(const VisionTransformerOptions& options);
  // images [N, C, H, W] (H = W = image_size) -> features [N, E] (not normalised).
  Tensor forward(const Tensor& images) override;
  json::Value config() const override;
  const VisionTransformerOptions& options() const { return o_; }

  Tensor conv1, class_embedding, positional_embedding;
  std::shared_ptr<nn::LayerNorm> ln_pre, ln_post;
  std::shared_ptr<nn::Linear> proj;

 private:
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;
  VisionTransformerOptions o_;
};

struct ConvTowerOptions {
  int64_t image_size = 32, channels = 3, width = 32, output_dim = 256;
  std::vector<int64_t> blocks = {1, 1, 1};  // residual blocks per stage; stage s has width · 2^s channels
  DType dtype = DType::F32;
  uint64_t seed = 0;
};

// conv → bn → relu → conv → bn, plus the input (or its 1×1 projection), → relu.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride, DType dtype, uint64_t seed);
  Tensor forward(const Tensor& x) override;
  json::Value config() const override;

  std::shared_ptr<nn::Conv2d> conv1, conv2, shortcut;  // shortcut: when the shape changes
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, shortcut_bn;

 private:
  int64_t in_, out_, stride_;
};

class ConvTower : public nn::Module {
 public:
  explicit ConvTower(const ConvTowerOptions& options);
  // images [N, C, H, W] (H = W = image_size) -> features [N, E] (not normalised).
  Tensor forward(const Tensor& images) override;
  json::Value config() const override;
  const ConvTowerOptions& options() const { return o_; }

  std::shared_ptr<nn::Conv2d> stem;
  std::shared_ptr<nn::BatchNorm2d> stem_bn;
  std::shared_ptr<nn::Linear> proj;

 private:
  std::vector<std::shared_ptr<BasicBlock>> blocks_;
  ConvTowerOptions o_;
};

struct TextTransformerOptions {
  int64_t vocab_size = 0, context = 77, layers = 4, output_dim = 256;
  int32_t eot_id = -1;  // the end-of-text id whose state is pooled
  LayerOptions layer;
};

class TextTransformer : public nn::Module {
 public:
  explicit TextTransformer(const TextTransformerOptions& options);
  // ids [N, L] int32 right-padded with lengths [N] -> features [N, E] (not normalised): the state
  // at the first end-of-text token of each row (the last real token when a row has none).
  Tensor encode(const Tensor& ids, const std::vector<int32_t>& lengths);
  Tensor forward(const Tensor& ids) override;  // every row full length
  json::Value config() const override;
  const TextTransformerOptions& options() const { return o_; }

  std::shared_ptr<nn::Embedding> token_embedding;
  Tensor positional_embedding;
  std::shared_ptr<nn::LayerNorm> ln_final;
  std::shared_ptr<nn::Linear> text_projection;

 private:
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;
  TextTransformerOptions o_;
};

// open_clip's initialisation of a stack of blocks of width W (see above).
void init_blocks(const std::vector<std::shared_ptr<TransformerBlock>>& blocks, int64_t width, uint64_t seed);

}  // namespace qkv::clip
