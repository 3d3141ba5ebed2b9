#include "nn/layers.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "autograd/functions.h"
#include "core/error.h"

namespace qkv::nn {

namespace {

json::Value num(double v) { return json::Value::number(v); }
json::Value integer(int64_t v) { return json::Value::integer(v); }
json::Value str(const std::string& s) { return json::Value::string(s); }

void check_positive(int64_t v, const std::string& op, const char* what) {
  if (v <= 0) throw_range(op + ": " + what + " must be positive, got " + std::to_string(v));
}

void check_float_dtype(DType d, const std::string& op) {
  if (!is_float(d)) throw_type(op + ": dtype must be float32 or float64");
}

// x with its last axis checked against `features`.
void check_last_dim(const Tensor& x, int64_t features, const std::string& op) {
  if (x.dim() < 1 || x.size(-1) != features)
    throw_range(op + ": expected an input of shape [..., " + std::to_string(features) + "], got " + shape_str(x.shape()));
}

}  // namespace

// ---- Linear -------------------------------------------------------------------------------------

Linear::Linear(int64_t in, int64_t out, const LinearOptions& o) : Module("Linear"), in_(in), out_(out) {
  check_positive(in, "Linear", "in_features");
  check_positive(out, "Linear", "out_features");
  check_float_dtype(o.dtype, "Linear");
  Tensor w = Tensor::empty({out, in}, o.dtype);
  initialize(w, o.init, derive_seed(o.seed, 0));
  weight = register_parameter("weight", w);
  if (o.bias) {
    Tensor b = Tensor::zeros({out}, o.dtype);
    if (o.init.kind == InitKind::Default) {  // PyTorch: U(-1/sqrt(in), 1/sqrt(in))
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      fill_uniform(b, -bound, bound, derive_seed(o.seed, 1));
    }
    bias = register_parameter("bias", b);
  }
}

Tensor Linear::forward(const Tensor& x) { return forward_features(x, 0, out_); }

Tensor Linear::forward_features(const Tensor& x, int64_t first, int64_t count) {
  check_input_dtype(x, "Linear.forward");
  check_last_dim(x, in_, "Linear.forward");
  if (first < 0 || count < 1 || first + count > out_)
    throw_range("Linear.forward: output features " + std::to_string(first) + ".." + std::to_string(first + count - 1) +
                " outside 0.." + std::to_string(out_ - 1));
  const bool whole = first == 0 && count == out_;
  const Tensor w = whole ? weight : ag::slice(weight, 0, first, first + count, 1);
  const Tensor b = whole || !bias.defined() ? bias : ag::slice(bias, 0, first, first + count, 1);
  // [..., in] is flattened to [N, in] so that each gradient is one GEMM.
  const bool flat = x.dim() == 2;
  Tensor y = ag::linear(flat ? x : ag::reshape(x, {x.numel() / in_, in_}), w, b);
  if (flat) return y;
  Shape s(x.shape().begin(), x.shape().end() - 1);
  s.push_back(count);
  return ag::reshape(y, s);
}

json::Value Linear::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("Linear"));
  c.set("in", integer(in_));
  c.set("out", integer(out_));
  c.set("bias", json::Value::boolean(bias.defined()));
  c.set("dtype", str(dtype_name(weight.dtype())));
  return c;
}

// ---- Embedding ----------------------------------------------------------------------------------

Embedding::Embedding(int64_t num, int64_t dim, const EmbeddingOptions& o) : Module("Embedding"), num_(num), dim_(dim) {
  check_positive(num, "Embedding", "num_embeddings");
  check_positive(dim, "Embedding", "dim");
  check_float_dtype(o.dtype, "Embedding");
  Tensor w = Tensor::empty({num, dim}, o.dtype);
  Init init = o.init;
  if (init.kind == InitKind::Default) init = {InitKind::Normal, 1.0};
  initialize(w, init, derive_seed(o.seed, 0));
  weight = register_parameter("weight", w, Decay::No);  // a lookup table, not a linear map
}

Tensor Embedding::forward(const Tensor& ids) {
  if (!ids.defined() || ids.dtype() != DType::I32)
    throw_type(std::string("Embedding.forward: ids must be an int32 tensor") + (ids.defined() ? std::string(", got ") + dtype_name(ids.dtype()) : ""));
  return ag::embedding(weight, ids);
}

json::Value Embedding::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("Embedding"));
  c.set("num", integer(num_));
  c.set("dim", integer(dim_));
  c.set("dtype", str(dtype_name(weight.dtype())));
  return c;
}

// ---- LayerNorm ----------------------------------------------------------------------------------

LayerNorm::LayerNorm(int64_t dim, const LayerNormOptions& o) : Module("LayerNorm"), dim_(dim), options_(o) {
  check_positive(dim, "LayerNorm", "dim");
  check_float_dtype(o.dtype, "LayerNorm");
  if (!(o.eps > 0) || !std::isfinite(o.eps)) throw_range("LayerNorm: eps must be a positive number");
  if (o.affine) {
    weight = register_parameter("weight", Tensor::full({dim}, o.dtype, 1.0));
    bias = register_parameter("bias", Tensor::zeros({dim}, o.dtype));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  if (weight.defined()) check_input_dtype(x, "LayerNorm.forward");
  else if (!x.defined() || !is_float(x.dtype())) throw_type("LayerNorm.forward: the input must be a float tensor");
  check_last_dim(x, dim_, "LayerNorm.forward");
  return ag::layer_norm(x, weight, bias, options_.eps);
}

json::Value LayerNorm::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("LayerNorm"));
  c.set("dim", integer(dim_));
  c.set("eps", num(options_.eps));
  c.set("affine", json::Value::boolean(options_.affine));
  c.set("dtype", str(dtype_name(options_.dtype)));
  return c;
}

// ---- Dropout ------------------------------------------------------------------------------------

Dropout::Dropout(double p, uint64_t seed) : Module("Dropout"), p_(p), seed_(seed) {
  if (!(p >= 0 && p <= 1)) throw_range("Dropout: p must be in [0, 1], got " + std::to_string(p));
}

Tensor Dropout::forward(const Tensor& x) {
  if (!x.defined() || !is_float(x.dtype())) throw_type("Dropout.forward: the input must be a float tensor");
  if (!is_training() || p_ == 0) return x;
  // The counter-based mask of ops/op_args.h, seeded by the call number: masks are regenerated,
  // not stored, and the same seed and sequence of calls give the same masks.
  if (p_ >= 1) return ag::mul(x, Tensor::scalar(0.0, x.dtype(), x.device()));
  return ag::dropout(x, p_, derive_seed(seed_, calls_++));
}

json::Value Dropout::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("Dropout"));
  c.set("p", num(p_));
  c.set("seed", str(std::to_string(seed_)));
  return c;
}

// ---- Activation ---------------------------------------------------------------------------------

const char* activation_name(ActivationKind k) {
  switch (k) {
    case ActivationKind::Relu: return "relu";
    case ActivationKind::Gelu: return "gelu";
    case ActivationKind::GeluTanh: return "geluTanh";
    case ActivationKind::Tanh: return "tanh";
    case ActivationKind::QuickGelu: return "quickGelu";
  }
  return "relu";
}

ActivationKind activation_from_name(const std::string& name, const char* op) {
  for (ActivationKind k : kActivationKinds)
    if (name == activation_name(k)) return k;
  throw_type(std::string(op) + ": unknown activation '" + name + "' (relu, gelu, geluTanh, tanh, quickGelu)");
}

cpu::UnaryOp activation_op(ActivationKind k) {
  switch (k) {
    case ActivationKind::Relu: break;
    case ActivationKind::Gelu: return cpu::UnaryOp::GeluErf;
    case ActivationKind::GeluTanh: return cpu::UnaryOp::GeluTanh;
    case ActivationKind::Tanh: return cpu::UnaryOp::Tanh;
    case ActivationKind::QuickGelu: return cpu::UnaryOp::QuickGelu;
  }
  return cpu::UnaryOp::Relu;
}

static const char* activation_type(ActivationKind k) {
  switch (k) {
    case ActivationKind::Relu: return "ReLU";
    case ActivationKind::Gelu: return "GELU";
    case ActivationKind::GeluTanh: return "GELUTanh";
    case ActivationKind::Tanh: return "Tanh";
    case ActivationKind::QuickGelu: return "QuickGELU";
  }
  return "ReLU";
}

Activation::Activation(ActivationKind kind) : Module(activation_type(kind)), kind_(kind) {}

Tensor Activation::forward(const Tensor& x) {
  if (!x.defined() || !is_float(x.dtype())) throw_type(type() + ".forward: the input must be a float tensor");
  return ag::unary(activation_op(kind_), x);
}

json::Value Activation::config() const {
  json::Value c = json::Value::object();
  c.set("type", str(type()));
  return c;
}

// ---- Sequential ---------------------------------------------------------------------------------

Sequential::Sequential(const std::vector<ModulePtr>& modules) : Module("Sequential") {
  for (const ModulePtr& m : modules) append(m);
}

void Sequential::append(ModulePtr m) { register_module(std::to_string(size()), std::move(m)); }

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, m] : named_children()) h = m->forward(h);
  return h;
}

json::Value Sequential::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("Sequential"));
  json::Value children = json::Value::array();
  for (const auto& [name, m] : named_children()) children.push(m->config());
  c.set("modules", std::move(children));
  return c;
}

// ---- MLP ----------------------------------------------------------------------------------------

MLP::MLP(int64_t in, const std::vector<int64_t>& hidden, int64_t out, const MLPOptions& o)
    : Sequential("MLP"), in_(in), out_(out), hidden_(hidden), options_(o) {
  check_positive(in, "MLP", "in");
  check_positive(out, "MLP", "out");
  if (!(o.dropout >= 0 && o.dropout < 1)) throw_range("MLP: dropout must be in [0, 1)");
  int64_t prev = in;
  uint64_t part = 0;
  for (int64_t h : hidden) {
    check_positive(h, "MLP", "each hidden size");
    append(std::make_shared<Linear>(prev, h, LinearOptions{o.bias, o.dtype, o.init, derive_seed(o.seed, part++)}));
    if (o.layer_norm) append(std::make_shared<LayerNorm>(h, LayerNormOptions{o.eps, true, o.dtype}));
    append(std::make_shared<Activation>(o.activation));
    if (o.dropout > 0) append(std::make_shared<Dropout>(o.dropout, derive_seed(o.seed, part++)));
    prev = h;
  }
  append(std::make_shared<Linear>(prev, out, LinearOptions{o.bias, o.dtype, o.init, derive_seed(o.seed, part++)}));
}

json::Value MLP::config() const {
  json::Value c = json::Value::object();
  c.set("type", str("MLP"));
  c.set("in", integer(in_));
  json::Value hidden = json::Value::array();
  for (int64_t h : hidden_) hidden.push(integer(h));
  c.set("hidden", std::move(hidden));
  c.set("out", integer(out_));
  c.set("activation", str(activation_name(options_.activation)));
  c.set("layerNorm", json::Value::boolean(options_.layer_norm));
  c.set("dropout", num(options_.dropout));
  c.set("bias", json::Value::boolean(options_.bias));
  c.set("eps", num(options_.eps));
  c.set("dtype", str(dtype_name(options_.dtype)));
  c.set("seed", str(std::to_string(options_.seed)));
  return c;
}

}  // namespace qkv::nn
