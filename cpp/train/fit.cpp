#include "train/fit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

#include "autograd/functions.h"
#include "core/error.h"

namespace qkv::train {

namespace {

using nn::ModeGuard;

// Sum of the loss and of correct predictions over a batch's targets, and how many targets counted.
struct BatchStats {
  double loss_sum = 0, correct = 0;
  int64_t count = 0;
};

BatchStats batch_stats(const Tensor& out, const Tensor& y, const LossOptions& lo) {
  BatchStats s;
  const double loss = compute_loss(out, y, lo, "evaluate").item();
  if (lo.kind == LossKind::MSE) {
    s.count = y.size(0);
    s.loss_sum = loss * static_cast<double>(s.count);
    return s;
  }
  const int64_t C = out.size(-1), M = C ? out.numel() / C : 0;
  count_correct(out.reshape({M, C}), y.reshape({M}), lo.ignore_index, s.correct, s.count);
  s.loss_sum = s.count ? loss * static_cast<double>(s.count) : 0.0;
  return s;
}

void check_positive(int64_t v, const char* op, const char* what) {
  if (v < 1) throw_range(std::string(op) + ": " + what + " must be a positive integer, got " + std::to_string(v));
}

// The supervised objective: the loss of the model's output on a batch of rows, weighted by rows.
class SupervisedObjective : public Objective {
 public:
  SupervisedObjective(nn::Module& model, const Dataset& train, const Dataset* validation, const FitOptions& o, const AbortFn& aborted)
      : model_(model), X_(train.inputs.contiguous()), Y_(train.targets.contiguous()), val_(validation), o_(o), aborted_(aborted) {}
  BatchLoss loss(const Rows& rows, int64_t) override {
    return {compute_loss(model_.forward(ops::index_select(X_, rows)), ops::index_select(Y_, rows), o_.loss, "fit"), 0};
  }
  bool has_validation() const override { return val_ != nullptr; }
  EvalResult validate() override {
    const int64_t eval_batch = o_.eval_batch_size > 0 ? o_.eval_batch_size : std::max<int64_t>(o_.batch_size, 256);
    return evaluate(model_, *val_, o_.loss, eval_batch, aborted_);
  }

 private:
  nn::Module& model_;
  Tensor X_, Y_;
  const Dataset* val_;
  const FitOptions& o_;
  const AbortFn& aborted_;
};

}  // namespace

Tensor compute_loss(const Tensor& output, const Tensor& targets, const LossOptions& o, const char* op) {
  if (!output.defined() || !targets.defined()) throw_type(std::string(op) + ": output and targets must be tensors");
  if (!is_float(output.dtype())) throw_type(std::string(op) + ": the model's output must be a float tensor");
  if (o.kind == LossKind::CrossEntropy) {
    if (targets.dtype() != DType::I32)
      throw_type(std::string(op) + ": cross-entropy targets must be int32 class ids, got " + dtype_name(targets.dtype()));
    Shape lead(output.shape().begin(), output.shape().end() - (output.dim() ? 1 : 0));
    if (output.dim() < 2 || lead != targets.shape())
      throw_range(std::string(op) + ": cross-entropy needs an output [..., C] and targets of its leading shape; got output " +
                  shape_str(output.shape()) + " and targets " + shape_str(targets.shape()));
    const int64_t C = output.size(-1), M = output.numel() / std::max<int64_t>(C, 1);
    Tensor logits = output.dim() == 2 ? output : ag::reshape(output, {M, C});
    Tensor t = targets.dim() == 1 ? targets : targets.reshape({M});
    return ag::cross_entropy(logits, t, o.ignore_index, o.label_smoothing);
  }
  if (targets.dtype() != output.dtype())
    throw_type(std::string(op) + ": MSE targets must have the output's dtype (" + dtype_name(output.dtype()) + "), got " +
               dtype_name(targets.dtype()));
  if (targets.shape() != output.shape())
    throw_range(std::string(op) + ": MSE targets must have the output's shape " + shape_str(output.shape()) + ", got " +
                shape_str(targets.shape()));
  Tensor d = ag::sub(output, targets);
  return ag::mean(ag::mul(d, d), {}, false);
}

void check_dataset(const Dataset& d, const char* op, const char* which) {
  if (!d.inputs.defined() || !d.targets.defined()) throw_type(std::string(op) + ": " + which + " needs inputs and targets");
  if (d.inputs.dim() < 1 || d.targets.dim() < 1 || d.inputs.size(0) != d.targets.size(0))
    throw_range(std::string(op) + ": " + which + " inputs " + shape_str(d.inputs.shape()) + " and targets " +
                shape_str(d.targets.shape()) + " must have the same first dimension");
  if (d.inputs.size(0) == 0) throw_range(std::string(op) + ": " + which + " is empty");
}

Result fit(nn::Module& model, optim::Optimizer& opt, const Dataset& train, const Dataset* validation, const FitOptions& o,
           const ProgressFn& on_progress, const AbortFn& aborted) {
  const char* op = "fit";
  check_positive(o.batch_size, op, "batchSize");
  check_dataset(train, op, "the dataset");
  if (validation) check_dataset(*validation, op, "the validation set");
  const std::vector<Tensor> params = opt.params();
  {
    std::vector<const AutogradMeta*> own;
    for (const auto& [name, t] : model.named_parameters()) own.push_back(t.autograd().get());
    for (size_t i = 0; i < params.size(); ++i)
      if (std::find(own.begin(), own.end(), params[i].autograd().get()) == own.end())
        throw_range("fit: optimizer parameter " + std::to_string(i) + " (shape " + shape_str(params[i].shape()) +
                    ") is not a parameter of the " + model.type());
  }
  ShuffledBatches data(train.size(), o.batch_size, o.shuffle);
  SupervisedObjective objective(model, train, validation, o, aborted);
  const RunPlan p = plan(data, o.loop, opt, op);
  return run(model, opt, data, objective, o.loop, p, op, on_progress, aborted);
}

EvalResult evaluate(nn::Module& model, const Dataset& data, const LossOptions& loss, int64_t batch_size, const AbortFn& aborted) {
  check_positive(batch_size, "evaluate", "batchSize");
  check_dataset(data, "evaluate", "the dataset");
  NoGradGuard no_grad;
  ModeGuard mode(model, false);
  const Tensor X = data.inputs.contiguous(), Y = data.targets.contiguous();
  const int64_t N = X.size(0);
  double loss_sum = 0, correct = 0;
  int64_t count = 0;
  for (int64_t a = 0; a < N; a += batch_size) {
    check_abort(aborted, "evaluate");
    const int64_t b = std::min(N, a + batch_size);
    BatchStats s = batch_stats(model.forward(X.slice(0, a, b)), Y.slice(0, a, b), loss);
    loss_sum += s.loss_sum;
    correct += s.correct;
    count += s.count;
  }
  EvalResult r;
  r.count = count;
  r.loss = count ? loss_sum / static_cast<double>(count) : std::numeric_limits<double>::quiet_NaN();
  if (loss.kind == LossKind::CrossEntropy && count) r.accuracy = correct / static_cast<double>(count);
  return r;
}

Tensor predict(nn::Module& model, const Tensor& inputs, int64_t batch_size, const AbortFn& aborted) {
  check_positive(batch_size, "predict", "batchSize");
  if (!inputs.defined() || inputs.dim() < 1) throw_range("predict: inputs must have a batch dimension");
  NoGradGuard no_grad;
  ModeGuard mode(model, false);
  const int64_t N = inputs.size(0);
  if (N == 0) throw_range("predict: no inputs");
  std::vector<Tensor> parts;
  for (int64_t a = 0; a < N; a += batch_size) {
    check_abort(aborted, "predict");
    parts.push_back(model.forward(inputs.slice(0, a, std::min(N, a + batch_size))));
  }
  if (parts.size() > 1) return ops::concat(parts, 0);
  // A single batch may come back as (a view of) the input itself, e.g. through an identity layer.
  return parts[0].storage() == inputs.storage() ? parts[0].clone() : parts[0].contiguous();
}

}  // namespace qkv::train
