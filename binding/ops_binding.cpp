// The ops of the registry (cpp/ops/registry.h), called synchronously on the main thread: they are
// meant for small work, tests and experiments, and are recorded by the autograd. matmulAsync runs
// the same kernel on a worker thread, for inference (it is not recorded).
#include "binding.h"
#include "autograd/functions.h"
#include "ops/attention.h"
#include "ops/contrastive.h"

namespace qkv::binding {

using cpu::BinaryOp;
using cpu::UnaryOp;

static Napi::Value wrap(const Napi::CallbackInfo& info, Tensor t) { return TensorHandle::wrap(info.Env(), std::move(t)); }

static Napi::Value matmul(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    return wrap(info, ag::matmul(TensorHandle::unwrap(info, 0, "matmul", "a"), TensorHandle::unwrap(info, 1, "matmul", "b")));
  });
}

static Napi::Value matmul_async(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Tensor a = TensorHandle::unwrap(info, 0, "matmulAsync", "a");
    Tensor b = TensorHandle::unwrap(info, 1, "matmulAsync", "b");
    auto result = std::make_shared<Tensor>();
    return queue_job(info.Env(), {[a, b, result] { *result = ops::matmul(a, b); },
                                  [result](Napi::Env env) -> Napi::Value { return TensorHandle::wrap(env, *result); }});
  });
}

static bool binary_from_name(const std::string& s, BinaryOp* op) {
  static const std::pair<const char*, BinaryOp> table[] = {
      {"add", BinaryOp::Add}, {"sub", BinaryOp::Sub}, {"mul", BinaryOp::Mul}, {"div", BinaryOp::Div},
      {"pow", BinaryOp::Pow}, {"maximum", BinaryOp::Maximum}, {"minimum", BinaryOp::Minimum}, {"equal", BinaryOp::Equal}};
  for (auto& [name, value] : table)
    if (s == name) {
      *op = value;
      return true;
    }
  return false;
}

static bool unary_from_name(const std::string& s, UnaryOp* op) {
  static const std::pair<const char*, UnaryOp> table[] = {
      {"neg", UnaryOp::Neg},   {"exp", UnaryOp::Exp},   {"log", UnaryOp::Log},   {"sqrt", UnaryOp::Sqrt},
      {"tanh", UnaryOp::Tanh}, {"abs", UnaryOp::Abs},   {"relu", UnaryOp::Relu}, {"gelu", UnaryOp::GeluErf},
      {"geluTanh", UnaryOp::GeluTanh}, {"sigmoid", UnaryOp::Sigmoid}, {"quickGelu", UnaryOp::QuickGelu}};
  for (auto& [name, value] : table)
    if (s == name) {
      *op = value;
      return true;
    }
  return false;
}

static Napi::Value binary(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    std::string name = arg_string(info, 0, "binary", "op");
    BinaryOp op;
    if (!binary_from_name(name, &op)) throw_type("binary: unknown op '" + name + "'");
    return wrap(info, ag::binary(op, TensorHandle::unwrap(info, 1, name.c_str(), "a"), TensorHandle::unwrap(info, 2, name.c_str(), "b")));
  });
}

static Napi::Value unary(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    std::string name = arg_string(info, 0, "unary", "op");
    UnaryOp op;
    if (!unary_from_name(name, &op)) throw_type("unary: unknown op '" + name + "'");
    return wrap(info, ag::unary(op, TensorHandle::unwrap(info, 1, name.c_str(), "input")));
  });
}

static Napi::Value reduce(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    std::string name = arg_string(info, 0, "reduce", "op");
    const char* op = name.c_str();
    Tensor& a = TensorHandle::unwrap(info, 1, op, "input");
    std::vector<int64_t> axes = arg_shape(info, 2, op, "axes");
    bool keepdims = arg_bool(info, 3, op, "keepdims");
    if (name == "sum") return wrap(info, ag::sum(a, axes, keepdims));
    if (name == "mean") return wrap(info, ag::mean(a, axes, keepdims));
    if (name == "max") return wrap(info, ag::max(a, axes, keepdims));
    throw_type("reduce: unknown op '" + name + "'");
  });
}

static Napi::Value argmax(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    return wrap(info, ops::argmax(TensorHandle::unwrap(info, 0, "argmax", "input"), arg_int(info, 1, "argmax", "axis"),
                                  arg_bool(info, 2, "argmax", "keepdims")));
  });
}

static Napi::Value softmax(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    bool log = arg_bool(info, 1, "softmax", "log");
    return wrap(info, ag::softmax(TensorHandle::unwrap(info, 0, log ? "logSoftmax" : "softmax", "input"), log));
  });
}

// An optional tensor argument: null/undefined gives an undefined tensor.
static Tensor optional_tensor(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return Tensor();
  return TensorHandle::unwrap(info, i, op, name);
}

static Napi::Value layer_norm(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    return wrap(info, ag::layer_norm(TensorHandle::unwrap(info, 0, "layerNorm", "input"),
                                      optional_tensor(info, 1, "layerNorm", "gamma"),
                                      optional_tensor(info, 2, "layerNorm", "beta"), arg_number(info, 3, "layerNorm", "eps")));
  });
}

static Napi::Value embedding(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    return wrap(info, ag::embedding(TensorHandle::unwrap(info, 0, "embedding", "weight"),
                                     TensorHandle::unwrap(info, 1, "embedding", "ids")));
  });
}

static Napi::Value cross_entropy(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    return wrap(info, ag::cross_entropy(TensorHandle::unwrap(info, 0, "crossEntropy", "logits"),
                                         TensorHandle::unwrap(info, 1, "crossEntropy", "targets"),
                                         arg_int(info, 2, "crossEntropy", "ignoreIndex"),
                                         arg_number(info, 3, "crossEntropy", "labelSmoothing")));
  });
}

static Napi::Value concat(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    if (info.Length() < 1 || !info[0].IsArray()) throw_type("concat: tensors must be an array of Tensors");
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<Tensor> parts;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      std::string name = "tensors[" + std::to_string(i) + "]";
      parts.push_back(TensorHandle::unwrap_value(info.Env(), get(arr, i), "concat", name.c_str()));
    }
    return wrap(info, ag::concat(parts, arg_int(info, 1, "concat", "axis")));
  });
}

static ops::AttentionOptions attention_options(const Napi::CallbackInfo& info, size_t i, const char* op) {
  ops::AttentionOptions o;
  o.causal = arg_bool(info, i, op, "causal");
  if (i + 1 < info.Length() && !info[i + 1].IsNull() && !info[i + 1].IsUndefined()) {
    Tensor& lens = TensorHandle::unwrap(info, i + 1, op, "keyLengths");
    if (lens.dtype() != DType::I32 || lens.dim() != 1) throw_type(std::string(op) + ": keyLengths must be a 1-D int32 tensor or an array");
    o.key_lengths.resize(static_cast<size_t>(lens.numel()));
    lens.to_host(o.key_lengths.data());
  }
  o.dropout = arg_number(info, i + 2, op, "dropout");
  int64_t seed = arg_int(info, i + 3, op, "seed");
  if (seed < 0) throw_range(std::string(op) + ": seed must be a non-negative integer");
  o.seed = static_cast<uint64_t>(seed);
  o.scale = arg_number(info, i + 4, op, "scale");
  if (!(o.scale >= 0)) throw_range(std::string(op) + ": scale must be positive");
  return o;
}

static Napi::Value attention(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "scaledDotProductAttention";
    Tensor &q = TensorHandle::unwrap(info, 0, op, "q"), &k = TensorHandle::unwrap(info, 1, op, "k"), &v = TensorHandle::unwrap(info, 2, op, "v");
    return wrap(info, ag::scaled_dot_product_attention(q, k, v, attention_options(info, 3, op)));
  });
}

static Napi::Value attention_reference(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "attentionReference";
    Tensor &q = TensorHandle::unwrap(info, 0, op, "q"), &k = TensorHandle::unwrap(info, 1, op, "k"), &v = TensorHandle::unwrap(info, 2, op, "v");
    return wrap(info, ops::attention_reference(q, k, v, attention_options(info, 3, op)));
  });
}

// linear(x, weight, bias | null): x [N, in] W^T + b
static Napi::Value linear(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "linear";
    Tensor bias = info.Length() > 2 && !info[2].IsNull() && !info[2].IsUndefined() ? TensorHandle::unwrap(info, 2, op, "bias") : Tensor();
    return wrap(info, ag::linear(TensorHandle::unwrap(info, 0, op, "x"), TensorHandle::unwrap(info, 1, op, "weight"), bias));
  });
}

// dropout(y, p, seed, x | null): x + y * mask / (1 - p), the counter-based mask of ops/op_args.h
static Napi::Value dropout(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "dropout";
    const Tensor& y = TensorHandle::unwrap(info, 0, op, "input");
    const double p = arg_number(info, 1, op, "p");
    const int64_t seed = arg_int(info, 2, op, "seed");
    if (seed < 0) throw_range("dropout: seed must be a non-negative integer");
    if (info.Length() > 3 && !info[3].IsNull() && !info[3].IsUndefined())
      return wrap(info, ag::add_dropout(TensorHandle::unwrap(info, 3, op, "residual"), y, p, static_cast<uint64_t>(seed)));
    return wrap(info, ag::dropout(y, p, static_cast<uint64_t>(seed)));
  });
}

// indexSelect(x, indices: number[]): rows of x along axis 0
static Napi::Value index_select(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "indexSelect";
    const Tensor& x = TensorHandle::unwrap(info, 0, op, "input");
    const Shape idx = arg_shape(info, 1, op, "indices");
    return wrap(info, ag::index_select(x, std::vector<int64_t>(idx.begin(), idx.end())));
  });
}

// ---- images: each [h, w] pair arrives as a 2-element array, checked by src/ops.ts

static std::array<int64_t, 2> pair_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  const Shape v = arg_shape(info, i, op, name);
  if (v.size() != 2) throw_range(std::string(op) + ": " + name + " must be [h, w]");
  return {v[0], v[1]};
}

// kernel, stride, padding (and dilation) from arguments i, i + 1, ...
static ops::Window2d window_arg(const Napi::CallbackInfo& info, size_t i, const char* op, bool dilated) {
  ops::Window2d w;
  w.kernel = pair_arg(info, i, op, "kernel");
  w.stride = pair_arg(info, i + 1, op, "stride");
  w.padding = pair_arg(info, i + 2, op, "padding");
  if (dilated) w.dilation = pair_arg(info, i + 3, op, "dilation");
  return w;
}

// conv2d(x, weight, bias | null, stride, padding, dilation, groups); conv2dReference: the same
static Napi::Value conv2d_call(const Napi::CallbackInfo& info, bool reference) {
  const char* op = reference ? "conv2dReference" : "conv2d";
  const Tensor& x = TensorHandle::unwrap(info, 0, op, "input");
  const Tensor& w = TensorHandle::unwrap(info, 1, op, "weight");
  const Tensor b = optional_tensor(info, 2, op, "bias");
  ops::Conv2dOptions o;
  o.stride = pair_arg(info, 3, op, "stride");
  o.padding = pair_arg(info, 4, op, "padding");
  o.dilation = pair_arg(info, 5, op, "dilation");
  o.groups = arg_int(info, 6, op, "groups");
  return wrap(info, reference ? ops::conv2d_reference(x, w, b, o) : ag::conv2d(x, w, b, o));
}
static Napi::Value conv2d(const Napi::CallbackInfo& info) { QKV_GUARD(info, { return conv2d_call(info, false); }); }
static Napi::Value conv2d_reference(const Napi::CallbackInfo& info) { QKV_GUARD(info, { return conv2d_call(info, true); }); }

// maxPool2d(x, kernel, stride, padding, dilation)
static Napi::Value max_pool2d(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "maxPool2d";
    const Tensor& x = TensorHandle::unwrap(info, 0, op, "input");
    return wrap(info, ag::max_pool2d(x, window_arg(info, 1, op, true)));
  });
}

// avgPool2d(x, kernel, stride, padding, countIncludePad)
static Napi::Value avg_pool2d(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "avgPool2d";
    const Tensor& x = TensorHandle::unwrap(info, 0, op, "input");
    const ops::Window2d w = window_arg(info, 1, op, false);
    return wrap(info, ag::avg_pool2d(x, w, arg_bool(info, 4, op, "countIncludePad")));
  });
}

// adaptiveAvgPool2d(x, [outH, outW])
static Napi::Value adaptive_avg_pool2d(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "adaptiveAvgPool2d";
    const Tensor& x = TensorHandle::unwrap(info, 0, op, "input");
    return wrap(info, ag::adaptive_avg_pool2d(x, pair_arg(info, 1, op, "outputSize")));
  });
}

// infoNCE(image, text, logScale, bias | null, loss: 'clip' | 'siglip') and its reference, which
// returns { loss, image, text, logScale, bias } (the reference gradients; bias null for CLIP).
struct InfoNCEArgs {
  Tensor image, text, log_scale, bias;
  ops::ContrastiveLoss loss;
};

static InfoNCEArgs info_nce_args(const Napi::CallbackInfo& info, const char* op) {
  InfoNCEArgs a{TensorHandle::unwrap(info, 0, op, "imageEmb"), TensorHandle::unwrap(info, 1, op, "textEmb"),
                TensorHandle::unwrap(info, 2, op, "logScale"), optional_tensor(info, 3, op, "bias"), ops::ContrastiveLoss::Clip};
  const std::string loss = arg_string(info, 4, op, "loss");
  if (loss == "siglip") a.loss = ops::ContrastiveLoss::Siglip;
  else if (loss != "clip") throw_type(std::string(op) + ": loss must be 'clip' or 'siglip', got '" + loss + "'");
  return a;
}

static Napi::Value info_nce(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    InfoNCEArgs a = info_nce_args(info, "infoNCE");
    return wrap(info, ag::info_nce(a.image, a.text, a.log_scale, a.bias, a.loss));
  });
}

static Napi::Value info_nce_reference(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    InfoNCEArgs a = info_nce_args(info, "infoNCEReference");
    ops::InfoNCEGrads g;
    Tensor loss = ops::info_nce_reference(a.image, a.text, a.log_scale, a.bias, a.loss, &g);
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", TensorHandle::wrap(env, loss));
    out.Set("image", TensorHandle::wrap(env, g.image));
    out.Set("text", TensorHandle::wrap(env, g.text));
    out.Set("logScale", TensorHandle::wrap(env, g.log_scale));
    out.Set("bias", g.bias.defined() ? TensorHandle::wrap(env, g.bias) : env.Null());
    return out;
  });
}

void init_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("linear", Napi::Function::New(env, linear, "linear"));
  exports.Set("dropout", Napi::Function::New(env, dropout, "dropout"));
  exports.Set("indexSelect", Napi::Function::New(env, index_select, "indexSelect"));
  exports.Set("infoNCE", Napi::Function::New(env, info_nce, "infoNCE"));
  exports.Set("infoNCEReference", Napi::Function::New(env, info_nce_reference, "infoNCEReference"));
  exports.Set("scaledDotProductAttention", Napi::Function::New(env, attention, "scaledDotProductAttention"));
  exports.Set("attentionReference", Napi::Function::New(env, attention_reference, "attentionReference"));
  exports.Set("matmul", Napi::Function::New(env, matmul, "matmul"));
  exports.Set("matmulAsync", Napi::Function::New(env, matmul_async, "matmulAsync"));
  exports.Set("binary", Napi::Function::New(env, binary, "binary"));
  exports.Set("unary", Napi::Function::New(env, unary, "unary"));
  exports.Set("reduce", Napi::Function::New(env, reduce, "reduce"));
  exports.Set("argmax", Napi::Function::New(env, argmax, "argmax"));
  exports.Set("softmax", Napi::Function::New(env, softmax, "softmax"));
  exports.Set("layerNorm", Napi::Function::New(env, layer_norm, "layerNorm"));
  exports.Set("embedding", Napi::Function::New(env, embedding, "embedding"));
  exports.Set("crossEntropy", Napi::Function::New(env, cross_entropy, "crossEntropy"));
  exports.Set("concat", Napi::Function::New(env, concat, "concat"));
  // ---- images
  exports.Set("conv2d", Napi::Function::New(env, conv2d, "conv2d"));
  exports.Set("conv2dReference", Napi::Function::New(env, conv2d_reference, "conv2dReference"));
  exports.Set("maxPool2d", Napi::Function::New(env, max_pool2d, "maxPool2d"));
  exports.Set("avgPool2d", Napi::Function::New(env, avg_pool2d, "avgPool2d"));
  exports.Set("adaptiveAvgPool2d", Napi::Function::New(env, adaptive_avg_pool2d, "adaptiveAvgPool2d"));
}

}  // namespace qkv::binding
