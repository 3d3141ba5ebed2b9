#include "clip/dual_encoder_train.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "autograd/functions.h"
#include "core/error.h"
#include "ops/ops.h"

namespace qkv::clip {

namespace {

using train::BatchLoss;
using train::EvalResult;
using train::Rows;
using transformer::Batch;
using transformer::HostIds;

// Rows of the pairs as a batch: the images and the captions trimmed to their longest.
struct PairBatch {
  Tensor images;
  Batch texts;
};

PairBatch take(const ImageTextPairs& p, const HostIds& ids, const Rows& rows) {
  return {ops::index_select(p.images, rows), transformer::gather(p.texts, ids, rows)};
}

Tensor batch_loss(DualEncoder& m, const PairBatch& b) {
  return m.loss(m.image_features(b.images), m.text_features(b.texts.ids, b.texts.lengths));
}

// Image→text top-1 within the batch: how many rows score their own caption highest.
int64_t in_batch_correct(DualEncoder& m, const PairBatch& b) {
  const Tensor img = l2_normalize(m.image_features(b.images)), txt = l2_normalize(m.text_features(b.texts.ids, b.texts.lengths));
  const Tensor best = ops::argmax(ops::matmul(img, txt.transpose(0, 1)), 1, false);
  std::vector<int32_t> host(static_cast<size_t>(best.numel()));
  best.to_host(host.data());
  int64_t correct = 0;
  for (size_t i = 0; i < host.size(); ++i) correct += host[i] == static_cast<int32_t>(i);
  return correct;
}

class ContrastiveObjective : public train::Objective {
 public:
  ContrastiveObjective(DualEncoder& m, const ImageTextPairs& data, const ImageTextPairs* val, int64_t val_batch)
      : m_(m), data_(data), ids_(data.texts.ids), val_(val), val_batch_(val_batch) {}
  BatchLoss loss(const Rows& rows, int64_t) override { return {batch_loss(m_, take(data_, ids_, rows)), 0}; }
  void after_step() override { m_.clamp_logit_scale(); }
  bool has_validation() const override { return val_ != nullptr; }
  EvalResult validate() override { return evaluate_dual_encoder(m_, *val_, val_batch_); }

 private:
  DualEncoder& m_;
  const ImageTextPairs& data_;
  const HostIds ids_;
  const ImageTextPairs* val_;
  int64_t val_batch_;
};

void check_train(const DualEncoderTrainOptions& o, const char* op) {
  if (o.batch_size < 2) throw_range(std::string(op) + ": batchSize must be at least 2 (the other pairs of a batch are the negatives)");
  train::check_hyper_options(o.hyper, op);
}

RetrievalDirection ranks_of(const std::vector<float>& s, int64_t N, bool by_rows) {
  std::vector<int64_t> ranks(static_cast<size_t>(N));
  for (int64_t q = 0; q < N; ++q) {
    auto at = [&](int64_t c) { return by_rows ? s[q * N + c] : s[c * N + q]; };
    const float truth = at(q);
    int64_t r = 0;
    for (int64_t c = 0; c < N; ++c) r += at(c) > truth || (at(c) == truth && c < q);
    ranks[q] = r;
  }
  RetrievalDirection d;
  double sum = 0;
  for (int64_t r : ranks) {
    d.r1 += r < 1;
    d.r5 += r < 5;
    d.r10 += r < 10;
    sum += static_cast<double>(r);
  }
  const double n = static_cast<double>(N);
  d.r1 /= n;
  d.r5 /= n;
  d.r10 /= n;
  d.mean_rank = sum / n + 1;
  std::sort(ranks.begin(), ranks.end());
  // torch.median of an even count takes the lower middle value.
  d.median_rank = std::floor(static_cast<double>(ranks[static_cast<size_t>((N - 1) / 2)])) + 1;
  return d;
}

}  // namespace

void check_pairs(const ImageTextPairs& p, const char* op, const char* what) {
  if (!p.images.defined() || !is_float(p.images.dtype()) || p.images.dim() != 4)
    throw_type(std::string(op) + ": " + what + " images must be a float tensor [N, C, H, W]");
  transformer::check_sequences(p.texts, op, what);
  if (p.texts.size() != p.images.size(0))
    throw_range(std::string(op) + ": " + what + " have " + std::to_string(p.images.size(0)) + " images and " +
                std::to_string(p.texts.size()) + " texts");
}

std::shared_ptr<optim::Optimizer> make_dual_encoder_optimizer(nn::Module& model) { return transformer::fresh_adamw(model, 5e-4, 0.98, 1e-6, 0.2); }

train::Result fit_dual_encoder(DualEncoder& model, const ImageTextPairs& data, const ImageTextPairs* val, const DualEncoderTrainOptions& o,
                               optim::Optimizer& optimizer, const train::ProgressFn& on_progress, const train::AbortFn& aborted) {
  const char* op = "DualEncoder.fit";
  check_train(o, op);
  check_pairs(data, op, "the training pairs");
  if (val) check_pairs(*val, op, "the validation pairs");
  if (data.size() < 2) throw_range(std::string(op) + ": needs at least 2 pairs");
  train::ShuffledBatches batches(data.size(), std::min(o.batch_size, data.size()), o.shuffle);
  ContrastiveObjective objective(model, data, val, o.batch_size);
  return transformer::train_on_engine(model, optimizer, batches, objective, o.loop, o.hyper, op, on_progress, aborted);
}

EvalResult evaluate_dual_encoder(DualEncoder& model, const ImageTextPairs& data, int64_t batch_size, const train::AbortFn& aborted) {
  const char* op = "DualEncoder.evaluate";
  check_pairs(data, op, "the pairs");
  if (batch_size < 2) throw_range(std::string(op) + ": batchSize must be at least 2");
  NoGradGuard no_grad;
  nn::ModeGuard mode(model, false);
  const HostIds ids(data.texts.ids);
  const int64_t N = data.size();
  double loss = 0;
  int64_t correct = 0;
  for (int64_t a = 0; a < N; a += batch_size) {
    train::check_abort(aborted, op);
    Rows rows(static_cast<size_t>(std::min(N, a + batch_size) - a));
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = a + static_cast<int64_t>(i);
    const PairBatch b = take(data, ids, rows);
    loss += batch_loss(model, b).item() * static_cast<double>(rows.size());
    correct += in_batch_correct(model, b);
  }
  EvalResult r;
  r.loss = loss / static_cast<double>(N);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(N);
  r.count = N;
  return r;
}

Tensor encode_images(DualEncoder& model, const Tensor& images, int64_t batch_size, const train::AbortFn& aborted, bool normalize) {
  const char* op = "DualEncoder.encodeImages";
  if (!images.defined() || !is_float(images.dtype()) || images.dim() != 4)
    throw_type(std::string(op) + ": images must be a float tensor [N, C, H, W]");
  return transformer::map_row_batches(model, images.size(0), batch_size, op, aborted, [&](const Rows& rows) {
    Tensor f = model.image_features(ops::index_select(images, rows));
    return normalize ? l2_normalize(f) : f;
  });
}

Tensor encode_texts(DualEncoder& model, const transformer::Sequences& texts, int64_t batch_size, const train::AbortFn& aborted,
                    bool normalize) {
  const char* op = "DualEncoder.encodeTexts";
  transformer::check_sequences(texts, op, "the texts");
  const HostIds ids(texts.ids);
  return transformer::map_row_batches(model, texts.size(), batch_size, op, aborted, [&](const Rows& rows) {
    const Batch b = transformer::gather(texts, ids, rows);
    Tensor f = model.text_features(b.ids, b.lengths);
    return normalize ? l2_normalize(f) : f;
  });
}

RetrievalMetrics retrieval_metrics(const Tensor& img, const Tensor& txt) {
  const char* op = "DualEncoder.evaluateRetrieval";
  if (img.dim() != 2 || txt.dim() != 2 || img.size(0) != txt.size(0) || img.size(1) != txt.size(1) || img.size(0) == 0)
    throw_range(std::string(op) + ": needs as many images as texts (one caption per image), got " + shape_str(img.shape()) + " and " +
                shape_str(txt.shape()));
  const int64_t N = img.size(0);
  const Tensor s = ops::matmul(img, txt.transpose(0, 1));  // the logit scale does not change a ranking
  std::vector<float> host(static_cast<size_t>(N * N));
  (s.dtype() == DType::F32 ? s : s.to(DType::F32)).contiguous().to_host(host.data());
  return {ranks_of(host, N, true), ranks_of(host, N, false)};
}

}  // namespace qkv::clip
