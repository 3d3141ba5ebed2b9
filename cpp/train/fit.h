#pragma once
// Supervised training of any module on tensors: the training engine (train/engine.h) with shuffled
// batches of a tensor dataset and a loss on the module's output. The binding runs it off the
// event loop.
//
// Data: inputs [N, ...] (float, or int32 ids for models that start with an Embedding) and targets
// [N, ...]: int32 class ids for cross-entropy (the model's output [N, ..., C] is flattened to
// [M, C] against targets flattened to [M]), or float values of the output's shape for MSE.
#include <cstdint>

#include "nn/module.h"
#include "optim/optimizer.h"
#include "train/engine.h"

namespace qkv::train {

enum class LossKind : uint8_t { CrossEntropy, MSE };

struct LossOptions {
  LossKind kind = LossKind::CrossEntropy;
  int64_t ignore_index = -100;
  double label_smoothing = 0;
};

// The (recorded) loss of a model output against targets; RangeError/TypeError naming `op` for
// shapes or dtypes that do not fit.
Tensor compute_loss(const Tensor& output, const Tensor& targets, const LossOptions& options, const char* op = "loss");

struct Dataset {
  Tensor inputs, targets;
  int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
};
// Checks that inputs and targets have the same first dimension (> 0); RangeError naming `op`.
void check_dataset(const Dataset& d, const char* op, const char* which);

struct FitOptions {
  LoopOptions loop;      // epochs (default 1), maxSteps, accumulate, clipNorm, seed
  int64_t batch_size = 32;
  bool shuffle = true;
  LossOptions loss;
  int64_t eval_batch_size = 0;  // validation batches; 0 = max(batch_size, 256)
};

// Trains `model` with `opt` on the engine (train/engine.h: progress, abort, NaN stop, resuming
// from the optimizer's step count). Every optimizer parameter must be one of the model's.
Result fit(nn::Module& model, optim::Optimizer& opt, const Dataset& train, const Dataset* validation, const FitOptions& options,
           const ProgressFn& on_progress = {}, const AbortFn& aborted = {});

// Mean loss (and accuracy for cross-entropy) over the samples, in eval mode without recording.
EvalResult evaluate(nn::Module& model, const Dataset& data, const LossOptions& loss, int64_t batch_size, const AbortFn& aborted = {});

// The model's outputs for `inputs` in batches, in eval mode without recording, concatenated.
Tensor predict(nn::Module& model, const Tensor& inputs, int64_t batch_size, const AbortFn& aborted = {});

}  // namespace qkv::train
