#include "clip/dual_encoder.h"

#include <cmath>
#include <string>

#include "autograd/functions.h"
#include "core/error.h"
#include "nn/factory.h"
#include "nn/init.h"
#include "ops/ops.h"

namespace qkv::clip {

namespace {

json::Value integer(int64_t v) { return json::Value::integer(v); }

const char* loss_name(ContrastiveLoss l) { return l == ContrastiveLoss::Siglip ? "siglip" : "clip"; }

ContrastiveLoss loss_from_name(const std::string& s, const std::string& where) {
  if (s == "clip") return ContrastiveLoss::Clip;
  if (s == "siglip") return ContrastiveLoss::Siglip;
  throw Error(ErrorKind::Format, where + ".loss must be 'clip' or 'siglip', got '" + s + "'");
}

Tensor scalar_parameter(double v, DType dt) { return Tensor::full({}, dt, v); }

}  // namespace

Tensor l2_normalize(const Tensor& x) {
  // F.normalize: x / max(‖x‖, 1e-12).
  Tensor norm = ag::unary(cpu::UnaryOp::Sqrt, ag::sum(ag::mul(x, x), {-1}, true));
  return ag::div(x, ag::binary(cpu::BinaryOp::Maximum, norm, Tensor::scalar(1e-12, x.dtype())));
}

DualEncoder::DualEncoder(const DualEncoderOptions& options) : Module("DualEncoder"), o_(options) {
  const char* op = "DualEncoder";
  if (o_.embed_dim < 1) throw_range(std::string(op) + ": embedDim must be positive");
  if (!(o_.max_logit_scale > 0)) throw_range(std::string(op) + ": maxLogitScale must be positive");
  o_.vision.output_dim = o_.conv.output_dim = o_.text.output_dim = o_.embed_dim;
  if (o_.init_logit_scale < 0) o_.init_logit_scale = o_.loss == ContrastiveLoss::Siglip ? std::log(10.0) : std::log(1 / 0.07);
  if (o_.init_logit_scale > o_.max_logit_scale)
    throw_range(std::string(op) + ": initLogitScale " + std::to_string(o_.init_logit_scale) + " is above maxLogitScale " +
                std::to_string(o_.max_logit_scale));
  if (o_.conv_vision) visual = register_module("visual", std::make_shared<ConvTower>(o_.conv));
  else visual = register_module("visual", std::make_shared<VisionTransformer>(o_.vision));
  text = register_module("text", std::make_shared<TextTransformer>(o_.text));
  const DType dt = o_.conv_vision ? o_.conv.dtype : o_.vision.layer.dtype;
  if (o_.text.layer.dtype != dt) throw_type(std::string(op) + ": the towers must have one dtype");
  logit_scale = register_parameter("logit_scale", scalar_parameter(o_.init_logit_scale, dt), Decay::No);
  if (o_.loss == ContrastiveLoss::Siglip) logit_bias = register_parameter("logit_bias", scalar_parameter(o_.init_logit_bias, dt), Decay::No);
}

Tensor DualEncoder::image_features(const Tensor& images) { return visual->forward(images); }

Tensor DualEncoder::text_features(const Tensor& ids, const std::vector<int32_t>& lengths) { return text->encode(ids, lengths); }

Tensor DualEncoder::loss(const Tensor& image_features, const Tensor& text_features) {
  return ag::info_nce(image_features, text_features, logit_scale, logit_bias, o_.loss);
}

void DualEncoder::clamp_logit_scale() {
  const Tensor lo = Tensor::scalar(0.0, logit_scale.dtype()), hi = Tensor::scalar(o_.max_logit_scale, logit_scale.dtype());
  Tensor clamped = ops::binary(cpu::BinaryOp::Minimum, ops::binary(cpu::BinaryOp::Maximum, logit_scale, lo), hi);
  logit_scale.copy_from(clamped, "DualEncoder");
}

json::Value DualEncoder::config() const {
  json::Value c = json::Value::object();
  c.set("type", json::Value::string("DualEncoder"));
  c.set("embedDim", integer(o_.embed_dim));
  c.set("loss", json::Value::string(loss_name(o_.loss)));
  c.set("initLogitScale", json::Value::number(o_.init_logit_scale));
  c.set("initLogitBias", json::Value::number(o_.init_logit_bias));
  c.set("maxLogitScale", json::Value::number(o_.max_logit_scale));
  c.set("vision", visual->config());
  c.set("text", text->config());
  return c;
}

namespace {

ConvTowerOptions read_conv(const json::Value& c, const std::string& where) {
  nn::ConfigReader r{c, where};
  ConvTowerOptions o;
  o.image_size = r.integer("imageSize");
  o.channels = r.integer_or("channels", 3);
  o.width = r.integer("width");
  o.blocks.clear();
  const json::Value* b = r.find("blocks");
  if (!b || !b->is_array()) throw Error(ErrorKind::Format, where + ".blocks must be an array of integers");
  for (const json::Value& n : b->items()) {
    if (!n.is_int()) throw Error(ErrorKind::Format, where + ".blocks must be an array of integers");
    o.blocks.push_back(n.as_int());
  }
  o.dtype = r.dtype_or("dtype", DType::F32);
  o.seed = r.seed_or("seed", 0);
  return o;
}

VisionTransformerOptions read_vision(const json::Value& c, const std::string& where) {
  nn::ConfigReader r{c, where};
  VisionTransformerOptions o;
  o.image_size = r.integer("imageSize");
  o.channels = r.integer_or("channels", 3);
  o.patch_size = r.integer("patchSize");
  o.layers = r.integer("layers");
  o.layer = transformer::read_layer_options(r);
  return o;
}

TextTransformerOptions read_text(const json::Value& c, const std::string& where) {
  nn::ConfigReader r{c, where};
  TextTransformerOptions o;
  o.vocab_size = r.integer("vocabSize");
  o.context = r.integer("context");
  const int64_t eot = r.integer("eotId");
  if (eot < 0 || eot > INT32_MAX) throw Error(ErrorKind::Format, where + ".eotId is out of range");
  o.eot_id = static_cast<int32_t>(eot);
  o.layers = r.integer("layers");
  o.layer = transformer::read_layer_options(r);
  return o;
}

}  // namespace

nn::ModulePtr build_dual_encoder(const json::Value& c) {
  nn::ConfigReader r{c, "load: DualEncoder"};
  DualEncoderOptions o;
  o.embed_dim = r.integer("embedDim");
  o.loss = loss_from_name(r.string_or("loss", "clip"), r.where);
  o.init_logit_scale = r.number_or("initLogitScale", -1);
  o.init_logit_bias = r.number_or("initLogitBias", -10);
  o.max_logit_scale = r.number_or("maxLogitScale", std::log(100.0));
  const json::Value* v = r.find("vision");
  const json::Value* t = r.find("text");
  if (!v || !v->is_object() || !t || !t->is_object()) throw Error(ErrorKind::Format, r.where + " needs 'vision' and 'text' objects");
  const json::Value* kind = v->find("type");
  o.conv_vision = kind && kind->is_string() && kind->as_string() == "ConvTower";
  if (o.conv_vision) o.conv = read_conv(*v, r.where + ".vision");
  else o.vision = read_vision(*v, r.where + ".vision");
  o.text = read_text(*t, r.where + ".text");
  return std::make_shared<DualEncoder>(o);
}

}  // namespace qkv::clip
