#include "nn/module.h"

#include <algorithm>

#include "core/error.h"

namespace qkv::nn {

Tensor Module::forward(const Tensor&) {
  throw Error(ErrorKind::Unsupported, type_ + ".forward: this module does not take a single input tensor");
}

void Module::check_name(const std::string& name, const char* what) const {
  if (name.empty() || name.find('.') != std::string::npos || name.find('/') != std::string::npos)
    throw_type(type_ + ": invalid " + what + " name '" + name + "' (non-empty, without '.' or '/')");
  auto taken = [&](const std::string& n) {
    for (const auto& p : params_)
      if (p.first == n) return true;
    for (const auto& b : buffers_)
      if (b.name == n) return true;
    for (const auto& c : children_)
      if (c.first == n) return true;
    return false;
  };
  if (taken(name)) throw_type(type_ + ": the name '" + name + "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor t, Decay decay) {
  check_name(name, "parameter");
  if (!t.defined()) throw_type(type_ + ": parameter '" + name + "' is undefined");
  if (!is_float(t.dtype())) throw_type(type_ + ": parameter '" + name + "' must be float32 or float64");
  if (!is_leaf(t) || !t.is_contiguous()) t = t.contiguous().detach();
  set_requires_grad(t, true);
  params_.emplace_back(name, t);
  decay_.push_back(decay == Decay::Auto ? t.dim() >= 2 : decay == Decay::Yes);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t, bool persistent) {
  check_name(name, "buffer");
  if (!t.defined()) throw_type(type_ + ": buffer '" + name + "' is undefined");
  t = t.contiguous().detach();
  buffers_.push_back({name, t, persistent});
  return t;
}

void Module::add_child(const std::string& name, ModulePtr m) {
  check_name(name, "child module");
  if (!m) throw_type(type_ + ": child module '" + name + "' is null");
  // A module cannot contain itself (a cycle would make every walk infinite).
  for (const auto& [n, sub] : m->named_modules())
    if (sub.get() == this) throw_type(type_ + ": adding '" + name + "' would make the module contain itself");
  children_.emplace_back(name, std::move(m));
}

void Module::collect_parameters(const std::string& prefix, NamedTensors& out, std::vector<bool>* decay,
                                std::vector<const AutogradMeta*>& seen) const {
  for (size_t i = 0; i < params_.size(); ++i) {
    const AutogradMeta* meta = params_[i].second.autograd().get();
    if (std::find(seen.begin(), seen.end(), meta) != seen.end()) continue;
    seen.push_back(meta);
    out.emplace_back(prefix + params_[i].first, params_[i].second);
    if (decay) decay->push_back(decay_[i]);
  }
  for (const auto& [name, child] : children_) child->collect_parameters(prefix + name + ".", out, decay, seen);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  std::vector<const AutogradMeta*> seen;
  collect_parameters("", out, nullptr, seen);
  return out;
}

std::vector<bool> Module::parameter_decay() const {
  NamedTensors names;
  std::vector<bool> out;
  std::vector<const AutogradMeta*> seen;
  collect_parameters("", names, &out, seen);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

void Module::collect_buffers(const std::string& prefix, NamedTensors& out, bool persistent_only) const {
  for (const auto& b : buffers_)
    if (b.persistent || !persistent_only) out.emplace_back(prefix + b.name, b.tensor);
  for (const auto& [name, child] : children_) child->collect_buffers(prefix + name + ".", out, persistent_only);
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect_buffers("", out, false);
  return out;
}

NamedTensors Module::named_persistent_buffers() const {
  NamedTensors out;
  collect_buffers("", out, true);
  return out;
}

NamedModules Module::named_modules() const {
  NamedModules out;
  // const_cast: shared_from_this on a const module gives a shared_ptr<const Module>; callers of
  // named_modules() get the same non-const access they have to the children.
  out.emplace_back("", std::const_pointer_cast<Module>(shared_from_this()));
  for (const auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

DType Module::dtype() const {
  if (!params_.empty()) return params_.front().second.dtype();
  for (const auto& [name, child] : children_)
    if (!child->named_parameters().empty()) return child->dtype();
  return DType::F32;
}

void Module::check_input_dtype(const Tensor& x, const char* op) const {
  if (!x.defined()) throw_type(std::string(op) + ": the input is undefined");
  DType want = dtype();
  if (x.dtype() != want)
    throw_type(std::string(op) + ": the input is " + dtype_name(x.dtype()) + ", the module's parameters are " + dtype_name(want));
}

void Module::train(bool on) {
  training_.store(on, std::memory_order_relaxed);
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) set_grad(t, Tensor());
}

const Module* Module::find_busy() const {
  if (busy()) return this;
  for (const auto& [name, child] : children_)
    if (const Module* b = child->find_busy()) return b;
  return nullptr;
}

void Module::mark_busy(int delta) {
  busy_.fetch_add(delta, std::memory_order_acq_rel);
  for (auto& [name, child] : children_) child->mark_busy(delta);
}

BusyGuard::BusyGuard(Module& m) : m_(m) {
  m_.mark_busy(1);
  auto add = [this](const Tensor& t) {
    if (t.defined() && t.storage()) storages_.push_back(t.storage());
  };
  for (const auto& [name, p] : m_.named_parameters()) {
    add(p);
    if (p.autograd()) add(p.autograd()->grad);
  }
  for (const auto& [name, b] : m_.named_buffers()) add(b);
  for (auto& s : storages_) s->busy.fetch_add(1, std::memory_order_acq_rel);
}

BusyGuard::~BusyGuard() {
  for (auto& s : storages_) s->busy.fetch_sub(1, std::memory_order_acq_rel);
  m_.mark_busy(-1);
}

uint64_t derive_seed(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace qkv::nn
