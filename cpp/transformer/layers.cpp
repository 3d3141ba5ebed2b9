#include "transformer/layers.h"

#include <cmath>

#include <algorithm>
#include <functional>

#include "autograd/functions.h"
#include "core/error.h"

namespace qkv::transformer {

namespace {

json::Value str(const std::string& s) { return json::Value::string(s); }

void check_layer_options(const LayerOptions& o, const char* op) {
  if (o.dim <= 0 || o.heads <= 0 || o.ff_dim <= 0) throw_range(std::string(op) + ": dim, heads and ffDim must be positive");
  if (o.dim % o.heads) throw_range(std::string(op) + ": dim " + std::to_string(o.dim) + " is not a multiple of heads " + std::to_string(o.heads));
  if (!(o.dropout >= 0 && o.dropout < 1) || !(o.attention_dropout >= 0 && o.attention_dropout < 1))
    throw_range(std::string(op) + ": dropout and attentionDropout must be in [0, 1)");
  if (!(o.eps > 0) || !std::isfinite(o.eps)) throw_range(std::string(op) + ": eps must be a positive number");
  if (!is_float(o.dtype)) throw_type(std::string(op) + ": dtype must be float32 or float64");
}

MultiHeadAttentionOptions attention_options(const LayerOptions& o, bool self, uint64_t seed) {
  MultiHeadAttentionOptions a;
  a.dim = o.dim;
  a.heads = o.heads;
  a.self_attention = self;
  a.fused = o.fused;
  a.bias = o.bias;
  a.dropout = o.attention_dropout;
  a.dtype = o.dtype;
  a.seed = seed;
  return a;
}

nn::LinearOptions ff_options(const LayerOptions& o, uint64_t seed) {
  nn::LinearOptions lo;
  lo.bias = o.bias;
  lo.dtype = o.dtype;
  lo.init.kind = nn::InitKind::XavierUniform;  // as nn.Transformer._reset_parameters
  lo.seed = seed;
  return lo;
}

std::shared_ptr<nn::LayerNorm> layer_norm(const LayerOptions& o) {
  nn::LayerNormOptions lo;
  lo.eps = o.eps;
  lo.dtype = o.dtype;
  return std::make_shared<nn::LayerNorm>(o.dim, lo);
}

}  // namespace

void write_layer_options(json::Value& c, const LayerOptions& o) {
  c.set("dim", json::Value::integer(o.dim));
  c.set("heads", json::Value::integer(o.heads));
  c.set("ffDim", json::Value::integer(o.ff_dim));
  c.set("dropout", json::Value::number(o.dropout));
  c.set("attentionDropout", json::Value::number(o.attention_dropout));
  c.set("activation", str(nn::activation_name(o.activation)));
  c.set("norm", str(o.pre_norm ? "pre" : "post"));
  c.set("eps", json::Value::number(o.eps));
  c.set("fused", json::Value::boolean(o.fused));
  c.set("bias", json::Value::boolean(o.bias));
  c.set("dtype", str(dtype_name(o.dtype)));
  c.set("seed", str(std::to_string(o.seed)));
}

LayerOptions read_layer_options(const nn::ConfigReader& r) {
  LayerOptions o;
  o.dim = r.integer("dim");
  o.heads = r.integer_or("heads", 1);
  o.ff_dim = r.integer_or("ffDim", 4 * o.dim);
  o.dropout = r.number_or("dropout", 0.1);
  o.attention_dropout = r.number_or("attentionDropout", 0);
  o.activation = nn::activation_from_name(r.string_or("activation", "relu"), r.where.c_str());
  const std::string norm = r.string_or("norm", "pre");
  if (norm != "pre" && norm != "post") throw Error(ErrorKind::Format, r.where + ".norm must be 'pre' or 'post'");
  o.pre_norm = norm == "pre";
  o.eps = r.number_or("eps", 1e-5);
  o.fused = r.boolean_or("fused", true);
  o.bias = r.boolean_or("bias", true);
  o.dtype = r.dtype_or("dtype", DType::F32);
  o.seed = r.seed_or("seed", 0);
  return o;
}

// ---- blocks -------------------------------------------------------------------------------------
// Child seeds and dropout sites are those of the earlier separate encoder and decoder layers, so
// that a model initialises and trains as it did.

TransformerBlock::TransformerBlock(const BlockOptions& options, std::string type) : Module(std::move(type)), o_(options) {
  const LayerOptions& o = o_.layer;
  check_layer_options(o, this->type().c_str());
  self_attn = register_module("self_attn", std::make_shared<MultiHeadAttention>(attention_options(o, true, nn::derive_seed(o.seed, 0))));
  if (o_.cross_attention)
    multihead_attn =
        register_module("multihead_attn", std::make_shared<MultiHeadAttention>(attention_options(o, false, nn::derive_seed(o.seed, 6))));
  linear1 = register_module("linear1", std::make_shared<nn::Linear>(o.dim, o.ff_dim, ff_options(o, nn::derive_seed(o.seed, 1))));
  linear2 = register_module("linear2", std::make_shared<nn::Linear>(o.ff_dim, o.dim, ff_options(o, nn::derive_seed(o.seed, 3))));
  norm1 = register_module("norm1", layer_norm(o));
  norm2 = register_module("norm2", layer_norm(o));
  if (o_.cross_attention) norm3 = register_module("norm3", layer_norm(o));
  dropout_seed_ = nn::derive_seed(o.seed, 2);
}

uint64_t TransformerBlock::call_seed(uint64_t site) const { return nn::derive_seed(nn::derive_seed(dropout_seed_, site), dropout_calls_); }

Tensor TransformerBlock::feed_forward(const Tensor& x, bool training) {
  Tensor h = ag::unary(nn::activation_op(o_.layer.activation), linear1->forward(x));
  if (training && o_.layer.dropout > 0) h = ag::dropout(h, o_.layer.dropout, call_seed(0));
  return linear2->forward(h);
}

Tensor TransformerBlock::residual(const Tensor& x, const Tensor& y, bool training, uint64_t site) {
  if (training && o_.layer.dropout > 0) return ag::add_dropout(x, y, o_.layer.dropout, call_seed(site));
  return ag::add(x, y);
}

Tensor TransformerBlock::run(const Tensor& x, const BlockInputs& in) {
  const bool tr = is_training(), pre = o_.layer.pre_norm;
  if (tr) ++dropout_calls_;
  AttentionMask self_mask;
  self_mask.causal = o_.causal;
  self_mask.key_lengths = in.key_lengths;
  self_mask.key_starts = in.key_starts;
  // pre-LN: h + drop(f(norm(h)));  post-LN: norm(h + drop(f(h)))
  const auto sublayer = [&](const Tensor& h, nn::LayerNorm& norm, uint64_t site, const std::function<Tensor(const Tensor&)>& f) {
    return pre ? residual(h, f(norm.forward(h)), tr, site) : norm.forward(residual(h, f(h), tr, site));
  };
  Tensor h = sublayer(x, *norm1, 1, [&](const Tensor& a) {
    AttentionOutput s = self_attn->attend(a, Tensor(), self_mask, in.self_weights != nullptr, in.cache ? &in.cache->self : nullptr);
    if (in.self_weights) *in.self_weights = s.weights;
    return s.out;
  });
  if (multihead_attn) {
    AttentionMask cross;
    cross.key_lengths = in.memory_lengths;
    h = sublayer(h, *norm2, 2, [&](const Tensor& a) {
      AttentionOutput c = multihead_attn->attend(a, in.memory, cross, in.cross_weights != nullptr, in.cache ? &in.cache->cross : nullptr);
      if (in.cross_weights) *in.cross_weights = c.weights;
      return c.out;
    });
  }
  return sublayer(h, multihead_attn ? *norm3 : *norm2, multihead_attn ? 3 : 2, [&](const Tensor& a) { return feed_forward(a, tr); });
}

json::Value TransformerBlock::config() const {
  json::Value c = json::Value::object();
  c.set("type", str(type()));
  write_layer_options(c, o_.layer);
  c.set("crossAttention", json::Value::boolean(o_.cross_attention));
  c.set("causal", json::Value::boolean(o_.causal));
  return c;
}

namespace {
BlockOptions make_block_options(const LayerOptions& o, bool decoder) {
  BlockOptions b;
  b.layer = o;
  b.cross_attention = b.causal = decoder;
  return b;
}
// The layers' configs are the layer options alone (as the checkpoints before TransformerBlock).
json::Value layer_config(const char* type, const LayerOptions& o) {
  json::Value c = json::Value::object();
  c.set("type", str(type));
  write_layer_options(c, o);
  return c;
}
}  // namespace

TransformerEncoderLayer::TransformerEncoderLayer(const LayerOptions& o) : TransformerBlock(make_block_options(o, false), "TransformerEncoderLayer") {}

Tensor TransformerEncoderLayer::encode(const Tensor& x, const std::vector<int32_t>& key_lengths, Tensor* weights) {
  BlockInputs in;
  in.key_lengths = key_lengths;
  in.self_weights = weights;
  return run(x, in);
}

json::Value TransformerEncoderLayer::config() const { return layer_config("TransformerEncoderLayer", options()); }

TransformerDecoderLayer::TransformerDecoderLayer(const LayerOptions& o) : TransformerBlock(make_block_options(o, true), "TransformerDecoderLayer") {}

Tensor TransformerDecoderLayer::decode(const Tensor& x, const Tensor& memory, const std::vector<int32_t>& memory_lengths,
                                       DecoderLayerCache* cache, Tensor* cross_weights, Tensor* self_weights) {
  BlockInputs in;
  in.memory = memory;
  in.memory_lengths = memory_lengths;
  in.cache = cache;
  in.cross_weights = cross_weights;
  in.self_weights = self_weights;
  return run(x, in);
}

json::Value TransformerDecoderLayer::config() const { return layer_config("TransformerDecoderLayer", options()); }

// ---- positional encodings -----------------------------------------------------------------------

const char* positional_name(PositionalKind k) { return k == PositionalKind::Learned ? "learned" : "sinusoidal"; }

PositionalKind positional_from_name(const std::string& name, const char* op) {
  if (name == "sinusoidal") return PositionalKind::Sinusoidal;
  if (name == "learned") return PositionalKind::Learned;
  throw_type(std::string(op) + ": positional must be 'sinusoidal' or 'learned', got '" + name + "'");
}

void PositionalEncoding::check(const Tensor& x, int64_t offset, const char* op) const {
  if (!x.defined() || x.dim() != 3 || x.size(2) != dim_)
    throw_range(std::string(op) + ": expected an input [B, T, " + std::to_string(dim_) + "], got " +
                (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  if (offset < 0 || offset + x.size(1) > max_len_)
    throw_range(std::string(op) + ": positions " + std::to_string(offset) + ".." + std::to_string(offset + x.size(1) - 1) +
                " exceed maxLength " + std::to_string(max_len_));
}

Tensor PositionalEncoding::add_rows(const Tensor& x, const std::vector<int64_t>& offsets) {
  const char* op = "PositionalEncoding";
  check(x, 0, op);
  const int64_t B = x.size(0), T = x.size(1);
  if (static_cast<int64_t>(offsets.size()) != B)
    throw_range(std::string(op) + ": " + std::to_string(offsets.size()) + " position offsets for a batch of " + std::to_string(B));
  std::vector<int32_t> pos(static_cast<size_t>(B * T));
  for (int64_t b = 0; b < B; ++b) {
    if (offsets[b] + T > max_len_)
      throw_range(std::string(op) + ": positions up to " + std::to_string(offsets[b] + T - 1) + " exceed maxLength " + std::to_string(max_len_));
    for (int64_t t = 0; t < T; ++t) pos[b * T + t] = static_cast<int32_t>(std::max<int64_t>(0, offsets[b] + t));
  }
  const Tensor& table = table_tensor();
  if (x.dtype() != table.dtype()) throw_type(std::string(op) + ": the input must be " + dtype_name(table.dtype()));
  return ag::add(x, ag::embedding(table, Tensor::from_host(pos.data(), {B, T}, DType::I32)));
}

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(int64_t max_len, int64_t dim, DType dtype)
    : PositionalEncoding("SinusoidalPositionalEncoding") {
  if (max_len <= 0 || dim <= 0) throw_range("SinusoidalPositionalEncoding: maxLength and dim must be positive");
  if (!is_float(dtype)) throw_type("SinusoidalPositionalEncoding: dtype must be float32 or float64");
  max_len_ = max_len, dim_ = dim;
  // Computed on the host in double, then copied to the module's device. The table is a tensor from
  // the start so that its size is checked (and capped while a checkpoint loads) before the work.
  Tensor host = Tensor::empty({max_len, dim}, DType::F64, Device::CPU);
  double* p = host.data<double>();
  for (int64_t pos = 0; pos < max_len; ++pos)
    for (int64_t i = 0; i < dim; ++i) {
      const double freq = std::pow(10000.0, -static_cast<double>(i - (i & 1)) / static_cast<double>(dim));
      const double a = static_cast<double>(pos) * freq;
      p[pos * dim + i] = (i & 1) ? std::cos(a) : std::sin(a);
    }
  table = register_buffer("pe", host.to_device(current_device()).to(dtype), false);
}

Tensor SinusoidalPositionalEncoding::add(const Tensor& x, int64_t offset) {
  check(x, offset, "SinusoidalPositionalEncoding");
  if (x.dtype() != table.dtype()) throw_type("SinusoidalPositionalEncoding: the input must be " + std::string(dtype_name(table.dtype())));
  return ag::add(x, table.slice(0, offset, offset + x.size(1)));
}

json::Value SinusoidalPositionalEncoding::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("SinusoidalPositionalEncoding"));
  c.set("maxLength", json::Value::integer(max_len_));
  c.set("dim", json::Value::integer(dim_));
  c.set("dtype", str(dtype_name(table.dtype())));
  return c;
}

LearnedPositionalEmbedding::LearnedPositionalEmbedding(int64_t max_len, int64_t dim, DType dtype, uint64_t seed)
    : PositionalEncoding("LearnedPositionalEmbedding"), seed_(seed) {
  if (max_len <= 0 || dim <= 0) throw_range("LearnedPositionalEmbedding: maxLength and dim must be positive");
  if (!is_float(dtype)) throw_type("LearnedPositionalEmbedding: dtype must be float32 or float64");
  max_len_ = max_len, dim_ = dim;
  Tensor w = Tensor::empty({max_len, dim}, dtype);
  nn::fill_normal(w, 0.0, std::sqrt(0.5), seed);
  weight = register_parameter("weight", w, Decay::No);
}

Tensor LearnedPositionalEmbedding::add(const Tensor& x, int64_t offset) {
  check(x, offset, "LearnedPositionalEmbedding");
  check_input_dtype(x, "LearnedPositionalEmbedding");
  return ag::add(x, ag::slice(weight, 0, offset, offset + x.size(1), 1));
}

json::Value LearnedPositionalEmbedding::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("LearnedPositionalEmbedding"));
  c.set("maxLength", json::Value::integer(max_len_));
  c.set("dim", json::Value::integer(dim_));
  c.set("dtype", str(dtype_name(weight.dtype())));
  c.set("seed", str(std::to_string(seed_)));
  return c;
}

std::shared_ptr<PositionalEncoding> make_positional(PositionalKind kind, int64_t max_len, int64_t dim, DType dtype, uint64_t seed) {
  if (kind == PositionalKind::Learned) return std::make_shared<LearnedPositionalEmbedding>(max_len, dim, dtype, seed);
  return std::make_shared<SinusoidalPositionalEncoding>(max_len, dim, dtype);
}

// ---- stacks -------------------------------------------------------------------------------------

TransformerEncoderStack::TransformerEncoderStack(const LayerOptions& o, int64_t n) : Module("TransformerEncoderStack"), o_(o) {
  if (n < 0) throw_range("TransformerEncoderStack: the number of layers must be >= 0");
  auto seq = register_module("layers", std::make_shared<nn::Sequential>());
  for (int64_t i = 0; i < n; ++i) {
    LayerOptions lo = o;
    lo.seed = nn::derive_seed(o.seed, static_cast<uint64_t>(i));
    layers_.push_back(std::make_shared<TransformerEncoderLayer>(lo));
    seq->append(layers_.back());
  }
  if (o.pre_norm) norm = register_module("norm", layer_norm(o));
}

Tensor TransformerEncoderStack::encode(const Tensor& x, const std::vector<int32_t>& key_lengths, std::vector<Tensor>* weights) {
  Tensor h = x;
  if (weights) weights->assign(layers_.size(), Tensor());
  for (size_t i = 0; i < layers_.size(); ++i) h = layers_[i]->encode(h, key_lengths, weights ? &(*weights)[i] : nullptr);
  return norm ? norm->forward(h) : h;
}

json::Value TransformerEncoderStack::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("TransformerEncoderStack"));
  c.set("layers", json::Value::integer(static_cast<int64_t>(layers_.size())));
  write_layer_options(c, o_);
  return c;
}

TransformerDecoderStack::TransformerDecoderStack(const LayerOptions& o, int64_t n) : Module("TransformerDecoderStack"), o_(o) {
  if (n < 0) throw_range("TransformerDecoderStack: the number of layers must be >= 0");
  auto seq = register_module("layers", std::make_shared<nn::Sequential>());
  for (int64_t i = 0; i < n; ++i) {
    LayerOptions lo = o;
    lo.seed = nn::derive_seed(o.seed, static_cast<uint64_t>(i));
    layers_.push_back(std::make_shared<TransformerDecoderLayer>(lo));
    seq->append(layers_.back());
  }
  if (o.pre_norm) norm = register_module("norm", layer_norm(o));
}

Tensor TransformerDecoderStack::decode(const Tensor& x, const Tensor& memory, const std::vector<int32_t>& memory_lengths,
                                       std::vector<DecoderLayerCache>* caches, std::vector<Tensor>* cross_weights) {
  if (caches && caches->size() != layers_.size()) caches->resize(layers_.size());
  if (cross_weights) cross_weights->assign(layers_.size(), Tensor());
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i)
    h = layers_[i]->decode(h, memory, memory_lengths, caches ? &(*caches)[i] : nullptr, cross_weights ? &(*cross_weights)[i] : nullptr);
  return norm ? norm->forward(h) : h;
}

json::Value TransformerDecoderStack::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("TransformerDecoderStack"));
  c.set("layers", json::Value::integer(static_cast<int64_t>(layers_.size())));
  write_layer_options(c, o_);
  return c;
}

}  // namespace qkv::transformer
