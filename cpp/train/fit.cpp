#include "train/fit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

#include "autograd/functions.h"
#include "core/error.h"
#include "core/random.h"
#include "core/thread_pool.h"
#include "train/loop_support.h"

namespace qkv::train {

namespace {

using nn::GradCleaner;
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
  std::vector<int32_t> pp(static_cast<size_t>(M)), pt(static_cast<size_t>(M));
  ops::argmax(out.reshape({M, C}), -1, false).to_host(pp.data());
  y.to_host(pt.data());
  for (int64_t i = 0; i < M; ++i) {
    if (pt[i] == lo.ignore_index) continue;
    ++s.count;
    s.correct += pp[i] == pt[i];
  }
  s.loss_sum = s.count ? loss * static_cast<double>(s.count) : 0.0;
  return s;
}

void check_positive(int64_t v, const char* op, const char* what) {
  if (v < 1) throw_range(std::string(op) + ": " + what + " must be a positive integer, got " + std::to_string(v));
}

}  // namespace

const char* loss_name(LossKind k) { return k == LossKind::MSE ? "mse" : "crossEntropy"; }

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

Tensor gather_rows(const Tensor& src, const std::vector<int64_t>& idx, int64_t lo, int64_t hi) {
  return ops::index_select(src, std::vector<int64_t>(idx.begin() + lo, idx.begin() + hi));
}

FitResult fit(nn::Module& model, optim::Optimizer& opt, const Dataset& train, const Dataset* validation, const FitOptions& o,
              const std::function<void(const FitProgress&)>& on_progress, const std::function<bool()>& aborted) {
  const char* op = "fit";
  check_positive(o.epochs, op, "epochs");
  check_positive(o.batch_size, op, "batchSize");
  check_positive(o.accumulate, op, "accumulate");
  if (!(o.clip_norm >= 0) || !std::isfinite(o.clip_norm)) throw_range("fit: clipNorm must be a finite number >= 0");
  check_dataset(train, op, "the dataset");
  if (validation) check_dataset(*validation, op, "the validation set");

  const Tensor X = train.inputs.contiguous(), Y = train.targets.contiguous();
  const int64_t N = X.size(0), B = o.batch_size, K = o.accumulate;
  const int64_t micro_per_epoch = (N + B - 1) / B, steps_per_epoch = (micro_per_epoch + K - 1) / K;
  const int64_t eval_batch = o.eval_batch_size > 0 ? o.eval_batch_size : std::max<int64_t>(B, 256);
  const std::vector<Tensor> params = opt.params();
  {
    std::vector<const AutogradMeta*> own;
    for (const auto& [name, t] : model.named_parameters()) own.push_back(t.autograd().get());
    for (size_t i = 0; i < params.size(); ++i)
      if (std::find(own.begin(), own.end(), params[i].autograd().get()) == own.end())
        throw_range("fit: optimizer parameter " + std::to_string(i) + " (shape " + shape_str(params[i].shape()) +
                    ") is not a parameter of the " + model.type());
  }

  FitResult result;
  ModeGuard mode(model, true);
  GradCleaner cleaner(model);
  model.zero_grad();
  Rng rng(o.seed);
  std::vector<int64_t> perm(static_cast<size_t>(N));
  std::iota(perm.begin(), perm.end(), 0);
  const auto t0 = Clock::now();
  FitProgress p;
  p.total_steps = steps_per_epoch * o.epochs;

  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto te = Clock::now();
    if (o.shuffle)
      for (int64_t i = N - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(static_cast<uint32_t>(i + 1))]);
    double epoch_loss = 0;
    int64_t epoch_samples = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      const int64_t m0 = s * K, m1 = std::min(micro_per_epoch, m0 + K);
      const int64_t group = std::min(N, m1 * B) - m0 * B;
      const int64_t step = result.steps + 1;
      double step_loss = 0;
      for (int64_t mb = m0; mb < m1; ++mb) {
        if (aborted && aborted())
          throw Error(ErrorKind::Aborted, "fit: aborted before step " + std::to_string(step) + " (epoch " + std::to_string(epoch) + ")");
        const int64_t a = mb * B, b = std::min(N, a + B);
        Tensor x = gather_rows(X, perm, a, b), y = gather_rows(Y, perm, a, b);
        Tensor loss = compute_loss(model.forward(x), y, o.loss, op);
        const double lv = loss.item();
        if (!std::isfinite(lv))
          throw Error(ErrorKind::NaN, "fit: the loss is " + num_str(lv) + " at step " + std::to_string(step) + " (epoch " +
                                          std::to_string(epoch) + ")");
        const double w = static_cast<double>(b - a) / static_cast<double>(group);
        step_loss += lv * w;
        backward(loss, w == 1.0 ? Tensor() : Tensor::full(loss.shape(), loss.dtype(), w), false);
      }
      const double norm = o.clip_norm > 0 ? optim::clip_grad_norm(params, o.clip_norm) : optim::grad_norm(params);
      if (!std::isfinite(norm))
        throw Error(ErrorKind::NaN, "fit: the gradient norm is " + num_str(norm) + " at step " + std::to_string(step) +
                                        " (epoch " + std::to_string(epoch) + ")");
      const double lr = opt.step();
      model.zero_grad();
      ++result.steps;
      result.samples += group;
      epoch_loss += step_loss * static_cast<double>(group);
      epoch_samples += group;

      p.step = result.steps;
      p.epoch = epoch;
      p.loss = step_loss;
      p.lr = lr;
      p.grad_norm = norm;
      p.samples_per_sec = static_cast<double>(result.samples) / std::max(seconds_since(t0), 1e-9);
      p.epoch_loss = epoch_loss / static_cast<double>(epoch_samples);
      p.epoch_end = s == steps_per_epoch - 1;
      p.val_loss = p.val_accuracy = std::numeric_limits<double>::quiet_NaN();
      EpochStats es;
      if (p.epoch_end) {
        es.epoch = epoch;
        es.loss = p.epoch_loss;
        if (validation) {
          EvalResult ev = evaluate(model, *validation, o.loss, eval_batch, aborted);
          es.val_loss = p.val_loss = ev.loss;
          es.val_accuracy = p.val_accuracy = ev.accuracy;
        }
        es.seconds = seconds_since(te);
        result.epochs.push_back(es);
      }
      if (on_progress) on_progress(p);
    }
  }
  result.seconds = seconds_since(t0);
  return result;
}

EvalResult evaluate(nn::Module& model, const Dataset& data, const LossOptions& loss, int64_t batch_size,
                    const std::function<bool()>& aborted) {
  check_positive(batch_size, "evaluate", "batchSize");
  check_dataset(data, "evaluate", "the dataset");
  NoGradGuard no_grad;
  ModeGuard mode(model, false);
  const Tensor X = data.inputs.contiguous(), Y = data.targets.contiguous();
  const int64_t N = X.size(0);
  double loss_sum = 0, correct = 0;
  int64_t count = 0;
  for (int64_t a = 0; a < N; a += batch_size) {
    if (aborted && aborted()) throw Error(ErrorKind::Aborted, "evaluate: aborted");
    const int64_t b = std::min(N, a + batch_size);
    BatchStats s = batch_stats(model.forward(X.slice(0, a, b)), Y.slice(0, a, b), loss);
    loss_sum += s.loss_sum;
    correct += s.correct;
    count += s.count;
  }
  EvalResult r;
  r.samples = count;
  r.loss = count ? loss_sum / static_cast<double>(count) : std::numeric_limits<double>::quiet_NaN();
  if (loss.kind == LossKind::CrossEntropy && count) r.accuracy = correct / static_cast<double>(count);
  return r;
}

Tensor predict(nn::Module& model, const Tensor& inputs, int64_t batch_size, const std::function<bool()>& aborted) {
  check_positive(batch_size, "predict", "batchSize");
  if (!inputs.defined() || inputs.dim() < 1) throw_range("predict: inputs must have a batch dimension");
  NoGradGuard no_grad;
  ModeGuard mode(model, false);
  const int64_t N = inputs.size(0);
  if (N == 0) throw_range("predict: no inputs");
  std::vector<Tensor> parts;
  for (int64_t a = 0; a < N; a += batch_size) {
    if (aborted && aborted()) throw Error(ErrorKind::Aborted, "predict: aborted");
    parts.push_back(model.forward(inputs.slice(0, a, std::min(N, a + batch_size))));
  }
  if (parts.size() > 1) return ops::concat(parts, 0);
  // A single batch may come back as (a view of) the input itself, e.g. through an identity layer.
  return parts[0].storage() == inputs.storage() ? parts[0].clone() : parts[0].contiguous();
}

}  // namespace qkv::train
