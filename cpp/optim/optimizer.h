#pragma once
// Optimizers over a list of parameters (leaf tensors that require gradients), updated in place from
// their accumulated gradients. The update rules follow PyTorch 1.13's single-tensor implementations
// operation for operation (test/parity.test.ts checks AdamW against it), so that a recipe carries
// over unchanged:
//   SGD   d = g + wd p; b = d (first step) or mu b + (1 - dampening) d; d = nesterov ? d + mu b : b;
//         p -= lr d
//   Adam  g += wd p (L2); m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
//         p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//   AdamW p *= 1 - lr wd (decoupled; only the parameters marked for decay), then Adam without L2.
// t counts the steps of each parameter (a parameter without a gradient is skipped, as in PyTorch).
// The learning rate of a step comes from the schedule at the optimizer's step count.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/json.h"
#include "optim/schedule.h"

namespace qkv::optim {

struct ParamState {
  Tensor param;
  bool decay = true;            // weight decay applies to this parameter
  int64_t step = 0;             // updates applied to it
  std::vector<Tensor> buffers;  // per state_names(), allocated at its first update
};

class Optimizer {
 public:
  // `decay[i]` says whether weight decay applies to params[i] (empty: all).
  Optimizer(std::string type, const std::vector<Tensor>& params, const std::vector<bool>& decay, double lr, double weight_decay);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  const std::string& type() const { return type_; }
  // One update of every parameter that has a gradient, at current_lr(); then step_count() + 1.
  // Returns the learning rate used.
  double step();
  void zero_grad();  // clears (undefines) the gradients of the parameters

  double lr() const { return lr_; }  // the base learning rate
  void set_lr(double lr);
  double weight_decay() const { return weight_decay_; }
  double current_lr() const { return schedule_.lr_at(lr_, step_count_); }
  int64_t step_count() const { return step_count_; }
  const Schedule& schedule() const { return schedule_; }
  void set_schedule(const Schedule& s) { schedule_ = s; }

  size_t size() const { return state_.size(); }
  const ParamState& state(size_t i) const { return state_.at(i); }
  std::vector<Tensor> params() const;

  // ---- state for checkpoints ------------------------------------------------------------------
  // Names of each parameter's state tensors ("exp_avg", "exp_avg_sq"; "momentum_buffer").
  virtual std::vector<std::string> state_names() const = 0;
  // {"type", "lr", "weight_decay", "step", "schedule", ...hyperparameters}.
  json::Value hyperparameters() const;
  // Checks `h` (type and fields), Error(Format) naming `op` otherwise; applies nothing.
  void check_hyperparameters(const json::Value& h, const char* op) const;
  // Applies checked hyperparameters, and per parameter the step count, the decay flag and the
  // buffers (per state_names(), or none for a parameter that was never updated).
  void restore(const json::Value& h, const std::vector<int64_t>& steps, const std::vector<bool>& decay,
               const std::vector<std::vector<Tensor>>& buffers);
  // Checks `h` as above and applies its lr, weight decay and the optimizer's own fields only (not
  // the step counts, the schedule or the buffers): editing PyTorch's param_groups after
  // load_state_dict, so that a continued run can change them.
  void set_hyperparameters(const json::Value& h, const char* op);

  // Busy while a job (fit) uses it on a worker thread: the binding refuses sync calls meanwhile.
  std::atomic<int> busy{0};

 protected:
  virtual void update(ParamState& s, const Tensor& grad, double lr) = 0;
  virtual void write_hyperparameters(json::Value& h) const = 0;
  virtual void read_hyperparameters(const json::Value& h) = 0;
  virtual void check_own_hyperparameters(const json::Value& h, const char* op) const = 0;
  void ensure_buffers(ParamState& s) const;

  double lr_, weight_decay_;

 private:
  void apply_hyperparameters(const json::Value& h);  // checked h: lr, weight decay, the optimizer's own
  std::string type_;
  std::vector<ParamState> state_;
  Schedule schedule_;
  int64_t step_count_ = 0;
};

struct SGDOptions {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(const std::vector<Tensor>& params, const SGDOptions& o, const std::vector<bool>& decay = {});
  std::vector<std::string> state_names() const override;

 protected:
  void update(ParamState& s, const Tensor& grad, double lr) override;
  void write_hyperparameters(json::Value& h) const override;
  void read_hyperparameters(const json::Value& h) override;
  void check_own_hyperparameters(const json::Value& h, const char* op) const override;

 private:
  double momentum_, dampening_;
  bool nesterov_;
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;  // AdamW
};

class Adam : public Optimizer {
 public:
  Adam(const std::vector<Tensor>& params, const AdamOptions& o, const std::vector<bool>& decay = {});
  std::vector<std::string> state_names() const override;

 protected:
  void update(ParamState& s, const Tensor& grad, double lr) override;
  void write_hyperparameters(json::Value& h) const override;
  void read_hyperparameters(const json::Value& h) override;
  void check_own_hyperparameters(const json::Value& h, const char* op) const override;

 private:
  double beta1_, beta2_, eps_;
  bool decoupled_;
};

// Adam with decoupled weight decay (default 0.01, as PyTorch's AdamW).
inline std::shared_ptr<Adam> make_adamw(const std::vector<Tensor>& params, AdamOptions o, const std::vector<bool>& decay = {}) {
  o.decoupled = true;
  return std::make_shared<Adam>(params, o, decay);
}

// ---- gradient clipping ----------------------------------------------------------------------------
// The L2 norm of all the gradients together (parameters without one count as zero), summed in
// double in a fixed order.
double grad_norm(const std::vector<Tensor>& params);
// Scales the gradients by max_norm / (norm + 1e-6) when the norm exceeds max_norm (PyTorch's
// clip_grad_norm_); returns the norm before clipping. A non-finite norm leaves them unchanged.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace qkv::optim
