#pragma once
// Training: `threads` native threads update the model without locks (Hogwild), each reading its own
// byte range of a file or popping batches of text from a queue. The learning rate falls linearly
// from alpha to min_alpha over all words of all epochs. With one thread and a seed the result is
// bit-identical from run to run.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/random.h"
#include "word2vec/config.h"
#include "word2vec/corpus.h"
#include "word2vec/model.h"

namespace qkv::w2v {

struct Progress {
  int epoch = 1;              // 1-based epoch the words done fall into
  int64_t words_done = 0;     // raw corpus words processed, all epochs
  int64_t words_total = 0;    // epochs * words per epoch
  double alpha = 0;           // current learning rate
  double words_per_sec = 0;   // words_done / seconds since training started
  double loss = 0;            // mean loss per training example since the previous report
};

// How training reports and learns about an abort; called from the thread that runs train().
class TrainMonitor {
 public:
  virtual ~TrainMonitor() = default;
  virtual bool aborted() const = 0;
  virtual void progress(const Progress& p) = 0;
};

// Where the text comes from.
struct TrainInput {
  std::string path;             // a file, read by byte ranges, `epochs` times; or
  BatchSource* batches = nullptr;  // batches (all epochs in sequence, as the producer sends them)
};

struct TrainStats {
  int64_t words = 0;            // raw words processed
  int64_t effective_words = 0;  // words left after dropping unknown and subsampled words
  int64_t examples = 0;
  double seconds = 0;
  double words_per_sec = 0;
  double loss = 0;              // mean loss per example over the whole run
};

// words_per_epoch: raw words in one pass over the input (from the vocabulary scan or a count).
// Throws Error(Aborted) when the monitor reports an abort, Error(IO) for read errors.
TrainStats train(Model& model, const TrainInput& input, const TrainConfig& cfg, int64_t words_per_epoch,
                 TrainMonitor& monitor);

// ---- per-sentence updates (train_fast.cpp, reference.cpp) ----------------------------------------
struct SentenceWork {
  Model* model;
  const TrainConfig* cfg;
  Rng* rng;
  float alpha = 0;
  double loss = 0;
  int64_t examples = 0;
  // scratch, sized by the caller
  std::vector<float*> in, out;
  std::vector<float> lab;
  float* din = nullptr;    // [2 * window, stride]
  float* scratch = nullptr;  // [2 * window, max outputs]
  float* hidden = nullptr;   // [stride]
};
void train_sentence_fast(const int32_t* ids, int n, SentenceWork& w);
void train_sentence_reference(const int32_t* ids, int n, SentenceWork& w);
// The most outputs one centre word can have (negatives + 1 + Huffman depth).
int max_outputs(const Model& m);

}  // namespace qkv::w2v
