// fit, evaluate and predict as tasks of every module type (nn/task.h): the supervised training of
// train/fit.h over tensor datasets.
//   fit       tensors inputs, targets [, valInputs, valTargets]; options: the engine's, batchSize,
//             shuffle, loss, ignoreIndex, labelSmoothing, evalBatchSize  -> train::Result
//   evaluate  tensors inputs, targets; options: batchSize, loss...         -> train::EvalResult
//   predict   tensors inputs; options: batchSize                          -> tensor "output"
#include "train/fit_tasks.h"

#include "core/error.h"
#include "nn/task.h"
#include "train/fit.h"

namespace qkv::train {

namespace {

LossOptions loss_options(const nn::TaskOptions& o) {
  LossOptions lo;
  const std::string kind = o.string_or("loss", "crossEntropy");
  if (kind == "crossEntropy") lo.kind = LossKind::CrossEntropy;
  else if (kind == "mse") lo.kind = LossKind::MSE;
  else throw_type(o.op() + ": loss must be 'crossEntropy' or 'mse', got '" + kind + "'");
  lo.ignore_index = o.integer_or("ignoreIndex", -100);
  lo.label_smoothing = o.number_or("labelSmoothing", 0);
  if (!(lo.label_smoothing >= 0 && lo.label_smoothing <= 1)) throw_range(o.op() + ": labelSmoothing must be in [0, 1]");
  return lo;
}

nn::TaskOutput fit_task(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "fit";
  const nn::TaskOptions o(in.options, op);
  FitOptions fo;
  fo.loop = o.loop(fo.loop);
  fo.batch_size = o.integer_or("batchSize", 32);
  fo.shuffle = o.boolean_or("shuffle", true);
  fo.loss = loss_options(o);
  fo.eval_batch_size = o.integer_or("evalBatchSize", 0);
  Dataset data{in.tensor("inputs", op), in.tensor("targets", op)};
  Dataset val;
  if (in.find("valInputs")) val = {in.tensor("valInputs", op), in.tensor("valTargets", op)};
  nn::TaskOutput out;
  out.value = nn::to_json(fit(m, *in.optimizer, data, val.inputs.defined() ? &val : nullptr, fo, ctx.progress, ctx.aborted));
  return out;
}

nn::TaskOutput evaluate_task(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "evaluate";
  const nn::TaskOptions o(in.options, op);
  const Dataset data{in.tensor("inputs", op), in.tensor("targets", op)};
  nn::TaskOutput out;
  out.value = nn::to_json(evaluate(m, data, loss_options(o), o.integer_at_least("batchSize", 256, 1), ctx.aborted));
  return out;
}

nn::TaskOutput predict_task(nn::Module& m, const nn::TaskInput& in, nn::TaskContext& ctx) {
  const char* op = "predict";
  const nn::TaskOptions o(in.options, op);
  nn::TaskOutput out;
  out.tensors.emplace_back("output", predict(m, in.tensor("inputs", op), o.integer_at_least("batchSize", 256, 1), ctx.aborted));
  return out;
}

std::shared_ptr<optim::Optimizer> default_optimizer(nn::Module& m) {
  optim::AdamOptions ao;
  ao.lr = 1e-3;
  ao.weight_decay = 0.01;
  return optim::make_adamw(m.parameters(), ao, m.parameter_decay());
}

}  // namespace

void register_fit_tasks() {
  nn::register_task("*", "fit", {fit_task, default_optimizer});
  nn::register_task("*", "evaluate", {evaluate_task, nullptr});
  nn::register_task("*", "predict", {predict_task, nullptr});
}

}  // namespace qkv::train
