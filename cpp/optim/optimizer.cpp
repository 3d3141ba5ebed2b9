#include "optim/optimizer.h"

#include <cmath>

#include "autograd/autograd.h"
#include "core/error.h"
#include "ops/ops.h"

namespace qkv::optim {

namespace {

void check_finite_nonneg(double v, const std::string& what) {
  if (!std::isfinite(v) || v < 0) throw_range(what + " must be a finite number >= 0, got " + std::to_string(v));
}

const json::Value* field(const json::Value& h, const char* key) { return h.find(key); }

double number_field(const json::Value& h, const char* key, const char* op, const std::string& type) {
  const json::Value* x = h.find(key);
  if (!x || !x->is_number()) throw Error(ErrorKind::Format, std::string(op) + ": optimizer state: " + type + "." + key + " must be a number");
  return x->as_double();
}

}  // namespace

Optimizer::Optimizer(std::string type, const std::vector<Tensor>& params, const std::vector<bool>& decay, double lr,
                     double weight_decay)
    : lr_(lr), weight_decay_(weight_decay), type_(std::move(type)) {
  const std::string op = type_;
  if (params.empty()) throw_range(op + ": no parameters to optimize");
  if (!decay.empty() && decay.size() != params.size())
    throw_range(op + ": the decay mask has " + std::to_string(decay.size()) + " entries for " + std::to_string(params.size()) + " parameters");
  check_finite_nonneg(lr, op + ": lr");
  check_finite_nonneg(weight_decay, op + ": weightDecay");
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    if (!p.defined() || !p.requires_grad() || !is_leaf(p))
      throw_type(op + ": parameter " + std::to_string(i) + " is not a leaf tensor that requires gradients");
    if (!p.is_contiguous()) throw_type(op + ": parameter " + std::to_string(i) + " is not contiguous");
    for (size_t j = 0; j < i; ++j)
      if (state_[j].param.autograd() == p.autograd())
        throw_type(op + ": parameter " + std::to_string(i) + " is the same tensor as parameter " + std::to_string(j));
    ParamState s;
    s.param = p;
    s.decay = decay.empty() ? true : static_cast<bool>(decay[i]);
    state_.push_back(std::move(s));
  }
}

void Optimizer::set_lr(double lr) {
  check_finite_nonneg(lr, type_ + ": lr");
  lr_ = lr;
}

std::vector<Tensor> Optimizer::params() const {
  std::vector<Tensor> out;
  for (const ParamState& s : state_) out.push_back(s.param);
  return out;
}

double Optimizer::step() {
  const double lr = current_lr();
  NoGradGuard no_grad;
  for (ParamState& s : state_) {
    Tensor g = grad_of(s.param);
    if (!g.defined()) continue;
    if (g.shape() != s.param.shape() || g.dtype() != s.param.dtype())
      throw Error(ErrorKind::Internal, type_ + ".step: a gradient does not match its parameter");
    ensure_buffers(s);
    ++s.step;
    update(s, g.contiguous(), lr);
  }
  ++step_count_;
  return lr;
}

void Optimizer::zero_grad() {
  for (ParamState& s : state_) set_grad(s.param, Tensor());
}

void Optimizer::ensure_buffers(ParamState& s) const {
  const size_t n = state_names().size();
  if (s.buffers.size() == n) return;
  s.buffers.clear();
  for (size_t i = 0; i < n; ++i) s.buffers.push_back(Tensor::zeros(s.param.shape(), s.param.dtype()));
}

json::Value Optimizer::hyperparameters() const {
  json::Value h = json::Value::object();
  h.set("type", json::Value::string(type_));
  h.set("lr", json::Value::number(lr_));
  h.set("weightDecay", json::Value::number(weight_decay_));
  h.set("step", json::Value::integer(step_count_));
  h.set("schedule", schedule_.to_json());
  write_hyperparameters(h);
  return h;
}

void Optimizer::check_hyperparameters(const json::Value& h, const char* op) const {
  auto bad = [&](const std::string& what) { throw Error(ErrorKind::Format, std::string(op) + ": optimizer state: " + what); };
  if (!h.is_object()) bad("must be a JSON object");
  const json::Value* type = field(h, "type");
  if (!type || !type->is_string()) bad("missing type");
  if (type->as_string() != type_) bad("saved by " + type->as_string() + ", loaded into " + type_);
  for (const char* key : {"lr", "weightDecay"}) {
    double v = number_field(h, key, op, type_);
    if (!std::isfinite(v) || v < 0) bad(type_ + "." + key + " must be >= 0");
  }
  const json::Value* step = field(h, "step");
  if (!step || !step->is_int() || step->as_int() < 0) bad("step must be a non-negative integer");
  const json::Value* sched = field(h, "schedule");
  if (!sched) bad("missing schedule");
  Schedule::from_json(*sched, op);
  check_own_hyperparameters(h, op);
}

void Optimizer::restore(const json::Value& h, const std::vector<int64_t>& steps, const std::vector<bool>& decay,
                        const std::vector<std::vector<Tensor>>& buffers) {
  apply_hyperparameters(h);
  step_count_ = h.find("step")->as_int();
  schedule_ = Schedule::from_json(*h.find("schedule"), "restore");
  for (size_t i = 0; i < state_.size(); ++i) {
    state_[i].step = steps.at(i);
    state_[i].decay = decay.at(i);
    state_[i].buffers.clear();
    for (const Tensor& b : buffers.at(i)) state_[i].buffers.push_back(b.contiguous().clone());
  }
}

void Optimizer::set_hyperparameters(const json::Value& h, const char* op) {
  check_hyperparameters(h, op);
  apply_hyperparameters(h);
}

void Optimizer::apply_hyperparameters(const json::Value& h) {
  lr_ = h.find("lr")->as_double();
  weight_decay_ = h.find("weightDecay")->as_double();
  read_hyperparameters(h);
}

// ---- SGD ----------------------------------------------------------------------------------------

SGD::SGD(const std::vector<Tensor>& params, const SGDOptions& o, const std::vector<bool>& decay)
    : Optimizer("SGD", params, decay, o.lr, o.weight_decay), momentum_(o.momentum), dampening_(o.dampening), nesterov_(o.nesterov) {
  check_finite_nonneg(o.momentum, "SGD: momentum");
  check_finite_nonneg(o.dampening, "SGD: dampening");
  if (nesterov_ && (momentum_ <= 0 || dampening_ != 0)) throw_range("SGD: Nesterov momentum needs momentum > 0 and dampening 0");
}

std::vector<std::string> SGD::state_names() const {
  if (momentum_ == 0) return {};
  return {"momentum_buffer"};
}

void SGD::update(ParamState& s, const Tensor& grad, double lr) {
  const ops::SgdStep a{lr, s.decay ? weight_decay_ : 0.0, momentum_, 1 - dampening_, nesterov_, s.step == 1};
  ops::sgd_step(s.param, grad, momentum_ != 0 ? &s.buffers[0] : nullptr, a);
}

void SGD::write_hyperparameters(json::Value& h) const {
  h.set("momentum", json::Value::number(momentum_));
  h.set("dampening", json::Value::number(dampening_));
  h.set("nesterov", json::Value::boolean(nesterov_));
}

void SGD::check_own_hyperparameters(const json::Value& h, const char* op) const {
  double mu = number_field(h, "momentum", op, "SGD");
  number_field(h, "dampening", op, "SGD");
  const json::Value* n = h.find("nesterov");
  if (!n || !n->is_bool()) throw Error(ErrorKind::Format, std::string(op) + ": optimizer state: SGD.nesterov must be a boolean");
  // The state tensors saved depend on whether momentum is on: it cannot change across a load.
  if ((mu == 0) != (momentum_ == 0))
    throw Error(ErrorKind::Format, std::string(op) + ": optimizer state: saved with momentum " + std::to_string(mu) +
                                       ", the optimizer has momentum " + std::to_string(momentum_));
}

void SGD::read_hyperparameters(const json::Value& h) {
  momentum_ = h.find("momentum")->as_double();
  dampening_ = h.find("dampening")->as_double();
  nesterov_ = h.find("nesterov")->as_bool();
}

// ---- Adam / AdamW -------------------------------------------------------------------------------

Adam::Adam(const std::vector<Tensor>& params, const AdamOptions& o, const std::vector<bool>& decay)
    : Optimizer(o.decoupled ? "AdamW" : "Adam", params, decay, o.lr, o.weight_decay),
      beta1_(o.beta1), beta2_(o.beta2), eps_(o.eps), decoupled_(o.decoupled) {
  const char* op = o.decoupled ? "AdamW" : "Adam";
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1))
    throw_range(std::string(op) + ": betas must be in [0, 1), got [" + std::to_string(o.beta1) + ", " + std::to_string(o.beta2) + "]");
  check_finite_nonneg(o.eps, std::string(op) + ": eps");
}

std::vector<std::string> Adam::state_names() const { return {"exp_avg", "exp_avg_sq"}; }

void Adam::update(ParamState& s, const Tensor& grad, double lr) {
  const double wd = s.decay ? weight_decay_ : 0.0;
  const double t = static_cast<double>(s.step);
  const double bc1 = 1 - std::pow(beta1_, t), bc2 = 1 - std::pow(beta2_, t);
  const ops::AdamStep a{beta1_, beta2_, eps_, std::sqrt(bc2), lr / bc1, decoupled_ ? 1 - lr * wd : 1.0, decoupled_ ? 0.0 : wd};
  ops::adam_step(s.param, grad, s.buffers[0], s.buffers[1], a);
}

void Adam::write_hyperparameters(json::Value& h) const {
  json::Value betas = json::Value::array();
  betas.push(json::Value::number(beta1_));
  betas.push(json::Value::number(beta2_));
  h.set("betas", std::move(betas));
  h.set("eps", json::Value::number(eps_));
}

void Adam::check_own_hyperparameters(const json::Value& h, const char* op) const {
  const json::Value* b = h.find("betas");
  if (!b || !b->is_array() || b->items().size() != 2 || !b->items()[0].is_number() || !b->items()[1].is_number())
    throw Error(ErrorKind::Format, std::string(op) + ": optimizer state: " + type() + ".betas must be two numbers");
  for (const json::Value& x : b->items())
    if (!(x.as_double() >= 0 && x.as_double() < 1))
      throw Error(ErrorKind::Format, std::string(op) + ": optimizer state: " + type() + ".betas must be in [0, 1)");
  double eps = number_field(h, "eps", op, type());
  if (!(eps >= 0)) throw Error(ErrorKind::Format, std::string(op) + ": optimizer state: " + type() + ".eps must be >= 0");
}

void Adam::read_hyperparameters(const json::Value& h) {
  beta1_ = h.find("betas")->items()[0].as_double();
  beta2_ = h.find("betas")->items()[1].as_double();
  eps_ = h.find("eps")->as_double();
}

// ---- clipping -----------------------------------------------------------------------------------

double grad_norm(const std::vector<Tensor>& params) {
  double total = 0;
  for (const Tensor& p : params) {  // in a fixed order: the same result for any thread count
    const Tensor g = grad_of(p);
    if (g.defined()) total += ops::sum_squares(g);
  }
  return std::sqrt(total);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  if (!(max_norm > 0) || !std::isfinite(max_norm)) throw_range("clipGradNorm: maxNorm must be a positive number");
  const double norm = grad_norm(params);
  const double coef = max_norm / (norm + 1e-6);
  if (!std::isfinite(norm) || coef >= 1) return norm;
  for (const Tensor& p : params) {
    Tensor g = grad_of(p);
    if (!g.defined()) continue;
    if (!g.is_contiguous()) {
      g = g.clone();
      Tensor pp = p;
      set_grad(pp, g);
    }
    ops::scale_inplace(g, coef);
  }
  return norm;
}

}  // namespace qkv::optim
