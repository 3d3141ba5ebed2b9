// Transformers (cpp/transformer): module creation from configs, the differentiable forward passes
// of attention, layers and models (sync, for small work and gradient checks), and the long jobs
// (fit, translate, encode, evaluate) on their own threads with progress and abort
// (progress_job.h). Modules cross as nn_binding.cpp's Externals, so that nn's generic calls
// (namedParameters, save, load, dispose...) work on them too; a job marks its model busy until it
// settles, and sync calls meanwhile get ERR_BUSY.
//
// Token sequences cross as plain objects { ids: Int32Array (rows x cols, row-major), rows, cols,
// lengths: Int32Array (rows) }, copied on the main thread before a job starts.
#include <cmath>
#include <algorithm>
#include <cstring>

#include "binding.h"
#include "io/json.h"
#include "ops/ops.h"
#include "optim/optimizer.h"
#include "nn/checkpoint.h"
#include "progress_job.h"
#include "transformer/decode.h"
#include "autograd/functions.h"
#include "transformer/train.h"

namespace qkv::binding {

nn::ModulePtr unwrap_module(Napi::Env env, const Napi::Value& v, const char* op, const char* name);
Napi::Value wrap_module(Napi::Env env, nn::ModulePtr m, bool owner);
bool refuse_if_busy(Napi::Env env, const nn::Module& m, const char* op);
std::shared_ptr<void> hold_for_job(const nn::ModulePtr& m, const std::shared_ptr<optim::Optimizer>& opt);
std::shared_ptr<optim::Optimizer> unwrap_optimizer(Napi::Env env, const Napi::Value& v, const char* op, const char* name);
Napi::Value wrap_optimizer(Napi::Env env, std::shared_ptr<optim::Optimizer> opt);
Napi::Object metadata_object(Napi::Env env, const io::Metadata& meta);

namespace {

using transformer::Sequences;

template <class M>
std::shared_ptr<M> module_as(const Napi::CallbackInfo& info, size_t i, const char* op, const char* type) {
  nn::ModulePtr m = unwrap_module(info.Env(), i < info.Length() ? info[i] : info.Env().Undefined(), op, "module");
  auto p = std::dynamic_pointer_cast<M>(m);
  if (!p) throw_type(std::string(op) + ": the module is a " + m->type() + ", not a " + type);
  return p;
}

Napi::Value arg(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() ? info[i] : info.Env().Undefined(); }
bool absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

Napi::Object options_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  Napi::Value v = arg(info, i);
  if (absent(v)) return Napi::Object::New(info.Env());
  if (!v.IsObject()) throw_type(std::string(op) + ": options must be an object");
  return v.As<Napi::Object>();
}

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
    Napi::Value x = arr.Get(i);
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

Sequences sequences_arg(Napi::Env env, const Napi::Value& v, const char* op, const char* what) {
  if (!v.IsObject()) throw_type(std::string(op) + ": " + what + " must be { ids, rows, cols, lengths }");
  Napi::Object o = v.As<Napi::Object>();
  const int64_t rows = opt_int(o, "rows", -1, op), cols = opt_int(o, "cols", -1, op);
  Napi::Value ids = o.Get("ids");
  if (!ids.IsTypedArray() || ids.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_type(std::string(op) + ": " + what + ".ids must be an Int32Array");
  auto a = ids.As<Napi::Int32Array>();
  if (rows < 1 || cols < 1 || static_cast<int64_t>(a.ElementLength()) != rows * cols)
    throw_range(std::string(op) + ": " + what + " has " + std::to_string(a.ElementLength()) + " ids for " + std::to_string(rows) + " x " +
                std::to_string(cols));
  Sequences s;
  s.ids = Tensor::from_host(a.Data(), {rows, cols}, DType::I32);
  s.lengths = int32_list(env, o.Get("lengths"), op, "lengths");
  transformer::check_sequences(s, op, what);
  return s;
}

Napi::Value tensor_or_undefined(Napi::Env env, const Tensor& t) { return t.defined() ? TensorHandle::wrap(env, t) : env.Undefined(); }

// A number option left unset stays unset (the optimizer's own value then applies; train.h).
std::optional<double> opt_given(const Napi::Object& o, const char* key, const char* op) {
  if (o.Get(key).IsUndefined()) return std::nullopt;
  return opt_number(o, key, 0, op);
}

transformer::TrainOptions train_options(const Napi::Object& o, const char* op) {
  transformer::TrainOptions t;
  if (!o.Get("epochs").IsUndefined()) t.epochs = opt_int(o, "epochs", 10, op);
  t.batch_size = opt_int(o, "batchSize", t.batch_size, op);
  t.max_steps = opt_int(o, "maxSteps", 0, op);
  t.lr = opt_given(o, "lr", op);
  t.min_lr = opt_given(o, "minLr", op);
  t.weight_decay = opt_given(o, "weightDecay", op);
  t.beta1 = opt_given(o, "beta1", op);
  t.beta2 = opt_given(o, "beta2", op);
  t.eps = opt_given(o, "eps", op);
  t.warmup_steps = opt_int(o, "warmupSteps", -1, op);
  Napi::Value s = o.Get("schedule");
  if (!s.IsUndefined()) {
    optim::ScheduleKind kind;
    if (!s.IsString() || !optim::schedule_from_name(s.As<Napi::String>().Utf8Value(), &kind))
      throw_type(std::string(op) + ": schedule must be 'warmupCosine', 'warmupLinear' or 'constant'");
    t.schedule = kind;
  }
  t.clip_norm = opt_number(o, "clipNorm", t.clip_norm, op);
  t.label_smoothing = opt_number(o, "labelSmoothing", 0, op);
  t.bucket = opt_bool(o, "bucket", true, op);
  t.shuffle = opt_bool(o, "shuffle", true, op);
  const int64_t seed = opt_int(o, "seed", 0, op);
  if (seed < 0) throw_type(std::string(op) + ": seed must be a non-negative integer");
  t.seed = static_cast<uint64_t>(seed);
  t.mask_prob = opt_number(o, "maskProb", t.mask_prob, op);
  return t;
}

ProgressFields progress_fields(const transformer::TrainProgress& p) {
  ProgressFields f = {{"step", static_cast<double>(p.step)},
                      {"totalSteps", static_cast<double>(p.total_steps)},
                      {"epoch", static_cast<double>(p.epoch)},
                      {"loss", p.loss},
                      {"lr", p.lr},
                      {"gradNorm", p.grad_norm},
                      {"tokensPerSec", p.tokens_per_sec},
                      {"epochEnd", p.epoch_end ? 1.0 : 0.0},
                      {"epochLoss", p.epoch_loss},
                      {"seconds", p.seconds}};
  if (!std::isnan(p.val_loss)) f.emplace_back("valLoss", p.val_loss);
  if (!std::isnan(p.val_accuracy)) f.emplace_back("valAccuracy", p.val_accuracy);
  return f;
}

Napi::Array number_array(Napi::Env env, const std::vector<double>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (uint32_t i = 0; i < v.size(); ++i) a.Set(i, std::isnan(v[i]) ? env.Null() : Napi::Number::New(env, v[i]));
  return a;
}

Napi::Object train_result(Napi::Env env, const transformer::TrainResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("steps", Napi::Number::New(env, static_cast<double>(r.steps)));
  o.Set("tokens", Napi::Number::New(env, static_cast<double>(r.tokens)));
  o.Set("seconds", Napi::Number::New(env, r.seconds));
  o.Set("tokensPerSec", Napi::Number::New(env, r.tokens_per_sec));
  o.Set("firstEpoch", Napi::Number::New(env, static_cast<double>(r.first_epoch)));
  o.Set("epochLoss", number_array(env, r.epoch_loss));
  o.Set("valLoss", number_array(env, r.val_loss));
  o.Set("valAccuracy", number_array(env, r.val_accuracy));
  return o;
}

Napi::Object eval_result(Napi::Env env, const transformer::EvalResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", std::isnan(r.loss) ? env.Null() : Napi::Number::New(env, r.loss));
  o.Set("accuracy", std::isnan(r.accuracy) ? env.Null() : Napi::Number::New(env, r.accuracy));
  o.Set("tokens", Napi::Number::New(env, static_cast<double>(r.tokens)));
  return o;
}

Napi::Object hypothesis_object(Napi::Env env, const transformer::Hypothesis& h) {
  Napi::Object r = Napi::Object::New(env);
  Napi::Int32Array ids = Napi::Int32Array::New(env, h.ids.size());
  if (!h.ids.empty()) std::memcpy(ids.Data(), h.ids.data(), h.ids.size() * sizeof(int32_t));
  r.Set("ids", ids);
  r.Set("score", Napi::Number::New(env, h.score));
  r.Set("logProb", Napi::Number::New(env, h.log_prob));
  r.Set("finished", Napi::Boolean::New(env, h.finished));
  r.Set("stopToken", Napi::Number::New(env, h.stop_token));
  if (h.attention.defined()) r.Set("attention", TensorHandle::wrap(env, h.attention));
  return r;
}

// Starts a job on `m` (and `opt`, when given) that holds them busy until the job settles. With an
// optimizer, the job object carries it as `optimizer` from the start, so that the caller keeps the
// state of the steps taken even when the job is aborted.
Napi::Value start_model_job(Napi::Env env, const nn::ModulePtr& m, const char* name, std::function<void(JobControl&)> work,
                            std::function<Napi::Value(Napi::Env)> done, Napi::Value on_progress,
                            const std::shared_ptr<optim::Optimizer>& opt = nullptr, std::function<void()> on_settle = nullptr) {
  if (refuse_if_busy(env, *m, name)) {
    if (on_settle) on_settle();
    return env.Undefined();
  }
  auto hold = hold_for_job(m, opt);
  ProgressJobSpec spec;
  spec.name = name;
  spec.work = std::move(work);
  spec.done = std::move(done);
  spec.on_progress = on_progress;
  return start_progress_job(env, std::move(spec), [hold, opt, on_settle](Napi::Object job, std::shared_ptr<JobControl> ctl) {
    if (opt) job.Set("optimizer", wrap_optimizer(job.Env(), opt));
    // The hook owns the hold: settling runs and clears the hooks, which releases it.
    ctl->on_settle([hold]() { (void)hold; });
    if (on_settle) ctl->on_settle(on_settle);
  });
}

// The model, sources and targets that the Seq2Seq jobs take as arguments 0 to 2.
struct PairArgs {
  std::shared_ptr<transformer::Seq2Seq> model;
  std::shared_ptr<Sequences> src, tgt;
};
PairArgs pair_args(const Napi::CallbackInfo& info, const char* op) {
  Napi::Env env = info.Env();
  return {module_as<transformer::Seq2Seq>(info, 0, op, "Seq2Seq"),
          std::make_shared<Sequences>(sequences_arg(env, arg(info, 1), op, "sources")),
          std::make_shared<Sequences>(sequences_arg(env, arg(info, 2), op, "targets"))};
}

// The optimizer a fit continues (argument i, from an earlier fit or a checkpoint), or a fresh one.
std::shared_ptr<optim::Optimizer> fit_optimizer(const Napi::CallbackInfo& info, size_t i, nn::Module& m, const char* op) {
  if (absent(arg(info, i))) return transformer::make_train_optimizer(m);
  return unwrap_optimizer(info.Env(), arg(info, i), op, "optimizer");
}

// ---- creation ---------------------------------------------------------------------------------------

// tfCreate(configJson) -> module
Napi::Value tf_create(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    const std::string text = arg_string(info, 0, "transformer.create", "config");
    json::Value config = json::parse(text, "transformer.create");
    return wrap_module(info.Env(), transformer::build_transformer_module(config, "transformer.create"), true);
  });
}

// tfSetParameters(module, [[name, tensor], ...]): copies values into named parameters, all or none.
Napi::Value tf_set_parameters(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "loadStateDict";
    Napi::Env env = info.Env();
    nn::ModulePtr m = unwrap_module(env, arg(info, 0), op, "module");
    if (refuse_if_busy(env, *m, op)) return env.Undefined();
    Napi::Value list = arg(info, 1);
    if (!list.IsArray()) throw_type(std::string(op) + ": entries must be an array of [name, tensor] pairs");
    const nn::NamedTensors params = m->named_parameters();
    std::vector<std::pair<Tensor, Tensor>> writes;
    Napi::Array arr = list.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value e = arr.Get(i);
      if (!e.IsArray() || e.As<Napi::Array>().Length() != 2 || !e.As<Napi::Array>().Get(0u).IsString())
        throw_type(std::string(op) + ": entries must be [name, tensor] pairs");
      const std::string name = e.As<Napi::Array>().Get(0u).As<Napi::String>().Utf8Value();
      const Tensor& src = TensorHandle::unwrap_value(env, e.As<Napi::Array>().Get(1u), op, name.c_str());
      auto it = std::find_if(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
      if (it == params.end()) throw_range(std::string(op) + ": the " + m->type() + " has no parameter '" + name + "'");
      if (src.shape() != it->second.shape())
        throw_range(std::string(op) + ": '" + name + "' has shape " + shape_str(it->second.shape()) + ", got " + shape_str(src.shape()));
      if (!is_float(src.dtype())) throw_type(std::string(op) + ": '" + name + "' must be a float tensor");
      writes.emplace_back(it->second, src);
    }
    for (auto& [dst, src] : writes) {
      Tensor d = dst;
      d.copy_from(src.to(dst.dtype()), op);
    }
    return env.Undefined();
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
    if (refuse_if_busy(env, *m, op)) return env.Undefined();
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
    if (refuse_if_busy(env, *m, op)) return env.Undefined();
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
    if (refuse_if_busy(env, *m, op)) return env.Undefined();
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
    if (refuse_if_busy(info.Env(), *m, op)) return info.Env().Undefined();
    return TensorHandle::wrap(info.Env(), m->add(TensorHandle::unwrap(info, 1, op, "input"), arg_int(info, 2, op, "offset")));
  });
}

// tfEncoderHidden(encoder, ids tensor, lengths) -> hidden [B, L, D] (recorded)
Napi::Value tf_encoder_hidden(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "TransformerEncoder.forward";
    auto m = module_as<transformer::TransformerEncoder>(info, 0, op, "TransformerEncoder");
    if (refuse_if_busy(info.Env(), *m, op)) return info.Env().Undefined();
    const Tensor& ids = TensorHandle::unwrap(info, 1, op, "ids");
    return TensorHandle::wrap(info.Env(), m->hidden(ids, int32_list(info.Env(), arg(info, 2), op, "lengths")));
  });
}

// tfSeq2SeqLogits(model, src tensor, srcLengths, tgtIn tensor) -> logits [B, T, V] (recorded)
Napi::Value tf_seq2seq_logits(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "Seq2Seq.forward";
    auto m = module_as<transformer::Seq2Seq>(info, 0, op, "Seq2Seq");
    if (refuse_if_busy(info.Env(), *m, op)) return info.Env().Undefined();
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

// ---- jobs ---------------------------------------------------------------------------------------------

// tfSeq2SeqFit(model, src, tgt, valSrc | null, valTgt | null, options, onProgress | null, optimizer | null)
//   -> { promise, abort, optimizer }: continues the optimizer given, else a fresh one.
Napi::Value tf_seq2seq_fit(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "Seq2Seq.fit";
    Napi::Env env = info.Env();
    const PairArgs args = pair_args(info, op);
    std::shared_ptr<Sequences> vs, vt;
    if (!absent(arg(info, 3))) {
      vs = std::make_shared<Sequences>(sequences_arg(env, arg(info, 3), op, "validation sources"));
      vt = std::make_shared<Sequences>(sequences_arg(env, arg(info, 4), op, "validation targets"));
    }
    const transformer::TrainOptions o = train_options(options_arg(info, 5, op), op);
    auto opt = fit_optimizer(info, 7, *args.model, op);
    auto result = std::make_shared<transformer::TrainResult>();
    return start_model_job(
        env, args.model, op,
        [args, vs, vt, o, opt, result](JobControl& ctl) {
          *result = transformer::fit_seq2seq(*args.model, *args.src, *args.tgt, vs.get(), vt.get(), o, *opt,
                                             [&ctl](const transformer::TrainProgress& p) { ctl.report(progress_fields(p)); },
                                             [&ctl] { return ctl.aborted(); });
        },
        [result](Napi::Env e) -> Napi::Value { return train_result(e, *result); }, arg(info, 6), opt);
  });
}

// tfEncoderFit(model, data, labels Int32Array | null, val | null, valLabels | null, options, onProgress | null,
//   optimizer | null) -> { promise, abort, optimizer }: as tfSeq2SeqFit.
Napi::Value tf_encoder_fit(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "TransformerEncoder.fit";
    Napi::Env env = info.Env();
    auto m = module_as<transformer::TransformerEncoder>(info, 0, op, "TransformerEncoder");
    auto data = std::make_shared<Sequences>(sequences_arg(env, arg(info, 1), op, "inputs"));
    auto labels_of = [&](size_t i, const char* what) {
      if (absent(arg(info, i))) return Tensor();
      std::vector<int32_t> y = int32_list(env, arg(info, i), op, what);
      return Tensor::from_host(y.data(), {static_cast<int64_t>(y.size())}, DType::I32);
    };
    Tensor labels = labels_of(2, "labels");
    std::shared_ptr<Sequences> val;
    if (!absent(arg(info, 3))) val = std::make_shared<Sequences>(sequences_arg(env, arg(info, 3), op, "validation inputs"));
    Tensor val_labels = labels_of(4, "validation labels");
    const transformer::TrainOptions o = train_options(options_arg(info, 5, op), op);
    auto opt = fit_optimizer(info, 7, *m, op);
    auto result = std::make_shared<transformer::TrainResult>();
    return start_model_job(
        env, m, op,
        [m, data, labels, val, val_labels, o, opt, result](JobControl& ctl) {
          *result = transformer::fit_encoder(*m, *data, labels, val.get(), val_labels.defined() ? &val_labels : nullptr, o, *opt,
                                             [&ctl](const transformer::TrainProgress& p) { ctl.report(progress_fields(p)); },
                                             [&ctl] { return ctl.aborted(); });
        },
        [result](Napi::Env e) -> Napi::Value { return train_result(e, *result); }, arg(info, 6), opt);
  });
}

// tfTranslate(model, src, options, onToken?) -> { promise: Promise<[[{ ids, score, logProb, finished, stopToken, attention? }, ...]]>, abort }:
// per input its best numReturn hypotheses, best first (attention on the best only). onToken(input,
// sample, token), when given, is called on the main thread for every token as it is chosen, in
// order, before the promise settles (posted one by one: progress reports would coalesce them).
Napi::Value tf_translate(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "Seq2Seq.translate";
    Napi::Env env = info.Env();
    auto m = module_as<transformer::Seq2Seq>(info, 0, op, "Seq2Seq");
    auto src = std::make_shared<Sequences>(sequences_arg(env, arg(info, 1), op, "sources"));
    Napi::Object o = options_arg(info, 2, op);
    transformer::DecodeOptions d;
    d.beam_size = opt_int(o, "beamSize", 1, op);
    d.max_length = opt_int(o, "maxLength", 64, op);
    d.length_penalty = opt_number(o, "lengthPenalty", 1.0, op);
    d.batch_size = opt_int(o, "batchSize", 64, op);
    d.attention = opt_bool(o, "attention", false, op);
    d.num_return = opt_int(o, "numReturn", 1, op);
    d.sample = opt_bool(o, "sample", false, op);
    d.temperature = opt_number(o, "temperature", 1.0, op);
    d.top_k = opt_int(o, "topK", 0, op);
    d.top_p = opt_number(o, "topP", 1.0, op);
    d.repetition_penalty = opt_number(o, "repetitionPenalty", 1.0, op);
    d.seed = static_cast<uint64_t>(opt_int(o, "seed", 0, op));
    if (o.Has("stopTokens") && !absent(o.Get("stopTokens"))) d.stop_tokens = int32_list(env, o.Get("stopTokens"), op, "stopTokens");
    Napi::Value cb = arg(info, 3);
    if (!absent(cb) && !cb.IsFunction()) throw_type(std::string(op) + ": onToken must be a function");
    // Freed on the main thread when the job settles; posts never run after that.
    Napi::FunctionReference* sink = absent(cb) ? nullptr : new Napi::FunctionReference(Napi::Persistent(cb.As<Napi::Function>()));
    auto result = std::make_shared<std::vector<std::vector<transformer::Hypothesis>>>();
    return start_model_job(
        env, m, op,
        [m, src, d, result, sink](JobControl& ctl) {
          transformer::DecodeOptions run = d;
          if (sink)
            run.on_token = [&ctl, sink](int64_t input, int64_t sample, int32_t token) {
              ctl.post([sink, input, sample, token](Napi::Env e) {
                sink->Call({Napi::Number::New(e, static_cast<double>(input)), Napi::Number::New(e, static_cast<double>(sample)),
                            Napi::Number::New(e, token)});
                if (e.IsExceptionPending()) e.GetAndClearPendingException();  // a listener's error must not take the job down
              });
            };
          *result = transformer::generate(*m, src->ids, src->lengths, run, [&ctl] { return ctl.aborted(); });
        },
        [result](Napi::Env e) -> Napi::Value {
          Napi::Array out = Napi::Array::New(e, result->size());
          for (uint32_t i = 0; i < result->size(); ++i) {
            const auto& list = (*result)[i];
            Napi::Array hyps = Napi::Array::New(e, list.size());
            for (uint32_t k = 0; k < list.size(); ++k) hyps.Set(k, hypothesis_object(e, list[k]));
            out.Set(i, hyps);
          }
          return out;
        },
        env.Undefined(), nullptr, [sink]() { delete sink; });
  });
}

// tfScore(model, src, tgt, batchSize) -> { promise: Promise<Float64Array> (per pair sum of log p), abort }
Napi::Value tf_score(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "Seq2Seq.score";
    const PairArgs args = pair_args(info, op);
    const int64_t batch = arg_int(info, 3, op, "batchSize");
    auto result = std::make_shared<std::vector<double>>();
    return start_model_job(
        info.Env(), args.model, op,
        [args, batch, result](JobControl& ctl) {
          *result = transformer::score_seq2seq(*args.model, *args.src, *args.tgt, batch, [&ctl] { return ctl.aborted(); });
        },
        [result](Napi::Env e) -> Napi::Value {
          Napi::Float64Array out = Napi::Float64Array::New(e, result->size());
          if (!result->empty()) std::memcpy(out.Data(), result->data(), result->size() * sizeof(double));
          return out;
        },
        info.Env().Undefined());
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

// tfEncode(model, data, pooling, batchSize) -> { promise: Promise<Tensor [N, D]>, abort }
Napi::Value tf_encode(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "TransformerEncoder.encode";
    Napi::Env env = info.Env();
    auto m = module_as<transformer::TransformerEncoder>(info, 0, op, "TransformerEncoder");
    auto data = std::make_shared<Sequences>(sequences_arg(env, arg(info, 1), op, "inputs"));
    const transformer::Pooling pooling = transformer::pooling_from_name(arg_string(info, 2, op, "pooling"), op);
    const int64_t batch = arg_int(info, 3, op, "batchSize");
    if (batch < 1) throw_range(std::string(op) + ": batchSize must be positive");
    auto result = std::make_shared<Tensor>();
    return start_model_job(
        env, m, op,
        [m, data, pooling, batch, result](JobControl& ctl) {
          *result = transformer::encode_sentences(*m, *data, pooling, batch, [&ctl] { return ctl.aborted(); });
        },
        [result](Napi::Env e) -> Napi::Value { return TensorHandle::wrap(e, *result); }, env.Undefined());
  });
}

// tfClassify(model, data, batchSize) -> { promise: Promise<Tensor [N, C]> (logits), abort }
Napi::Value tf_classify(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "TransformerEncoder.classify";
    Napi::Env env = info.Env();
    auto m = module_as<transformer::TransformerEncoder>(info, 0, op, "TransformerEncoder");
    auto data = std::make_shared<Sequences>(sequences_arg(env, arg(info, 1), op, "inputs"));
    const int64_t batch = arg_int(info, 2, op, "batchSize");
    if (batch < 1) throw_range(std::string(op) + ": batchSize must be positive");
    if (!m->classifier) throw Error(ErrorKind::Unsupported, std::string(op) + ": this model has no classifier (numClasses is 0)");
    auto result = std::make_shared<Tensor>();
    return start_model_job(
        env, m, op,
        [m, data, batch, result](JobControl& ctl) {
          NoGradGuard no_grad;
          const bool was = m->is_training();
          m->eval();
          std::vector<Tensor> parts;
          try {
            const int64_t N = data->size();
            for (int64_t a = 0; a < N; a += batch) {
              ctl.throw_if_aborted();
              const int64_t b = std::min(N, a + batch);
              std::vector<int32_t> lens(data->lengths.begin() + a, data->lengths.begin() + b);
              const int64_t L = *std::max_element(lens.begin(), lens.end());
              parts.push_back(m->classify(data->ids.slice(0, a, b).slice(1, 0, L).contiguous(), lens).contiguous());
            }
          } catch (...) {
            m->train(was);
            throw;
          }
          m->train(was);
          *result = parts.size() == 1 ? parts[0] : ops::concat(parts, 0);
        },
        [result](Napi::Env e) -> Napi::Value { return TensorHandle::wrap(e, *result); }, env.Undefined());
  });
}

// tfEvaluate(model, a, b | labels | null, options) -> { promise: Promise<{ loss, accuracy, tokens }>, abort }
Napi::Value tf_evaluate(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "evaluate";
    Napi::Env env = info.Env();
    nn::ModulePtr m = unwrap_module(env, arg(info, 0), op, "model");
    Napi::Object o = options_arg(info, 3, op);
    const int64_t batch = opt_int(o, "batchSize", 128, op);
    auto result = std::make_shared<transformer::EvalResult>();
    auto done = [result](Napi::Env e) -> Napi::Value { return eval_result(e, *result); };
    if (auto s2s = std::dynamic_pointer_cast<transformer::Seq2Seq>(m)) {
      auto src = std::make_shared<Sequences>(sequences_arg(env, arg(info, 1), op, "sources"));
      auto tgt = std::make_shared<Sequences>(sequences_arg(env, arg(info, 2), op, "targets"));
      return start_model_job(
          env, m, "Seq2Seq.evaluate",
          [s2s, src, tgt, batch, result](JobControl& ctl) {
            *result = transformer::evaluate_seq2seq(*s2s, *src, *tgt, batch, [&ctl] { return ctl.aborted(); });
          },
          done, env.Undefined());
    }
    if (auto enc = std::dynamic_pointer_cast<transformer::TransformerEncoder>(m)) {
      auto data = std::make_shared<Sequences>(sequences_arg(env, arg(info, 1), op, "inputs"));
      Tensor labels;
      if (!absent(arg(info, 2))) {
        std::vector<int32_t> y = int32_list(env, arg(info, 2), op, "labels");
        if (static_cast<int64_t>(y.size()) != data->size()) throw_range(std::string(op) + ": one label per input is needed");
        for (int32_t v : y)
          if (v < 0 || v >= enc->options().num_classes) throw_range(std::string(op) + ": label " + std::to_string(v) + " is out of range");
        labels = Tensor::from_host(y.data(), {static_cast<int64_t>(y.size())}, DType::I32);
      }
      const double mask_prob = opt_number(o, "maskProb", 0.15, op);
      const int64_t seed = opt_int(o, "seed", 0, op);
      return start_model_job(
          env, m, "TransformerEncoder.evaluate",
          [enc, data, labels, batch, mask_prob, seed, result](JobControl& ctl) {
            *result = transformer::evaluate_encoder(*enc, *data, labels, batch, mask_prob, static_cast<uint64_t>(seed),
                                                    [&ctl] { return ctl.aborted(); });
          },
          done, env.Undefined());
    }
    throw_type(std::string(op) + ": the model is a " + m->type() + ", not a Seq2Seq or TransformerEncoder");
  });
}

}  // namespace

void init_transformer(Napi::Env env, Napi::Object exports) {
  transformer::register_transformer_modules();
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
      {"tfCreate", tf_create},
      {"tfSetParameters", tf_set_parameters},
      {"tfAttend", tf_attend},
      {"tfEncoderLayer", tf_encoder_layer},
      {"tfDecoderLayer", tf_decoder_layer},
      {"tfPositional", tf_positional},
      {"tfEncoderHidden", tf_encoder_hidden},
      {"tfSeq2SeqLogits", tf_seq2seq_logits},
      {"tfDropout", tf_dropout},
      {"tfAddDropout", tf_add_dropout},
      {"tfSeq2SeqFit", tf_seq2seq_fit},
      {"tfEncoderFit", tf_encoder_fit},
      {"tfTranslate", tf_translate},
      {"tfEncode", tf_encode},
      {"tfClassify", tf_classify},
      {"tfEvaluate", tf_evaluate},
      {"tfScore", tf_score},
      {"tfLoadModule", tf_load_module},
  };
  for (auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace qkv::binding
