#pragma once
// Modules: the shape of PyTorch's C++ frontend. A module owns named parameters (leaf tensors that
// require gradients), named buffers (state that is saved but not trained) and named children, each
// in registration order. `named_parameters()` walks the tree depth-first in that order and gives
// dotted names ("0.weight", "fc1.bias", "blocks.3.attn.qkv.weight"), which are also the names of a
// checkpoint's tensors and the order in which an optimizer sees the parameters.
//
// A parameter registered in two places (weight tying) is listed once, under its first name.
//
// Single-input modules override `forward(const Tensor&)`; modules with richer signatures
// (attention with a mask, an encoder-decoder with two sequences, ...) add their own methods and may
// leave the single-input forward throwing. Every forward is built from the differentiable ops of
// qkv::ag, so the autograd records it.
//
// Concurrency: a module is used by one thread at a time. A long job (fit, predict) marks the whole
// tree busy through BusyGuard so that the binding can refuse a concurrent call with a clear error
// instead of racing.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.h"
#include "core/tensor.h"
#include "io/json.h"

namespace qkv::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
class Module;
using ModulePtr = std::shared_ptr<Module>;
using NamedModules = std::vector<std::pair<std::string, ModulePtr>>;

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type) : type_(std::move(type)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // "Linear", "MLP", ...: the name used in configs and messages.
  const std::string& type() const { return type_; }

  // The single-input forward pass. The default throws Unsupported naming the module type.
  virtual Tensor forward(const Tensor& x);

  // The hyperparameters needed to rebuild the module (nn/factory.h), as a JSON object with "type".
  virtual json::Value config() const = 0;

  // ---- the tree ---------------------------------------------------------------------------------
  NamedTensors named_parameters() const;  // recursive, dotted names, registration order, deduplicated
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;     // recursive; only persistent buffers are saved
  NamedTensors named_persistent_buffers() const;
  const NamedModules& named_children() const { return children_; }
  NamedModules named_modules() const;     // recursive, this module first under ""
  int64_t parameter_count() const;        // elements over all (deduplicated) parameters
  // Whether weight decay applies, per parameter in named_parameters() order (as each module
  // declared it when registering; by default matrices decay, vectors do not).
  std::vector<bool> parameter_decay() const;
  DType dtype() const;                    // the dtype of the first parameter (float32 when none)

  // ---- random state ------------------------------------------------------------------------------
  // Modules that draw random numbers while training (Dropout) expose the position of their
  // generator, so that a checkpoint can resume the same stream ("qkv.rng" in its metadata).
  virtual bool has_rng_state() const { return false; }
  virtual uint64_t rng_state() const { return 0; }
  virtual void set_rng_state(uint64_t) {}

  // ---- modes and gradients ----------------------------------------------------------------------
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_.load(std::memory_order_relaxed); }
  void zero_grad();            // clears (undefines) the gradient of every parameter

  // ---- busy marking -----------------------------------------------------------------------------
  bool busy() const { return busy_.load(std::memory_order_acquire) > 0; }
  // The first busy module of the tree (this one included), or null.
  const Module* find_busy() const;

 protected:
  // Registration (in a subclass constructor). Names are non-empty and hold no '.' or '/'.
  // A parameter becomes a leaf that requires gradients; the returned tensor shares its storage and
  // autograd state with the registered one. `decay`: whether weight decay applies (Auto: for
  // tensors of two or more dimensions; lookup tables such as embeddings declare No).
  enum class Decay : uint8_t { Auto, Yes, No };
  Tensor register_parameter(const std::string& name, Tensor t, Decay decay = Decay::Auto);
  Tensor register_buffer(const std::string& name, Tensor t, bool persistent = true);
  template <class M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  // Throws a RangeError naming `op` unless x is a float tensor of this module's dtype.
  void check_input_dtype(const Tensor& x, const char* op) const;

 private:
  friend class BusyGuard;
  void add_child(const std::string& name, ModulePtr m);
  void check_name(const std::string& name, const char* what) const;
  void collect_parameters(const std::string& prefix, NamedTensors& out, std::vector<bool>* decay,
                          std::vector<const AutogradMeta*>& seen) const;
  void collect_buffers(const std::string& prefix, NamedTensors& out, bool persistent_only) const;
  void mark_busy(int delta);

  std::string type_;
  NamedTensors params_;
  std::vector<bool> decay_;  // per params_ entry
  struct Buffer {
    std::string name;
    Tensor tensor;
    bool persistent;
  };
  std::vector<Buffer> buffers_;
  NamedModules children_;
  std::atomic<bool> training_{true};
  std::atomic<int> busy_{0};
};

// Marks a module tree busy for its lifetime, and with it the storage of every parameter, gradient
// and buffer the tree holds now, so that JavaScript handles to those tensors are refused too.
class BusyGuard {
 public:
  explicit BusyGuard(Module& m);
  ~BusyGuard();
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

 private:
  Module& m_;
  std::vector<std::shared_ptr<Storage>> storages_;
};

// Sets a module tree's training mode for its lifetime, then restores the previous one.
class ModeGuard {
 public:
  ModeGuard(Module& m, bool training) : m_(m), prev_(m.is_training()) { m_.train(training); }
  ~ModeGuard() { m_.train(prev_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  Module& m_;
  bool prev_;
};

// Clears a module tree's gradients when it goes out of scope (a training loop ending, normally or not).
class GradCleaner {
 public:
  explicit GradCleaner(Module& m) : m_(m) {}
  ~GradCleaner() { m_.zero_grad(); }
  GradCleaner(const GradCleaner&) = delete;
  GradCleaner& operator=(const GradCleaner&) = delete;

 private:
  Module& m_;
};

// A seed derived from `seed` and an index (splitmix64), for the parts of a composite module.
uint64_t derive_seed(uint64_t seed, uint64_t index);

}  // namespace qkv::nn
