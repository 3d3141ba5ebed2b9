#pragma once
// Hyper-parameters of a word2vec model and of one training run.
#include <cstdint>
#include <string>

namespace qkv::w2v {

enum class Architecture : uint8_t { SkipGram = 0, CBOW = 1 };
// Fast: shared negatives per window and small matrix products (Ji et al. 2016), SIMD.
// Reference: word2vec.c's per-pair loops, plain scalar code; kept to check the fast path against.
enum class KernelChoice : uint8_t { Fast = 0, Reference = 1 };

// What the vocabulary and the weights are built with; fixed for the life of a model.
struct ModelConfig {
  int dim = 100;
  int negative = 5;        // negative samples per example; 0 disables negative sampling
  bool hs = false;         // hierarchical softmax
  int64_t min_count = 5;
  int64_t max_vocab_size = 0;  // 0: unlimited
  double ns_exponent = 0.75;
};

// What one call to train() uses; may change between calls on the same model.
struct TrainConfig {
  Architecture arch = Architecture::SkipGram;
  int window = 5;
  double sample = 1e-3;    // subsampling threshold; 0 disables
  int epochs = 5;
  double alpha = 0.025;
  double min_alpha = 0.0001;
  int threads = 1;
  uint64_t seed = 1;
  int max_sentence_length = 10000;  // long lines are cut into chunks of this many words
  bool cbow_mean = true;
  KernelChoice kernel = KernelChoice::Fast;
  double report_interval_s = 0.1;   // progress reports at most this often
  // File input: when the corpus as word ids (4 bytes a word) fits in this many bytes, the first epoch
  // keeps it in memory and later epochs replay it instead of re-reading and re-hashing the text.
  // The result is the same either way. 0 disables.
  int64_t cache_bytes = int64_t(1) << 30;
};

const char* architecture_name(Architecture a);
// Validates values (RangeError naming `op` and the option); used by the binding and the loaders.
void validate(const ModelConfig& c, const char* op);
void validate(const TrainConfig& c, const char* op);

}  // namespace qkv::w2v
