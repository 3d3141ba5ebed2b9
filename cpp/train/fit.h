#pragma once
// The training loop, run natively from start to end (DESIGN.md §1, §2): batching, forward, loss,
// backward, clipping, the optimizer step and the schedule, with progress reports and abort checks
// between micro-batches. The binding runs it on a worker thread.
//
// Data: inputs [N, ...] (float, or int32 ids for models that start with an Embedding) and targets
// [N, ...]: int32 class ids for cross-entropy (the model's output [N, ..., C] is flattened to
// [M, C] against targets flattened to [M]), or float values of the output's shape for MSE.
//
// Gradient accumulation: each optimizer step sums the gradients of `accumulate` micro-batches of
// `batch_size` samples, each micro-batch loss weighted by its share of the step's samples, so that
// the step sees the gradient of the mean loss over all of them (the same as one batch of
// accumulate x batch_size, up to rounding). The last step of an epoch takes what is left.
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "nn/module.h"
#include "optim/optimizer.h"

namespace qkv::train {

enum class LossKind : uint8_t { CrossEntropy, MSE };
const char* loss_name(LossKind k);  // "crossEntropy", "mse"

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
  int64_t epochs = 1;
  int64_t batch_size = 32;
  int64_t accumulate = 1;
  double clip_norm = 0;  // 0: no clipping (the norm is still reported)
  bool shuffle = true;
  uint64_t seed = 0;
  LossOptions loss;
  int64_t eval_batch_size = 0;  // validation batches; 0 = max(batch_size, 256)
};

struct FitProgress {
  int64_t step = 0;          // optimizer steps taken so far in this fit (1-based after a step)
  int64_t total_steps = 0;   // steps this fit will take
  int64_t epoch = 0;         // 1-based
  double loss = 0;           // mean loss over the micro-batches of this step
  double lr = 0;             // learning rate used by this step
  double grad_norm = 0;      // global gradient norm before clipping
  double samples_per_sec = 0;
  bool epoch_end = false;
  double epoch_loss = 0;     // mean loss of the epoch so far (sample-weighted)
  double val_loss = std::numeric_limits<double>::quiet_NaN();       // at epoch ends, with a validation set
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();   // cross-entropy only
};

struct EpochStats {
  int64_t epoch = 0;
  double loss = 0;
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0;
};

struct FitResult {
  int64_t steps = 0;
  int64_t samples = 0;
  double seconds = 0;
  std::vector<EpochStats> epochs;
};

// Trains `model` (in train mode; its previous mode is restored afterwards) with `opt`.
// `on_progress` is called after every optimizer step (may be empty); `aborted` is polled between
// micro-batches (may be empty): when it returns true, fit throws Error(Aborted). A non-finite loss
// or gradient norm throws Error(NaN) naming the step. On any error the gradients are cleared and
// the model and optimizer stay usable (steps already taken are kept).
FitResult fit(nn::Module& model, optim::Optimizer& opt, const Dataset& train, const Dataset* validation,
              const FitOptions& options, const std::function<void(const FitProgress&)>& on_progress = {},
              const std::function<bool()>& aborted = {});

struct EvalResult {
  double loss = 0;
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // cross-entropy only
  int64_t samples = 0;
};
// Mean loss (and accuracy for cross-entropy) in eval mode without recording.
EvalResult evaluate(nn::Module& model, const Dataset& data, const LossOptions& loss, int64_t batch_size,
                    const std::function<bool()>& aborted = {});

// The model's outputs for `inputs` in batches, in eval mode without recording, concatenated.
Tensor predict(nn::Module& model, const Tensor& inputs, int64_t batch_size, const std::function<bool()>& aborted = {});

// Rows [idx[lo], ..., idx[hi-1]] of a contiguous tensor, as a new contiguous tensor.
Tensor gather_rows(const Tensor& src, const std::vector<int64_t>& idx, int64_t lo, int64_t hi);

}  // namespace qkv::train
