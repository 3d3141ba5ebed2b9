#include "nn/checkpoint.h"

#include <map>
#include <set>

#include "autograd/autograd.h"
#include "core/error.h"
#include "nn/factory.h"

namespace qkv::nn {

namespace {

constexpr const char* kOptimizerPrefix = "optimizer/";

[[noreturn]] void bad(const char* op, const std::string& where, const std::string& what) {
  throw Error(ErrorKind::Format, std::string(op) + ": " + where + ": " + what);
}

NamedTensors module_tensors(const Module& m) {
  NamedTensors all = m.named_parameters();
  for (auto& b : m.named_persistent_buffers()) all.push_back(b);
  return all;
}

// The module names of the optimizer's parameters, in the optimizer's order.
std::vector<std::string> optimizer_param_names(const Module& m, const optim::Optimizer& opt, const char* op) {
  std::map<const AutogradMeta*, std::string> by_meta;
  for (auto& [name, t] : m.named_parameters()) by_meta.emplace(t.autograd().get(), name);
  std::vector<std::string> names;
  for (size_t i = 0; i < opt.size(); ++i) {
    auto it = by_meta.find(opt.state(i).param.autograd().get());
    if (it == by_meta.end())
      throw_range(std::string(op) + ": optimizer parameter " + std::to_string(i) + " (shape " +
                  shape_str(opt.state(i).param.shape()) + ") is not a parameter of the " + m.type());
    names.push_back(it->second);
  }
  return names;
}

// `src` converted for `dst`: same shape, float <-> float allowed, otherwise the same dtype.
Tensor checked_source(const Tensor& src, const Tensor& dst, const std::string& name, const char* op, const std::string& where) {
  if (src.shape() != dst.shape())
    bad(op, where, "tensor '" + name + "' has shape " + shape_str(src.shape()) + " in the file, expected " + shape_str(dst.shape()));
  if (src.dtype() == dst.dtype()) return src;
  if (is_float(src.dtype()) && is_float(dst.dtype())) return src.to(dst.dtype());
  bad(op, where, "tensor '" + name + "' is " + dtype_name(src.dtype()) + " in the file, expected " + dtype_name(dst.dtype()));
}

}  // namespace

void save_checkpoint(const std::string& path, const Module& module, const optim::Optimizer* opt,
                     const io::Metadata& user_metadata, const char* op) {
  io::Metadata meta;
  for (const auto& [k, v] : user_metadata) {
    if (k.rfind("qkv.", 0) == 0) throw_type(std::string(op) + ": metadata key '" + k + "' is reserved (keys starting with 'qkv.')");
    meta[k] = v;
  }
  meta["qkv.format"] = kCheckpointFormat;
  meta["qkv.config"] = json::dump(module.config());
  json::Value rng = json::Value::object();
  for (const auto& [name, m] : module.named_modules())
    if (m->has_rng_state()) rng.set(name, json::Value::string(std::to_string(m->rng_state())));
  if (!rng.members().empty()) meta["qkv.rng"] = json::dump(rng);
  io::NamedTensors tensors;
  for (auto& [name, t] : module_tensors(module)) tensors.emplace_back(name, t);
  if (opt) {
    std::vector<std::string> names = optimizer_param_names(module, *opt, op);
    json::Value h = opt->hyperparameters();
    json::Value params = json::Value::array();
    const std::vector<std::string> state_names = opt->state_names();
    for (size_t i = 0; i < opt->size(); ++i) {
      const optim::ParamState& s = opt->state(i);
      json::Value p = json::Value::object();
      p.set("name", json::Value::string(names[i]));
      p.set("step", json::Value::integer(s.step));
      p.set("decay", json::Value::boolean(s.decay));
      params.push(std::move(p));
      if (s.buffers.size() == state_names.size())
        for (size_t k = 0; k < state_names.size(); ++k)
          tensors.emplace_back(kOptimizerPrefix + names[i] + "/" + state_names[k], s.buffers[k]);
    }
    h.set("params", std::move(params));
    meta["qkv.optimizer"] = json::dump(h);
  }
  io::write_safetensors(path, tensors, meta, op);
}

io::Metadata load_checkpoint(const io::Safetensors& file, const std::string& where, Module& module, optim::Optimizer* opt,
                             const char* op, bool strict) {
  std::map<std::string, const Tensor*> in_file;
  for (const auto& [name, t] : file.tensors) in_file.emplace(name, &t);
  std::set<std::string> used;

  // ---- check the module's tensors -------------------------------------------------------------
  NamedTensors targets;
  std::vector<Tensor> sources;
  for (auto& [name, t] : module_tensors(module)) {
    auto it = in_file.find(name);
    if (it == in_file.end()) {
      if (!strict) continue;  // kept as it is
      bad(op, where, "tensor '" + name + "' of the " + module.type() + " is missing from the file");
    }
    sources.push_back(checked_source(*it->second, t, name, op, where));
    targets.emplace_back(name, t);
    used.insert(name);
  }

  // ---- check the optimizer's state --------------------------------------------------------------
  json::Value h;
  std::vector<int64_t> steps;
  std::vector<std::vector<Tensor>> buffers;
  std::vector<bool> decay;
  if (opt) {
    auto m = file.metadata.find("qkv.optimizer");
    if (m == file.metadata.end()) bad(op, where, "the file holds no optimizer state");
    h = json::parse(m->second, where + ": qkv.optimizer");
    opt->check_hyperparameters(h, op);
    const json::Value* params = h.find("params");
    if (!params || !params->is_array()) bad(op, where, "optimizer state: params must be an array");
    std::map<std::string, std::pair<int64_t, bool>> saved;
    for (const json::Value& p : params->items()) {
      const json::Value *name = p.find("name"), *step = p.find("step"), *dec = p.find("decay");
      if (!name || !name->is_string() || !step || !step->is_int() || step->as_int() < 0 || !dec || !dec->is_bool())
        bad(op, where, "optimizer state: each params entry needs a name, a step >= 0 and a decay flag");
      if (!saved.emplace(name->as_string(), std::make_pair(step->as_int(), dec->as_bool())).second)
        bad(op, where, "optimizer state: parameter '" + name->as_string() + "' is listed twice");
    }
    std::vector<std::string> names = optimizer_param_names(module, *opt, op);
    if (saved.size() != names.size())
      bad(op, where, "optimizer state: saved for " + std::to_string(saved.size()) + " parameters, the optimizer has " +
                         std::to_string(names.size()));
    const std::vector<std::string> state_names = opt->state_names();
    for (size_t i = 0; i < names.size(); ++i) {
      auto s = saved.find(names[i]);
      if (s == saved.end()) bad(op, where, "optimizer state: nothing saved for parameter '" + names[i] + "'");
      steps.push_back(s->second.first);
      decay.push_back(s->second.second);
      std::vector<Tensor> bufs;
      for (const std::string& sn : state_names) {
        const std::string tname = kOptimizerPrefix + names[i] + "/" + sn;
        auto it = in_file.find(tname);
        if (it == in_file.end()) {
          if (s->second.first == 0) continue;  // never updated: no state yet
          bad(op, where, "tensor '" + tname + "' of the optimizer state is missing from the file");
        }
        bufs.push_back(checked_source(*it->second, opt->state(i).param, tname, op, where));
        used.insert(tname);
      }
      if (!bufs.empty() && bufs.size() != state_names.size())
        bad(op, where, "optimizer state of parameter '" + names[i] + "' is incomplete");
      buffers.push_back(std::move(bufs));
    }
  }

  // ---- random generators' positions (optional: files from elsewhere have none) ----------------
  std::vector<std::pair<ModulePtr, uint64_t>> rng_states;
  if (auto r = file.metadata.find("qkv.rng"); r != file.metadata.end()) {
    json::Value rng = json::parse(r->second, where + ": qkv.rng");
    if (!rng.is_object()) bad(op, where, "qkv.rng must be a JSON object");
    for (const auto& [name, m] : module.named_modules()) {
      if (!m->has_rng_state()) continue;
      const json::Value* v = rng.find(name);
      if (!v) continue;  // a module without a saved position keeps its own
      const std::string& s = v->is_string() ? v->as_string() : std::string();
      if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos)
        bad(op, where, "qkv.rng: the position of '" + name + "' must be a decimal string");
      rng_states.emplace_back(m, std::stoull(s));
    }
  }

  // ---- nothing else may be in the file --------------------------------------------------------
  for (const auto& [name, t] : file.tensors)
    if (!used.count(name)) {
      if (name.rfind(kOptimizerPrefix, 0) == 0 && !opt) continue;  // optimizer state not asked for
      if (!strict) continue;
      bad(op, where, "tensor '" + name + "' in the file is not part of the " + module.type() +
                         (name.rfind(kOptimizerPrefix, 0) == 0 ? "'s optimizer" : ""));
    }

  // ---- commit -----------------------------------------------------------------------------------
  NoGradGuard no_grad;
  for (size_t i = 0; i < targets.size(); ++i) targets[i].second.copy_from(sources[i], op);
  for (auto& [m, state] : rng_states) m->set_rng_state(state);
  if (opt) {
    opt->restore(h, steps, decay, buffers);
  }
  return file.metadata;
}

io::Metadata load_checkpoint(const std::string& path, Module& module, optim::Optimizer* opt, const char* op) {
  io::Safetensors file = io::read_safetensors(path, op);
  return load_checkpoint(file, path, module, opt, op);
}

ModulePtr load_module(const std::string& path, io::Metadata* metadata, const char* op) {
  return load_module(path, metadata, OptimizerFactory(), nullptr, op);
}

ModulePtr load_module(const std::string& path, io::Metadata* metadata, const OptimizerFactory& make_optimizer,
                      std::shared_ptr<optim::Optimizer>* optimizer, const char* op) {
  io::Safetensors file = io::read_safetensors(path, op);
  auto c = file.metadata.find("qkv.config");
  if (c == file.metadata.end()) bad(op, path, "no qkv.config in the metadata: the file does not say which module it holds");
  // Every tensor the model allocates must be in the file, so its size bounds the model: building
  // under that cap (with room for float32/float64 conversion, initialisation temporaries and
  // non-persistent tables) refuses a config that would need far more memory than the file holds.
  size_t file_bytes = 0;
  for (const auto& [name, t] : file.tensors) file_bytes += t.nbytes();
  ModulePtr m;
  std::shared_ptr<optim::Optimizer> opt;
  {
    AllocationCap cap(4 * file_bytes + (size_t(64) << 20),
                      std::string(op) + ": " + path + ": the config in qkv.config describes a model far larger than the " +
                          std::to_string(file_bytes) + " bytes of tensors in the file");
    m = module_from_config(json::parse(c->second, path + ": qkv.config"), op);
    if (make_optimizer && file.metadata.count("qkv.optimizer")) opt = make_optimizer(*m);
  }
  io::Metadata meta = load_checkpoint(file, path, *m, opt.get(), op);
  if (metadata) *metadata = std::move(meta);
  if (optimizer) *optimizer = std::move(opt);
  return m;
}

}  // namespace qkv::nn
