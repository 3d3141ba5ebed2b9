#include "clip/towers.h"

#include <cmath>
#include <string>

#include "autograd/functions.h"
#include "core/error.h"
#include "nn/factory.h"
#include "nn/init.h"
#include "transformer/pooling.h"

namespace qkv::clip {

namespace {

json::Value integer(int64_t v) { return json::Value::integer(v); }

std::shared_ptr<nn::LayerNorm> layer_norm(const LayerOptions& l) {
  nn::LayerNormOptions o;
  o.eps = l.eps;
  o.dtype = l.dtype;
  return std::make_shared<nn::LayerNorm>(l.dim, o);
}

std::shared_ptr<nn::Linear> projection(int64_t in, int64_t out, DType dtype, uint64_t seed) {
  nn::LinearOptions o;
  o.bias = false;
  o.dtype = dtype;
  o.seed = seed;
  return std::make_shared<nn::Linear>(in, out, o);
}

// `layers` blocks into `blocks`, in a Sequential (registered by the tower as "transformer": "transformer.0", ...).
std::shared_ptr<nn::Sequential> make_blocks(std::vector<std::shared_ptr<TransformerBlock>>& blocks, const LayerOptions& layer,
                                            int64_t layers, bool causal, uint64_t seed) {
  auto seq = std::make_shared<nn::Sequential>();
  for (int64_t i = 0; i < layers; ++i) {
    transformer::BlockOptions b;
    b.layer = layer;
    b.layer.seed = nn::derive_seed(seed, static_cast<uint64_t>(i));
    b.causal = causal;
    blocks.push_back(std::make_shared<TransformerBlock>(b));
    seq->append(blocks.back());
  }
  return seq;
}

Tensor run_blocks(const std::vector<std::shared_ptr<TransformerBlock>>& blocks, Tensor x) {
  for (const auto& b : blocks) x = b->run(x, {});
  return x;
}

void check_layers(const LayerOptions& l, int64_t layers, int64_t output_dim, const char* op) {
  if (l.dim <= 0 || l.heads <= 0 || l.dim % l.heads != 0)
    throw_range(std::string(op) + ": width " + std::to_string(l.dim) + " must be a positive multiple of heads " + std::to_string(l.heads));
  if (layers < 1 || output_dim < 1) throw_range(std::string(op) + ": layers and the embedding width must be positive");
}

void write_common(json::Value& c, const LayerOptions& l, int64_t layers, int64_t output_dim) {
  c.set("layers", integer(layers));
  c.set("outputDim", integer(output_dim));
  transformer::write_layer_options(c, l);
}

}  // namespace

void init_blocks(const std::vector<std::shared_ptr<TransformerBlock>>& blocks, int64_t width, uint64_t seed) {
  const double W = static_cast<double>(width), L = static_cast<double>(blocks.size());
  const double attn_std = 1 / std::sqrt(W), proj_std = attn_std / std::sqrt(2 * L), fc_std = 1 / std::sqrt(2 * W);
  uint64_t k = 0;
  auto normal = [&](Tensor& t, double std) { nn::fill_normal(t, 0.0, std, nn::derive_seed(seed, ++k)); };
  for (const auto& b : blocks)
    for (auto& [name, p] : b->named_parameters()) {
      const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
      if (p.dim() < 2) {
        if (bias && name.compare(0, 4, "norm") != 0) nn::fill_constant(p, 0);  // norms keep gain one, bias zero
        continue;
      }
      const bool residual = name == "self_attn.out_proj.weight" || name == "linear2.weight";
      normal(p, residual ? proj_std : name == "linear1.weight" ? fc_std : attn_std);
    }
}

// ---- VisionTransformer ---------------------------------------------------------------------------

VisionTransformer::VisionTransformer(const VisionTransformerOptions& o) : Module("VisionTransformer"), o_(o) {
  const char* op = "VisionTransformer";
  check_layers(o.layer, o.layers, o.output_dim, op);
  if (o.channels < 1 || o.patch_size < 1 || o.image_size < o.patch_size || o.image_size % o.patch_size != 0)
    throw_range(std::string(op) + ": imageSize " + std::to_string(o.image_size) + " must be a multiple of patchSize " +
                std::to_string(o.patch_size) + ", with at least one channel");
  const int64_t W = o.layer.dim, p = o.patch_size, g = o.image_size / p;
  const uint64_t seed = o.layer.seed;
  const DType dt = o.layer.dtype;
  const double scale = 1 / std::sqrt(static_cast<double>(W));
  Tensor w = Tensor::empty({W, o.channels, p, p}, dt);
  const double bound = 1 / std::sqrt(static_cast<double>(o.channels * p * p));  // PyTorch's default for a convolution
  nn::fill_uniform(w, -bound, bound, nn::derive_seed(seed, 1));
  conv1 = register_parameter("conv1", w);
  Tensor cls = Tensor::empty({W}, dt);
  nn::fill_normal(cls, 0, scale, nn::derive_seed(seed, 2));
  class_embedding = register_parameter("class_embedding", cls, Decay::No);
  Tensor pos = Tensor::empty({g * g + 1, W}, dt);
  nn::fill_normal(pos, 0, scale, nn::derive_seed(seed, 3));
  positional_embedding = register_parameter("positional_embedding", pos);
  ln_pre = register_module("ln_pre", layer_norm(o.layer));
  register_module("transformer", make_blocks(blocks_, o.layer, o.layers, false, nn::derive_seed(seed, 4)));
  ln_post = register_module("ln_post", layer_norm(o.layer));
  proj = register_module("proj", projection(W, o.output_dim, dt, nn::derive_seed(seed, 5)));
  nn::fill_normal(proj->weight, 0, scale, nn::derive_seed(seed, 6));
  init_blocks(blocks_, W, nn::derive_seed(seed, 7));
}

Tensor VisionTransformer::forward(const Tensor& images) {
  const char* op = "VisionTransformer";
  const int64_t C = o_.channels, S = o_.image_size, p = o_.patch_size, g = S / p, W = o_.layer.dim;
  if (!images.defined() || images.dim() != 4 || images.size(1) != C || images.size(2) != S || images.size(3) != S)
    throw_range(std::string(op) + ": images must be [N, " + std::to_string(C) + ", " + std::to_string(S) + ", " + std::to_string(S) +
                "], got " + (images.defined() ? shape_str(images.shape()) : std::string("undefined")));
  check_input_dtype(images, op);
  const int64_t N = images.size(0);
  // The patch convolution (kernel = stride = p) is one matrix product over the image's patches.
  Tensor patches = ag::contiguous(ag::permute(ag::reshape(ag::contiguous(images), {N, C, g, p, g, p}), {0, 2, 4, 1, 3, 5}));
  Tensor x = ag::linear(ag::reshape(patches, {N * g * g, C * p * p}), ag::reshape(conv1, {W, C * p * p}), Tensor());
  x = ag::reshape(x, {N, g * g, W});
  Tensor cls = ag::add(Tensor::zeros({N, 1, W}, x.dtype()), ag::reshape(class_embedding, {1, 1, W}));
  x = ag::concat({cls, x}, 1);
  x = ag::add(x, ag::reshape(positional_embedding, {1, g * g + 1, W}));
  x = run_blocks(blocks_, ln_pre->forward(x));
  Tensor first = ag::reshape(ag::contiguous(ag::slice(x, 1, 0, 1, 1)), {N, W});
  return proj->forward(ln_post->forward(first));
}

json::Value VisionTransformer::config() const {
  json::Value c = json::Value::object();
  c.set("type", json::Value::string("VisionTransformer"));
  c.set("imageSize", integer(o_.image_size));
  c.set("channels", integer(o_.channels));
  c.set("patchSize", integer(o_.patch_size));
  write_common(c, o_.layer, o_.layers, o_.output_dim);
  return c;
}

// ---- ConvTower -----------------------------------------------------------------------------------

namespace {

std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride, DType dt, uint64_t seed) {
  nn::Conv2dOptions o;
  o.window.stride = {stride, stride};
  o.window.padding = {k / 2, k / 2};
  o.bias = false;
  o.dtype = dt;
  auto c = std::make_shared<nn::Conv2d>(in, out, std::array<int64_t, 2>{k, k}, o);
  // He initialisation for ReLU networks, fan-out mode (torchvision's ResNet).
  nn::fill_normal(c->weight, 0, std::sqrt(2.0 / static_cast<double>(out * k * k)), seed);
  return c;
}

std::shared_ptr<nn::BatchNorm2d> batch_norm(int64_t c, DType dt) {
  nn::BatchNormOptions o;
  o.dtype = dt;
  return std::make_shared<nn::BatchNorm2d>(c, o);
}

Tensor relu(const Tensor& x) { return ag::unary(cpu::UnaryOp::Relu, x); }

}  // namespace

BasicBlock::BasicBlock(int64_t in, int64_t out, int64_t stride, DType dt, uint64_t seed)
    : Module("BasicBlock"), in_(in), out_(out), stride_(stride) {
  conv1 = register_module("conv1", conv(in, out, 3, stride, dt, nn::derive_seed(seed, 1)));
  bn1 = register_module("bn1", batch_norm(out, dt));
  conv2 = register_module("conv2", conv(out, out, 3, 1, dt, nn::derive_seed(seed, 2)));
  bn2 = register_module("bn2", batch_norm(out, dt));
  nn::fill_constant(bn2->weight, 0);  // the block starts as the identity (Goyal et al. 2017)
  if (stride != 1 || in != out) {
    shortcut = register_module("shortcut", conv(in, out, 1, stride, dt, nn::derive_seed(seed, 3)));
    shortcut_bn = register_module("shortcut_bn", batch_norm(out, dt));
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor y = bn2->forward(conv2->forward(relu(bn1->forward(conv1->forward(x)))));
  return relu(ag::add(y, shortcut ? shortcut_bn->forward(shortcut->forward(x)) : x));
}

json::Value BasicBlock::config() const {
  json::Value c = json::Value::object();
  c.set("type", json::Value::string("BasicBlock"));
  c.set("in", integer(in_));
  c.set("out", integer(out_));
  c.set("stride", integer(stride_));
  return c;
}

ConvTower::ConvTower(const ConvTowerOptions& o) : Module("ConvTower"), o_(o) {
  const char* op = "ConvTower";
  if (o.channels < 1 || o.width < 1 || o.output_dim < 1 || o.image_size < 1 || o.blocks.empty())
    throw_range(std::string(op) + ": channels, width, imageSize, the embedding width and the stages must be positive");
  for (int64_t b : o.blocks)
    if (b < 1) throw_range(std::string(op) + ": every stage needs at least one block");
  stem = register_module("stem", conv(o.channels, o.width, 3, 1, o.dtype, nn::derive_seed(o.seed, 1)));
  stem_bn = register_module("stem_bn", batch_norm(o.width, o.dtype));
  auto stages = std::make_shared<nn::Sequential>();
  int64_t in = o.width;
  for (size_t s = 0; s < o.blocks.size(); ++s) {
    const int64_t out = o.width << s;
    for (int64_t b = 0; b < o.blocks[s]; ++b) {
      const uint64_t seed = nn::derive_seed(nn::derive_seed(o.seed, 10 + s), static_cast<uint64_t>(b));
      blocks_.push_back(std::make_shared<BasicBlock>(in, out, s > 0 && b == 0 ? 2 : 1, o.dtype, seed));
      stages->append(blocks_.back());
      in = out;
    }
  }
  register_module("blocks", stages);
  proj = register_module("proj", projection(in, o.output_dim, o.dtype, nn::derive_seed(o.seed, 2)));
}

Tensor ConvTower::forward(const Tensor& images) {
  const char* op = "ConvTower";
  const int64_t C = o_.channels, S = o_.image_size;
  if (!images.defined() || images.dim() != 4 || images.size(1) != C || images.size(2) != S || images.size(3) != S)
    throw_range(std::string(op) + ": images must be [N, " + std::to_string(C) + ", " + std::to_string(S) + ", " + std::to_string(S) +
                "], got " + (images.defined() ? shape_str(images.shape()) : std::string("undefined")));
  check_input_dtype(images, op);
  Tensor x = relu(stem_bn->forward(stem->forward(images)));
  for (const auto& b : blocks_) x = b->forward(x);
  const int64_t N = x.size(0), Cl = x.size(1);
  return proj->forward(ag::reshape(ag::adaptive_avg_pool2d(x, {1, 1}), {N, Cl}));
}

json::Value ConvTower::config() const {
  json::Value c = json::Value::object();
  c.set("type", json::Value::string("ConvTower"));
  c.set("imageSize", integer(o_.image_size));
  c.set("channels", integer(o_.channels));
  c.set("width", integer(o_.width));
  json::Value b = json::Value::array();
  for (int64_t n : o_.blocks) b.push(integer(n));
  c.set("blocks", std::move(b));
  c.set("outputDim", integer(o_.output_dim));
  c.set("dtype", json::Value::string(dtype_name(o_.dtype)));
  c.set("seed", json::Value::string(std::to_string(o_.seed)));
  return c;
}

// ---- TextTransformer -----------------------------------------------------------------------------

TextTransformer::TextTransformer(const TextTransformerOptions& o) : Module("TextTransformer"), o_(o) {
  const char* op = "TextTransformer";
  check_layers(o.layer, o.layers, o.output_dim, op);
  if (o.vocab_size < 1 || o.context < 1) throw_range(std::string(op) + ": vocabSize and context must be positive");
  if (o.eot_id < 0 || o.eot_id >= o.vocab_size)
    throw_range(std::string(op) + ": eotId " + std::to_string(o.eot_id) + " is outside the vocabulary of " + std::to_string(o.vocab_size));
  const int64_t W = o.layer.dim;
  const uint64_t seed = o.layer.seed;
  const DType dt = o.layer.dtype;
  nn::EmbeddingOptions eo;
  eo.dtype = dt;
  eo.init = {nn::InitKind::Normal, 0.02};
  eo.seed = nn::derive_seed(seed, 1);
  token_embedding = register_module("token_embedding", std::make_shared<nn::Embedding>(o.vocab_size, W, eo));
  Tensor pos = Tensor::empty({o.context, W}, dt);
  nn::fill_normal(pos, 0, 0.01, nn::derive_seed(seed, 2));
  positional_embedding = register_parameter("positional_embedding", pos, Decay::No);
  register_module("transformer", make_blocks(blocks_, o.layer, o.layers, true, nn::derive_seed(seed, 3)));
  ln_final = register_module("ln_final", layer_norm(o.layer));
  text_projection = register_module("text_projection", projection(W, o.output_dim, dt, nn::derive_seed(seed, 4)));
  nn::fill_normal(text_projection->weight, 0, 1 / std::sqrt(static_cast<double>(W)), nn::derive_seed(seed, 5));
  init_blocks(blocks_, W, nn::derive_seed(seed, 6));
}

Tensor TextTransformer::encode(const Tensor& ids, const std::vector<int32_t>& lengths) {
  const char* op = "TextTransformer";
  if (!ids.defined() || ids.dtype() != DType::I32 || ids.dim() != 2 || ids.size(0) == 0 || ids.size(1) == 0)
    throw_range(std::string(op) + ": ids must be a non-empty int32 [N, L] tensor");
  const int64_t L = ids.size(1), W = o_.layer.dim;
  if (L > o_.context)
    throw_range(std::string(op) + ": " + std::to_string(L) + " tokens exceed the context length " + std::to_string(o_.context));
  // Causal attention: a row's right padding is never seen by its real tokens, so no padding mask is needed.
  Tensor x = token_embedding->forward(ids);
  x = ag::add(x, ag::reshape(ag::slice(positional_embedding, 0, 0, L, 1), {1, L, W}));
  x = ln_final->forward(run_blocks(blocks_, x));
  return text_projection->forward(transformer::pool_hidden(x, lengths, transformer::Pooling::Eot, ids, o_.eot_id));
}

Tensor TextTransformer::forward(const Tensor& ids) {
  if (!ids.defined() || ids.dim() != 2) throw_range("TextTransformer: ids must be int32 [N, L]");
  return encode(ids, std::vector<int32_t>(static_cast<size_t>(ids.size(0)), static_cast<int32_t>(ids.size(1))));
}

json::Value TextTransformer::config() const {
  json::Value c = json::Value::object();
  c.set("type", json::Value::string("TextTransformer"));
  c.set("vocabSize", integer(o_.vocab_size));
  c.set("context", integer(o_.context));
  c.set("eotId", integer(o_.eot_id));
  write_common(c, o_.layer, o_.layers, o_.output_dim);
  return c;
}

}  // namespace qkv::clip
