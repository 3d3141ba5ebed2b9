// Transformers (cpp/transformer): module creation from configs, checkpoint loading, and the
// differentiable forward passes of attention, layers and models (sync, for small work and gradient
// checks). Modules cross as nn_binding.cpp's Externals, so that nn's generic calls (namedParameters,
// save, load, dispose...) work on them too; their long calls (fit, translate, encode, ...) are
// tasks of the core run by task_binding.cpp.
#include <cmath>
#include <algorithm>
#include <cstring>

#include "binding.h"
#include "modules.h"
#include "io/json.h"
#include "ops/ops.h"
#include "optim/optimizer.h"
#include "nn/checkpoint.h"
#include "transformer/decode.h"
#include "autograd/functions.h"
#include "transformer/train.h"

namespace qkv::binding {

namespace {

template <class M>
std::shared_ptr<M> module_as(const Napi::CallbackInfo& info, size_t i, const char* op, const char* type) {
  nn::ModulePtr m = unwrap_module(info.Env(), i < info.Length() ? info[i] : info.Env().Undefined(), op, "module");
  auto p = std::dynamic_pointer_cast<M>(m);
  if (!p) throw_type(std::string(op) + ": the module is a " + m->type() + ", not a " + type);
  return p;
}

Napi::Value arg(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() ? info[i] : info.Env().Undefined(); }
bool absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

std::vector<int32_t> int32_list(Napi::Env env, const Napi::Value& v, const char* op, const char* name) {
  std::vector<int32_t> out;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto a = v.As<Napi::Int32Array>();
    out.assign(a.Data(), a.Data() + a.ElementLength());
    return out;
  }
  if (!v.IsArray()) throw_type(std::string(op) + ": " + name + " must be an Int32Array or an array of integers");
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value x = get(arr, i);
    const double d = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(d) || std::floor(d) != d || d < INT32_MIN || d > INT32_MAX)
      throw_type(std::string(op) + ": " + name + " must hold integers");
    out.push_back(static_cast<int32_t>(d));
  }
  return out;
}

std::vector<int32_t> optional_lengths(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name) {
  Napi::Value v = arg(info, i);
  return absent(v) ? std::vector<int32_t>{} : int32_list(info.Env(), v, op, name);
}

Napi::Value tensor_or_undefined(Napi::Env env, const Tensor& t) { return t.defined() ? TensorHandle::wrap(env, t) : env.Undefined(); }

// ---- creation ---------------------------------------------------------------------------------------

// tfCreate(configJson) -> module
Napi::Value tf_create(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const std::string text = arg_string(info, 0, "transformer.create", "config");
    json::Value config = json::parse(text, "transformer.create");
    return wrap_module(info.Env(), transformer::build_transformer_module(config, "transformer.create"), true);
  });
}

// ---- differentiable forward passes (sync) ---------------------------------------------------------------

Napi::Object weights_result(Napi::Env env, const Tensor& out, const std::vector<std::pair<const char*, Tensor>>& extra) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("out", TensorHandle::wrap(env, out));
  for (const auto& [k, t] : extra) o.Set(k, tensor_or_undefined(env, t));
  return o;
}

// tfAttend(mha, x, memory | null, causal, keyLengths | null, needWeights) -> { out, weights? }
Napi::Value tf_attend(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "MultiHeadAttention.forward";
    Napi::Env env = info.Env();
    auto m = module_as<transformer::MultiHeadAttention>(info, 0, op, "MultiHeadAttention");
    check_not_busy(*m, op);
    const Tensor& x = TensorHandle::unwrap(info, 1, op, "query");
    Tensor memory = absent(arg(info, 2)) ? Tensor() : TensorHandle::unwrap(info, 2, op, "memory");
    transformer::AttentionMask mask;
    mask.causal = arg_bool(info, 3, op, "causal");
    mask.key_lengths = optional_lengths(info, 4, op, "keyLengths");
    transformer::AttentionOutput r = m->attend(x, memory, mask, arg_bool(info, 5, op, "needWeights"));
    return weights_result(env, r.out, {{"weights", r.weights}});
  });
}

// tfEncoderLayer(layer, x, keyLengths | null, needWeights) -> { out, weights? }
Napi::Value tf_encoder_layer(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "TransformerEncoderLayer.forward";
    Napi::Env env = info.Env();
    auto m = module_as<transformer::TransformerEncoderLayer>(info, 0, op, "TransformerEncoderLayer");
    check_not_busy(*m, op);
    const Tensor& x = TensorHandle::unwrap(info, 1, op, "input");
    Tensor w;
    const bool need = arg_bool(info, 3, op, "needWeights");
    Tensor out = m->encode(x, optional_lengths(info, 2, op, "keyLengths"), need ? &w : nullptr);
    return weights_result(env, out, {{"weights", w}});
  });
}

// tfDecoderLayer(layer, x, memory, memoryLengths | null, needWeights) -> { out, crossWeights?, selfWeights? }
Napi::Value tf_decoder_layer(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "TransformerDecoderLayer.forward";
    Napi::Env env = info.Env();
    auto m = module_as<transformer::TransformerDecoderLayer>(info, 0, op, "TransformerDecoderLayer");
    check_not_busy(*m, op);
    const Tensor& x = TensorHandle::unwrap(info, 1, op, "input");
    const Tensor& memory = TensorHandle::unwrap(info, 2, op, "memory");
    Tensor cw, sw;
    const bool need = arg_bool(info, 4, op, "needWeights");
    Tensor out = m->decode(x, memory, optional_lengths(info, 3, op, "memoryLengths"), nullptr, need ? &cw : nullptr, need ? &sw : nullptr);
    return weights_result(env, out, {{"crossWeights", cw}, {"selfWeights", sw}});
  });
}

// tfPositional(module, x, offset) -> x + encodings
Napi::Value tf_positional(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "PositionalEncoding.forward";
    auto m = module_as<transformer::PositionalEncoding>(info, 0, op, "positional encoding");
    check_not_busy(*m, op);
    return TensorHandle::wrap(info.Env(), m->add(TensorHandle::unwrap(info, 1, op, "input"), arg_int(info, 2, op, "offset")));
  });
}

// tfEncoderHidden(encoder, ids tensor, lengths) -> hidden [B, L, D] (recorded)
Napi::Value tf_encoder_hidden(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "TransformerEncoder.forward";
    auto m = module_as<transformer::BertEncoder>(info, 0, op, "TransformerEncoder");
    check_not_busy(*m, op);
    const Tensor& ids = TensorHandle::unwrap(info, 1, op, "ids");
    return TensorHandle::wrap(info.Env(), m->hidden(ids, int32_list(info.Env(), arg(info, 2), op, "lengths")));
  });
}

// tfSeq2SeqLogits(model, src tensor, srcLengths, tgtIn tensor) -> logits [B, T, V] (recorded)
Napi::Value tf_seq2seq_logits(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "Seq2Seq.forward";
    auto m = module_as<transformer::Seq2Seq>(info, 0, op, "Seq2Seq");
    check_not_busy(*m, op);
    const Tensor& src = TensorHandle::unwrap(info, 1, op, "source ids");
    std::vector<int32_t> lens = int32_list(info.Env(), arg(info, 2), op, "sourceLengths");
    const Tensor& tgt = TensorHandle::unwrap(info, 3, op, "target ids");
    return TensorHandle::wrap(info.Env(), m->decode(tgt, m->encode(src, lens), lens));
  });
}

// tfDropout(y, p, seed) and tfAddDropout(x, y, p, seed): the layers' fused dropout (recorded), for tests.
Napi::Value tf_dropout(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "dropout";
    const int64_t seed = arg_int(info, 2, op, "seed");
    if (seed < 0) throw_type("dropout: seed must be a non-negative integer");
    return TensorHandle::wrap(info.Env(), ag::dropout(TensorHandle::unwrap(info, 0, op, "input"), arg_number(info, 1, op, "p"),
                                                               static_cast<uint64_t>(seed)));
  });
}

Napi::Value tf_add_dropout(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const char* op = "addDropout";
    const int64_t seed = arg_int(info, 3, op, "seed");
    if (seed < 0) throw_type("addDropout: seed must be a non-negative integer");
    return TensorHandle::wrap(info.Env(), ag::add_dropout(TensorHandle::unwrap(info, 0, op, "x"), TensorHandle::unwrap(info, 1, op, "y"),
                                                                   arg_number(info, 2, op, "p"), static_cast<uint64_t>(seed)));
  });
}

// tfLoadModule(path) -> Promise<{ module, metadata, optimizer? }>: a checkpoint, and the trainer's
// AdamW state when the file holds optimizer state (saved with save(path, { optimizer: true })).
Napi::Value tf_load_module(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "load";
    const std::string path = arg_string(info, 0, op, "path");
    auto module = std::make_shared<nn::ModulePtr>();
    auto meta = std::make_shared<io::Metadata>();
    auto opt = std::make_shared<std::shared_ptr<optim::Optimizer>>();
    return queue_job(info.Env(), {[path, module, meta, opt] { *module = nn::load_module(path, meta.get(), transformer::make_train_optimizer, opt.get(), op); },
                                  [module, meta, opt](Napi::Env e) -> Napi::Value {
                                    Napi::Object o = Napi::Object::New(e);
                                    o.Set("module", wrap_module(e, *module, true));
                                    o.Set("metadata", metadata_object(e, *meta));
                                    if (*opt) o.Set("optimizer", wrap_optimizer(e, *opt));
                                    return o;
                                  }});
  });
}

}  // namespace

void init_transformer(Napi::Env env, Napi::Object exports) {
  transformer::register_transformer_modules();
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
      {"tfCreate", tf_create},
      {"tfAttend", tf_attend},
      {"tfEncoderLayer", tf_encoder_layer},
      {"tfDecoderLayer", tf_decoder_layer},
      {"tfPositional", tf_positional},
      {"tfEncoderHidden", tf_encoder_hidden},
      {"tfSeq2SeqLogits", tf_seq2seq_logits},
      {"tfDropout", tf_dropout},
      {"tfAddDropout", tf_add_dropout},
      {"tfLoadModule", tf_load_module},
  };
  for (auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace qkv::binding
