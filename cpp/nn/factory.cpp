#include "nn/factory.h"

#include <map>
#include <mutex>

#include "core/error.h"
#include "nn/layers.h"

namespace qkv::nn {

namespace {

[[noreturn]] void bad(const std::string& where, const std::string& what) { throw Error(ErrorKind::Format, where + what); }

ModulePtr build_linear(const json::Value& c, const ConfigReader& r) {
  LinearOptions o;
  o.bias = r.boolean_or("bias", true);
  o.dtype = r.dtype_or("dtype", DType::F32);
  return std::make_shared<Linear>(r.integer("in"), r.integer("out"), o);
}

ModulePtr build_embedding(const json::Value& c, const ConfigReader& r) {
  EmbeddingOptions o;
  o.dtype = r.dtype_or("dtype", DType::F32);
  return std::make_shared<Embedding>(r.integer("num"), r.integer("dim"), o);
}

ModulePtr build_layer_norm(const json::Value& c, const ConfigReader& r) {
  LayerNormOptions o;
  o.eps = r.number_or("eps", 1e-5);
  o.affine = r.boolean_or("affine", true);
  o.dtype = r.dtype_or("dtype", DType::F32);
  return std::make_shared<LayerNorm>(r.integer("dim"), o);
}

ModulePtr build_dropout(const json::Value& c, const ConfigReader& r) {
  return std::make_shared<Dropout>(r.number_or("p", 0.5), r.seed_or("seed", 0));
}

ModulePtr build_sequential(const json::Value& c, const ConfigReader& r, const char* op) {
  const json::Value* mods = r.find("modules");
  if (!mods || !mods->is_array()) bad(r.where, ".modules must be an array of module configs");
  auto seq = std::make_shared<Sequential>();
  for (const json::Value& m : mods->items()) seq->append(module_from_config(m, op));
  return seq;
}

ModulePtr build_mlp(const json::Value& c, const ConfigReader& r) {
  MLPOptions o;
  o.activation = activation_from_name(r.string_or("activation", "relu"), r.where.c_str());
  o.layer_norm = r.boolean_or("layerNorm", false);
  o.dropout = r.number_or("dropout", 0);
  o.bias = r.boolean_or("bias", true);
  o.eps = r.number_or("eps", 1e-5);
  o.dtype = r.dtype_or("dtype", DType::F32);
  o.seed = r.seed_or("seed", 0);
  std::vector<int64_t> hidden;
  if (const json::Value* h = r.find("hidden")) {
    if (!h->is_array()) bad(r.where, ".hidden must be an array of integers");
    for (const json::Value& x : h->items()) {
      if (!x.is_int()) bad(r.where, ".hidden must be an array of integers");
      hidden.push_back(x.as_int());
    }
  }
  return std::make_shared<MLP>(r.integer("in"), hidden, r.integer("out"), o);
}

struct Registry {
  std::mutex mu;
  std::map<std::string, std::function<ModulePtr(const json::Value&, const ConfigReader&, const char*)>> builders;
  Registry() {
    builders["Linear"] = [](auto& c, auto& r, auto) { return build_linear(c, r); };
    builders["Embedding"] = [](auto& c, auto& r, auto) { return build_embedding(c, r); };
    builders["LayerNorm"] = [](auto& c, auto& r, auto) { return build_layer_norm(c, r); };
    builders["Dropout"] = [](auto& c, auto& r, auto) { return build_dropout(c, r); };
    builders["Sequential"] = [](auto& c, auto& r, const char* op) { return build_sequential(c, r, op); };
    builders["MLP"] = [](auto& c, auto& r, auto) { return build_mlp(c, r); };
    for (ActivationKind k : kActivationKinds) {
      auto m = std::make_shared<Activation>(k);
      builders[m->type()] = [k](auto&, auto&, auto) { return std::make_shared<Activation>(k); };
    }
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void register_module_builder(const std::string& type, ModuleBuilder builder) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.builders[type] = [b = std::move(builder)](const json::Value& c, const ConfigReader&, const char*) { return b(c); };
}

ModulePtr module_from_config(const json::Value& config, const char* op) {
  if (!config.is_object()) bad(std::string(op) + ": ", "a module config must be a JSON object");
  const json::Value* type = config.find("type");
  if (!type || !type->is_string()) bad(std::string(op) + ": ", "a module config needs a string 'type'");
  std::function<ModulePtr(const json::Value&, const ConfigReader&, const char*)> builder;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.builders.find(type->as_string());
    if (it == r.builders.end()) bad(std::string(op) + ": ", "unknown module type '" + type->as_string() + "'");
    builder = it->second;
  }
  ConfigReader reader{config, std::string(op) + ": " + type->as_string()};
  try {
    return builder(config, reader, op);
  } catch (const Error& e) {
    // A config that constructs an invalid module (a negative size...) is a format error of the file.
    if (e.kind() == ErrorKind::Type || e.kind() == ErrorKind::Range) throw Error(ErrorKind::Format, std::string(op) + ": " + e.what());
    throw;
  }
}

// ---- ConfigReader ----------------------------------------------------------------------------------

int64_t ConfigReader::integer(const char* key) const {
  const json::Value* x = v.find(key);
  if (!x) bad(where, std::string(".") + key + " is missing");
  if (!x->is_int()) bad(where, std::string(".") + key + " must be an integer");
  return x->as_int();
}

int64_t ConfigReader::integer_or(const char* key, int64_t fallback) const { return v.find(key) ? integer(key) : fallback; }

double ConfigReader::number_or(const char* key, double fallback) const {
  const json::Value* x = v.find(key);
  if (!x) return fallback;
  if (!x->is_number()) bad(where, std::string(".") + key + " must be a number");
  return x->as_double();
}

bool ConfigReader::boolean_or(const char* key, bool fallback) const {
  const json::Value* x = v.find(key);
  if (!x) return fallback;
  if (!x->is_bool()) bad(where, std::string(".") + key + " must be a boolean");
  return x->as_bool();
}

std::string ConfigReader::string_or(const char* key, const std::string& fallback) const {
  const json::Value* x = v.find(key);
  if (!x) return fallback;
  if (!x->is_string()) bad(where, std::string(".") + key + " must be a string");
  return x->as_string();
}

uint64_t ConfigReader::seed_or(const char* key, uint64_t fallback) const {
  const json::Value* x = v.find(key);
  if (!x) return fallback;
  if (x->is_int() && x->as_int() >= 0) return static_cast<uint64_t>(x->as_int());
  if (x->is_string() && !x->as_string().empty() && x->as_string().size() <= 20 &&
      x->as_string().find_first_not_of("0123456789") == std::string::npos) {
    try {
      return std::stoull(x->as_string());
    } catch (...) {
    }
  }
  bad(where, std::string(".") + key + " must be a non-negative integer or a decimal string");
}

DType ConfigReader::dtype_or(const char* key, DType fallback) const {
  const json::Value* x = v.find(key);
  if (!x) return fallback;
  DType d;
  if (!x->is_string() || !dtype_from_name(x->as_string(), &d)) bad(where, std::string(".") + key + " must be a dtype name");
  return d;
}

}  // namespace qkv::nn
