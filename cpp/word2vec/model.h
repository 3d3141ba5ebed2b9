#pragma once
// A word2vec model: configuration, vocabulary, the input vectors (`wv`, word2vec.c's syn0) and the
// output weights (syn1neg for negative sampling, syn1 for hierarchical softmax), plus the derived
// tables training needs (Huffman tree, unigram table) and the unit-normalised vectors queries use.
#include <cstdint>
#include <mutex>
#include <string>

#include "word2vec/config.h"
#include "word2vec/huffman.h"
#include "word2vec/matrix.h"
#include "word2vec/sampling.h"
#include "word2vec/vocab.h"

namespace qkv::w2v {

class Model {
 public:
  ModelConfig cfg;
  Vocab vocab;
  Matrix wv;       // [V, dim] input vectors: the word vectors
  Matrix syn1neg;  // [V, dim] output weights of negative sampling (when cfg.negative > 0)
  Matrix syn1;     // [V, dim] inner-node weights of hierarchical softmax (when cfg.hs)
  HuffmanTree tree;
  UnigramTable unigram;
  int64_t corpus_words = 0;      // raw words of the corpus the vocabulary was built from
  int64_t corpus_sentences = 0;
  int64_t trained_words = 0;     // raw words trained on, all calls together
  TrainConfig last_train;        // the settings of the last training run
  bool has_last_train = false;

  // A fresh model over `vocab`: random input vectors (seeded), zero output weights.
  void init(Vocab v, const ModelConfig& c, uint64_t seed);
  // Builds the Huffman tree and unigram table from the counts (after init or a load).
  void prepare_tables();
  // True when the model has counts and output weights (trained here or loaded from a 'qkv' file).
  bool trainable() const;
  size_t bytes() const;

  // Unit-normalised input vectors (rows of zeros stay zero), computed on first use.
  const Matrix& unit();
  void invalidate_unit();

 private:
  Matrix unit_;
  bool unit_valid_ = false;
  std::mutex unit_mutex_;
};

}  // namespace qkv::w2v
