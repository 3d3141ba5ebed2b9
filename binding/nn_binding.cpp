// Modules (cpp/nn): creation, forward, parameters, modes, checkpoints. A module crosses to
// JavaScript as an External holding a shared_ptr (type-tagged, so that a foreign External is
// refused); src/nn wraps it in typed classes. Calls on a module that a job (fit, predict, save,
// load) is using are refused with QkvError ERR_BUSY instead of racing with the worker thread.
#include <cmath>

#include "binding.h"
#include "modules.h"
#include "nn/checkpoint.h"
#include "nn/factory.h"
#include "nn/layers.h"

namespace qkv::binding {

namespace {

const napi_type_tag kModuleTag = {0x71b6c0a4e3f24d1bULL, 0x9a05d7e1c2b84f66ULL};

struct ModuleBox {
  nn::ModulePtr module;
  int64_t reported = 0;  // bytes reported to V8 as external memory by this box
};

int64_t param_bytes(const nn::Module& m) {
  int64_t n = 0;
  for (auto& [name, t] : m.named_parameters()) n += static_cast<int64_t>(t.nbytes());
  for (auto& [name, t] : m.named_buffers()) n += static_cast<int64_t>(t.nbytes());
  return n;
}

ModuleBox* unwrap_box(Napi::Env env, const Napi::Value& v, const char* op, const char* name) {
  if (!v.IsExternal() || !v.As<Napi::External<ModuleBox>>().CheckTypeTag(&kModuleTag))
    throw_type(std::string(op) + ": " + name + " must be a module");
  return v.As<Napi::External<ModuleBox>>().Data();
}

nn::ModulePtr module_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  return unwrap_module(info.Env(), i < info.Length() ? info[i] : info.Env().Undefined(), op, "module");
}

uint64_t opt_seed(const Napi::Object& o, const char* op) {
  Napi::Value v = get(o, "seed");
  if (v.IsUndefined()) return 0;
  if (!v.IsNumber()) throw_type(std::string(op) + ": seed must be a non-negative integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < 0 || d > 9007199254740991.0)
    throw_type(std::string(op) + ": seed must be a non-negative integer");
  return static_cast<uint64_t>(d);
}

DType opt_dtype(const Napi::Object& o, const char* op) {
  std::string s = opt_string(o, "dtype", "float32", op);
  DType d;
  if (!dtype_from_name(s, &d) || !is_float(d)) throw_type(std::string(op) + ": dtype must be 'float32' or 'float64', got '" + s + "'");
  return d;
}

nn::Init opt_init(const Napi::Object& o, const char* op) {
  Napi::Value v = get(o, "init");
  nn::Init init;
  if (v.IsUndefined()) return init;
  if (v.IsString()) {
    init.kind = nn::init_kind_from_name(v.As<Napi::String>().Utf8Value(), op);
    return init;
  }
  if (!v.IsObject()) throw_type(std::string(op) + ": init must be a name or { kind, std?, bound?, gain? }");
  Napi::Object io = v.As<Napi::Object>();
  init.kind = nn::init_kind_from_name(opt_string(io, "kind", "default", op), op);
  init.std = opt_number(io, "std", init.std, op);
  init.bound = opt_number(io, "bound", init.bound, op);
  init.gain = opt_number(io, "gain", init.gain, op);
  if (!(init.std >= 0) || !(init.bound >= 0) || !std::isfinite(init.std) || !std::isfinite(init.bound))
    throw_range(std::string(op) + ": init std and bound must be finite numbers >= 0");
  return init;
}

nn::ModulePtr create(const std::string& type, const Napi::Object& o, Napi::Env env) {
  const std::string where = "nn." + type;
  const char* op = where.c_str();
  if (type == "Linear") {
    nn::LinearOptions lo{opt_bool(o, "bias", true, op), opt_dtype(o, op), opt_init(o, op), opt_seed(o, op)};
    return std::make_shared<nn::Linear>(required_int(o, "inFeatures", op), required_int(o, "outFeatures", op), lo);
  }
  if (type == "Embedding") {
    nn::EmbeddingOptions eo;
    eo.dtype = opt_dtype(o, op);
    eo.init = opt_init(o, op);
    eo.seed = opt_seed(o, op);
    return std::make_shared<nn::Embedding>(required_int(o, "numEmbeddings", op), required_int(o, "dim", op), eo);
  }
  if (type == "LayerNorm") {
    nn::LayerNormOptions lo{opt_number(o, "eps", 1e-5, op), opt_bool(o, "affine", true, op), opt_dtype(o, op)};
    return std::make_shared<nn::LayerNorm>(required_int(o, "dim", op), lo);
  }
  if (type == "Dropout") return std::make_shared<nn::Dropout>(opt_number(o, "p", 0.5, op), opt_seed(o, op));
  if (type == "Activation")
    return std::make_shared<nn::Activation>(nn::activation_from_name(opt_string(o, "kind", "relu", op), op));
  if (type == "Sequential") {
    auto seq = std::make_shared<nn::Sequential>();
    Napi::Value mods = get(o, "modules");
    if (!mods.IsUndefined()) {
      if (!mods.IsArray()) throw_type(std::string(op) + ": modules must be an array of modules");
      Napi::Array arr = mods.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        const std::string label = "module " + std::to_string(i);
        seq->append(unwrap_module(env, get(arr, i), op, label.c_str()));
      }
    }
    return seq;
  }
  if (type == "MLP") {
    nn::MLPOptions mo;
    mo.activation = nn::activation_from_name(opt_string(o, "activation", "relu", op), op);
    mo.layer_norm = opt_bool(o, "layerNorm", false, op);
    mo.dropout = opt_number(o, "dropout", 0, op);
    mo.bias = opt_bool(o, "bias", true, op);
    mo.eps = opt_number(o, "eps", 1e-5, op);
    mo.dtype = opt_dtype(o, op);
    mo.init = opt_init(o, op);
    mo.seed = opt_seed(o, op);
    std::vector<int64_t> hidden;
    Napi::Value h = get(o, "hidden");
    if (!h.IsUndefined()) {
      if (!h.IsArray()) throw_type(std::string(op) + ": hidden must be an array of sizes");
      Napi::Array arr = h.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value x = get(arr, i);
        if (!x.IsNumber() || std::floor(x.As<Napi::Number>().DoubleValue()) != x.As<Napi::Number>().DoubleValue())
          throw_type(std::string(op) + ": hidden must be an array of integers");
        hidden.push_back(static_cast<int64_t>(x.As<Napi::Number>().DoubleValue()));
      }
    }
    return std::make_shared<nn::MLP>(required_int(o, "in", op), hidden, required_int(o, "out", op), mo);
  }
  throw_type("nn.create: unknown module type '" + type + "'");
}

io::Metadata metadata_arg(Napi::Env env, const Napi::Value& v, const char* op) {
  io::Metadata meta;
  if (v.IsUndefined() || v.IsNull()) return meta;
  if (!v.IsObject() || v.IsArray()) throw_type(std::string(op) + ": metadata must be an object of strings");
  Napi::Object o = v.As<Napi::Object>();
  for (const std::string& k : object_keys(env, o, op)) {
    Napi::Value x = get(o, k);
    if (!x.IsString()) throw_type(std::string(op) + ": metadata value of '" + k + "' must be a string");
    meta[k] = x.As<Napi::String>().Utf8Value();
  }
  return meta;
}

// ---- functions ----------------------------------------------------------------------------------

Napi::Value nn_create(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    std::string type = arg_string(info, 0, "nn.create", "type");
    return wrap_module(info.Env(), create(type, options_arg(info, 1, "nn.create"), info.Env()), true);
  });
}

Napi::Value nn_type(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return Napi::String::New(info.Env(), module_arg(info, 0, "type")->type()); });
}

Napi::Value nn_config(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return Napi::String::New(info.Env(), json::dump(module_arg(info, 0, "config")->config())); });
}

Napi::Value nn_forward(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    nn::ModulePtr m = module_arg(info, 0, "forward");
    const std::string op = m->type() + ".forward";
    check_not_busy(*m, op.c_str());
    return TensorHandle::wrap(info.Env(), m->forward(TensorHandle::unwrap(info, 1, op.c_str(), "input")));
  });
}

Napi::Value nn_named_parameters(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return named_tensors(info.Env(), module_arg(info, 0, "namedParameters")->named_parameters()); });
}

// nnParameterDecay(module) → { [name]: boolean }: whether weight decay applies, as each module declared.
Napi::Value nn_parameter_decay(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    nn::ModulePtr m = module_arg(info, 0, "parameterDecay");
    const nn::NamedTensors named = m->named_parameters();
    const std::vector<bool> decay = m->parameter_decay();
    Napi::Object out = Napi::Object::New(info.Env());
    for (size_t i = 0; i < named.size(); ++i) out.Set(named[i].first, Napi::Boolean::New(info.Env(), decay[i]));
    return out;
  });
}

Napi::Value nn_named_buffers(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    nn::ModulePtr m = module_arg(info, 0, "namedBuffers");
    const bool persistent_only = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
    return named_tensors(info.Env(), persistent_only ? m->named_persistent_buffers() : m->named_buffers());
  });
}

Napi::Value nn_named_children(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::Env env = info.Env();
    const nn::NamedModules& children = module_arg(info, 0, "namedChildren")->named_children();
    Napi::Array out = Napi::Array::New(env, children.size());
    for (uint32_t i = 0; i < children.size(); ++i) {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::String::New(env, children[i].first));
      pair.Set(1u, wrap_module(env, children[i].second, false));
      out.Set(i, pair);
    }
    return out;
  });
}

Napi::Value nn_parameter_count(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return Napi::Number::New(info.Env(), static_cast<double>(module_arg(info, 0, "parameterCount")->parameter_count())); });
}

Napi::Value nn_set_training(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    nn::ModulePtr m = module_arg(info, 0, "train");
    bool on = arg_bool(info, 1, "train", "mode");
    check_not_busy(*m, on ? "train" : "eval");
    m->train(on);
    return info.Env().Undefined();
  });
}

Napi::Value nn_is_training(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return Napi::Boolean::New(info.Env(), module_arg(info, 0, "training")->is_training()); });
}

Napi::Value nn_zero_grad(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    nn::ModulePtr m = module_arg(info, 0, "zeroGrad");
    check_not_busy(*m, "zeroGrad");
    m->zero_grad();
    return info.Env().Undefined();
  });
}

Napi::Value nn_busy(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, { return Napi::Boolean::New(info.Env(), module_arg(info, 0, "busy")->find_busy() != nullptr); });
}

Napi::Value nn_append(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::Env env = info.Env();
    nn::ModulePtr m = module_arg(info, 0, "Sequential.append");
    auto* seq = dynamic_cast<nn::Sequential*>(m.get());
    if (!seq || m->type() != "Sequential") throw_type("Sequential.append: the module is a " + m->type() + ", not a Sequential");
    check_not_busy(*m, "Sequential.append");
    seq->append(unwrap_module(env, info.Length() > 1 ? info[1] : env.Undefined(), "Sequential.append", "module"));
    return env.Undefined();
  });
}

Napi::Value nn_dispose(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::Env env = info.Env();
    if (info.Length() < 1) throw_type("dispose: module must be a module");
    ModuleBox* box = unwrap_box(env, info[0], "dispose", "module");
    if (box->module) check_not_busy(*box->module, "dispose");
    box->module.reset();
    if (box->reported) Napi::MemoryManagement::AdjustExternalMemory(env, -box->reported);
    box->reported = 0;
    return env.Undefined();
  });
}

// save(module, path, optimizer | null, metadata) → Promise<void>
Napi::Value nn_save(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::Env env = info.Env();
    nn::ModulePtr m = module_arg(info, 0, "save");
    std::string path = arg_string(info, 1, "save", "path");
    std::shared_ptr<optim::Optimizer> opt;
    if (info.Length() > 2 && !info[2].IsNull() && !info[2].IsUndefined()) opt = unwrap_optimizer(env, info[2], "save", "optimizer");
    io::Metadata meta = metadata_arg(env, info.Length() > 3 ? info[3] : env.Undefined(), "save");
    check_not_busy(*m, "save");
    if (opt) check_optimizer_not_busy(*opt, "save");
    auto hold = hold_for_job(m, opt);
    return queue_job(env, {[m, path, opt, meta] { nn::save_checkpoint(path, *m, opt.get(), meta, "save"); },
                           [hold](Napi::Env e) -> Napi::Value { return e.Undefined(); }});
  });
}

// load(module, path, optimizer | null) → Promise<metadata>
Napi::Value nn_load(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    Napi::Env env = info.Env();
    nn::ModulePtr m = module_arg(info, 0, "load");
    std::string path = arg_string(info, 1, "load", "path");
    std::shared_ptr<optim::Optimizer> opt;
    if (info.Length() > 2 && !info[2].IsNull() && !info[2].IsUndefined()) opt = unwrap_optimizer(env, info[2], "load", "optimizer");
    check_not_busy(*m, "load");
    if (opt) check_optimizer_not_busy(*opt, "load");
    auto hold = hold_for_job(m, opt);
    auto meta = std::make_shared<io::Metadata>();
    return queue_job(env, {[m, path, opt, meta] { *meta = nn::load_checkpoint(path, *m, opt.get(), "load"); },
                           [meta, hold](Napi::Env e) -> Napi::Value { return metadata_object(e, *meta); }});
  });
}

// loadStateDict(module, names: string[], tensors: Tensor[]) → Promise<void>: the strict load of a
// checkpoint (every tensor present with its shape, nothing else) from tensors in memory.
Napi::Value nn_load_state_dict(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    constexpr const char* op = "loadStateDict";
    Napi::Env env = info.Env();
    nn::ModulePtr m = module_arg(info, 0, op);
    if (info.Length() < 3 || !info[1].IsArray() || !info[2].IsArray()) throw_type(std::string(op) + ": names and tensors must be arrays");
    Napi::Array names = info[1].As<Napi::Array>(), handles = info[2].As<Napi::Array>();
    if (names.Length() != handles.Length()) throw_type(std::string(op) + ": as many names as tensors are needed");
    auto file = std::make_shared<io::Safetensors>();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      Napi::Value n = get(names, i);
      if (!n.IsString()) throw_type(std::string(op) + ": tensor names must be strings");
      std::string name = n.As<Napi::String>().Utf8Value();
      const std::string label = "tensor '" + name + "'";
      // A contiguous copy: the job must not see later writes to the caller's tensors.
      file->tensors.emplace_back(name, TensorHandle::unwrap_value(env, get(handles, i), op, label.c_str()).clone());
    }
    const bool strict = info.Length() < 4 || !info[3].IsBoolean() || info[3].As<Napi::Boolean>().Value();
    check_not_busy(*m, op);
    auto hold = hold_for_job(m, nullptr);
    return queue_job(env, {[m, file, strict] { nn::load_checkpoint(*file, "the state dict", *m, nullptr, op, strict); },
                           [hold](Napi::Env e) -> Napi::Value { return e.Undefined(); }});
  });
}

// loadModule(path) → Promise<{ module, metadata }>
Napi::Value nn_load_module(const Napi::CallbackInfo& info) {
  QKV_GUARD(info, {
    std::string path = arg_string(info, 0, "nn.load", "path");
    auto result = std::make_shared<nn::ModulePtr>();
    auto meta = std::make_shared<io::Metadata>();
    return queue_job(info.Env(), {[path, result, meta] { *result = nn::load_module(path, meta.get(), "nn.load"); },
                                  [result, meta](Napi::Env e) -> Napi::Value {
                                    Napi::Object o = Napi::Object::New(e);
                                    o.Set("module", wrap_module(e, *result, true));
                                    o.Set("metadata", metadata_object(e, *meta));
                                    return o;
                                  }});
  });
}

}  // namespace

// ---- shared helpers -----------------------------------------------------------------------------

nn::ModulePtr unwrap_module(Napi::Env env, const Napi::Value& v, const char* op, const char* name) {
  ModuleBox* box = unwrap_box(env, v, op, name);
  if (!box->module) throw Error(ErrorKind::Disposed, std::string(op) + ": " + name + " is a disposed module");
  return box->module;
}

Napi::Value wrap_module(Napi::Env env, nn::ModulePtr m, bool owner) {
  auto* box = new ModuleBox{std::move(m), 0};
  if (owner) {
    box->reported = param_bytes(*box->module);
    if (box->reported) Napi::MemoryManagement::AdjustExternalMemory(env, box->reported);
  }
  return tagged_external(
      env, box,
      [](Napi::Env e, ModuleBox* b) {
        if (b->reported) Napi::MemoryManagement::AdjustExternalMemory(e, -b->reported);
        delete b;
      },
      &kModuleTag);
}

Napi::Object metadata_object(Napi::Env env, const io::Metadata& meta) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [k, v] : meta) set_data(o, k, Napi::String::New(env, v));
  return o;
}

Napi::Array named_tensors(Napi::Env env, const nn::NamedTensors& list) {
  Napi::Array out = Napi::Array::New(env, list.size());
  for (uint32_t i = 0; i < list.size(); ++i) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, list[i].first));
    pair.Set(1u, TensorHandle::wrap(env, list[i].second));
    out.Set(i, pair);
  }
  return out;
}

std::shared_ptr<void> hold_for_job(const nn::ModulePtr& m, const std::shared_ptr<optim::Optimizer>& opt) {
  struct Hold {
    nn::ModulePtr module;
    std::unique_ptr<nn::BusyGuard> guard;
    std::shared_ptr<optim::Optimizer> opt;
    ~Hold() {
      guard.reset();
      if (opt) opt->busy--;
    }
  };
  auto h = std::make_shared<Hold>();
  h->module = m;
  if (m) h->guard = std::make_unique<nn::BusyGuard>(*m);
  h->opt = opt;
  if (opt) opt->busy++;
  return h;
}

void check_not_busy(const nn::Module& m, const char* op) {
  const nn::Module* b = m.find_busy();
  if (!b) return;
  throw Error(ErrorKind::Busy, std::string(op) + ": the " + m.type() + (b == &m ? "" : " contains a " + b->type() + " that") +
                                   " is in use by a running job (fit, predict, evaluate, save or load); await it first");
}

std::vector<std::string> object_keys(Napi::Env env, Napi::Object o, const char* op) {
  napi_value names;
  napi_status st = napi_get_all_property_names(env, o, napi_key_own_only,
                                               static_cast<napi_key_filter>(napi_key_enumerable | napi_key_skip_symbols),
                                               napi_key_numbers_to_strings, &names);
  if (st != napi_ok) throw Error(ErrorKind::Internal, std::string(op) + ": cannot list an object's keys");
  Napi::Array arr(env, names);
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < arr.Length(); ++i) keys.push_back(get(arr, i).As<Napi::String>().Utf8Value());
  return keys;
}

void set_data(Napi::Object o, const std::string& key, Napi::Value v) {
  o.DefineProperty(Napi::PropertyDescriptor::Value(
      key, v, static_cast<napi_property_attributes>(napi_writable | napi_enumerable | napi_configurable)));
}

void init_nn(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
      {"nnCreate", nn_create},
      {"nnType", nn_type},
      {"nnConfig", nn_config},
      {"nnForward", nn_forward},
      {"nnNamedParameters", nn_named_parameters},
      {"nnParameterDecay", nn_parameter_decay},
      {"nnNamedBuffers", nn_named_buffers},
      {"nnNamedChildren", nn_named_children},
      {"nnParameterCount", nn_parameter_count},
      {"nnSetTraining", nn_set_training},
      {"nnIsTraining", nn_is_training},
      {"nnZeroGrad", nn_zero_grad},
      {"nnBusy", nn_busy},
      {"nnAppend", nn_append},
      {"nnDispose", nn_dispose},
      {"nnSave", nn_save},
      {"nnLoad", nn_load},
      {"nnLoadModule", nn_load_module},
      {"nnLoadStateDict", nn_load_state_dict},
  };
  for (auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace qkv::binding
