#pragma once
// The basic layers. Parameter names and layouts follow PyTorch (Linear.weight is [out, in]), so a
// PyTorch state_dict of the same architecture maps onto ours name for name.
#include <string>
#include <vector>

#include "core/random.h"
#include "cpu/kernels.h"
#include "nn/init.h"
#include "nn/module.h"

namespace qkv::nn {

struct LinearOptions {
  bool bias = true;
  DType dtype = DType::F32;
  Init init;            // of the weight; the bias follows PyTorch for Default and is zero otherwise
  uint64_t seed = 0;
};

// y = x W^T + b. x [..., in] -> [..., out]; weight [out, in], bias [out].
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, const LinearOptions& options = {});
  Tensor forward(const Tensor& x) override;
  // Output features [first, first + count) only: x W[first:first+count]^T + b[first:first+count].
  // Fused projections (attention's Q/K/V) use one call per part: each part's gradient then flows
  // back through a small weight slice rather than through a slice of the whole wide output.
  Tensor forward_features(const Tensor& x, int64_t first, int64_t count);
  json::Value config() const override;
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  Tensor weight, bias;  // bias undefined without one

 private:
  int64_t in_, out_;
};

struct EmbeddingOptions {
  DType dtype = DType::F32;
  Init init = {InitKind::Normal, 1.0};  // PyTorch's N(0, 1); transformers use std 0.02
  uint64_t seed = 0;
};

// ids int32 [...] -> [..., dim]; weight [num, dim]. The gradient reaches only the rows used.
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim, const EmbeddingOptions& options = {});
  Tensor forward(const Tensor& ids) override;
  json::Value config() const override;
  Tensor weight;

 private:
  int64_t num_, dim_;
};

struct LayerNormOptions {
  double eps = 1e-5;
  bool affine = true;  // weight (ones) and bias (zeros)
  DType dtype = DType::F32;
};

// Normalises over the last axis of size `dim`.
class LayerNorm : public Module {
 public:
  LayerNorm(int64_t dim, const LayerNormOptions& options = {});
  Tensor forward(const Tensor& x) override;
  json::Value config() const override;
  Tensor weight, bias;

 private:
  int64_t dim_;
  LayerNormOptions options_;
};

// Zeroes each element with probability p while training and scales the rest by 1/(1-p); the
// identity in eval mode. The masks come from a generator seeded at construction: the same seed and
// the same sequence of calls give the same masks.
class Dropout : public Module {
 public:
  explicit Dropout(double p, uint64_t seed = 0);
  Tensor forward(const Tensor& x) override;
  json::Value config() const override;
  double p() const { return p_; }
  bool has_rng_state() const override { return true; }
  uint64_t rng_state() const override { return calls_; }
  void set_rng_state(uint64_t calls) override { calls_ = calls; }

 private:
  double p_;
  uint64_t seed_;
  uint64_t calls_ = 0;  // masks drawn so far
};

enum class ActivationKind : uint8_t { Relu, Gelu, GeluTanh, Tanh, QuickGelu };
inline constexpr ActivationKind kActivationKinds[] = {ActivationKind::Relu, ActivationKind::Gelu, ActivationKind::GeluTanh,
                                                      ActivationKind::Tanh, ActivationKind::QuickGelu};
const char* activation_name(ActivationKind kind);  // "relu", "gelu", "geluTanh", "tanh", "quickGelu"
ActivationKind activation_from_name(const std::string& name, const char* op);
cpu::UnaryOp activation_op(ActivationKind kind);   // the elementwise op that computes it

// A parameter-free elementwise function as a module (type "ReLU", "GELU", "Tanh"), so that it
// takes its place (and index) in a Sequential as in PyTorch.
class Activation : public Module {
 public:
  explicit Activation(ActivationKind kind);
  Tensor forward(const Tensor& x) override;
  json::Value config() const override;
  ActivationKind kind() const { return kind_; }

 private:
  ActivationKind kind_;
};

// Children "0", "1", ... applied in order.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(const std::vector<ModulePtr>& modules);
  void append(ModulePtr m);
  size_t size() const { return named_children().size(); }
  const ModulePtr& at(size_t i) const { return named_children().at(i).second; }
  Tensor forward(const Tensor& x) override;
  json::Value config() const override;

 protected:
  explicit Sequential(std::string type) : Module(std::move(type)) {}
};

struct MLPOptions {
  ActivationKind activation = ActivationKind::Relu;
  bool layer_norm = false;  // a LayerNorm after each hidden Linear, before the activation
  double dropout = 0;       // a Dropout after each hidden activation when > 0
  bool bias = true;
  double eps = 1e-5;
  DType dtype = DType::F32;
  Init init;
  uint64_t seed = 0;
};

// Linear -> [LayerNorm] -> activation -> [Dropout] for each hidden size, then Linear to `out`,
// laid out as a Sequential: names match PyTorch's nn.Sequential of the same layers
// ("0.weight", "1.weight" for the LayerNorm, "3.weight" for the next Linear, ...).
class MLP : public Sequential {
 public:
  MLP(int64_t in, const std::vector<int64_t>& hidden, int64_t out, const MLPOptions& options = {});
  json::Value config() const override;

 private:
  int64_t in_, out_;
  std::vector<int64_t> hidden_;
  MLPOptions options_;
};

}  // namespace qkv::nn
