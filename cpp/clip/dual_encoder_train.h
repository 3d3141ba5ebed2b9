#pragma once
// Training and using a dual encoder: an adapter on the training engine (train/engine.h) whose
// batches are shuffled image–text pairs and whose objective is the contrastive loss of each batch
// (the rest of the batch are the negatives), the temperature clamped after every step; encoding
// in batches; and open_clip's retrieval metrics.
//
// fit starts open_clip's AdamW when it continues none: lr 5e-4, betas 0.9/0.98, eps 1e-6, weight
// decay 0.2 on the weight matrices (not on gains, biases, the class embedding, the text positions
// or the temperature), warm-up then cosine.
#include <cstdint>
#include <memory>
#include <vector>

#include "clip/dual_encoder.h"
#include "train/engine.h"
#include "transformer/train.h"

namespace qkv::clip {

// N images [N, C, H, W] and the N captions that go with them (right-padded ids with lengths).
struct ImageTextPairs {
  Tensor images;
  transformer::Sequences texts;
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};
// TypeError / RangeError naming op unless the pairs are float images [N, C, H, W] and N captions.
void check_pairs(const ImageTextPairs& p, const char* op, const char* what);

struct DualEncoderTrainOptions {
  train::LoopOptions loop = [] {  // epochs (default 10), maxSteps, accumulate, clipNorm (none), seed
    train::LoopOptions l;
    l.default_epochs = 10;
    return l;
  }();
  train::HyperOptions hyper;
  int64_t batch_size = 128;  // pairs per micro-batch: the contrastive batch
  bool shuffle = true;
};

std::shared_ptr<optim::Optimizer> make_dual_encoder_optimizer(nn::Module& model);

// Validation (optional): the loss and the in-batch image→text top-1 accuracy at each epoch end.
train::Result fit_dual_encoder(DualEncoder& model, const ImageTextPairs& data, const ImageTextPairs* val,
                               const DualEncoderTrainOptions& options, optim::Optimizer& optimizer,
                               const train::ProgressFn& on_progress = {}, const train::AbortFn& aborted = {});
// Mean contrastive loss over batches of batch_size pairs (in order) and the in-batch image→text
// top-1 accuracy, in eval mode.
train::EvalResult evaluate_dual_encoder(DualEncoder& model, const ImageTextPairs& data, int64_t batch_size,
                                        const train::AbortFn& aborted = {});

// Embeddings [N, E] in eval mode, in batches: normalised, or the projected features as they are.
Tensor encode_images(DualEncoder& model, const Tensor& images, int64_t batch_size, const train::AbortFn& aborted = {}, bool normalize = true);
Tensor encode_texts(DualEncoder& model, const transformer::Sequences& texts, int64_t batch_size, const train::AbortFn& aborted = {},
                    bool normalize = true);

// open_clip's retrieval metrics over paired embeddings (image i goes with text i): the rank of the
// true partner is the number of candidates scoring higher, ties counting for the lower index;
// recall@k = mean(rank < k), mean rank = mean(rank) + 1, median rank = floor(median(rank)) + 1.
struct RetrievalDirection {
  double r1 = 0, r5 = 0, r10 = 0, mean_rank = 0, median_rank = 0;
};
struct RetrievalMetrics {
  RetrievalDirection image_to_text, text_to_image;
};
RetrievalMetrics retrieval_metrics(const Tensor& image_embeddings, const Tensor& text_embeddings);

}  // namespace qkv::clip
