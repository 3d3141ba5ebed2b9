#pragma once
// Random choices of training: the negative-sampling distribution (unigram counts raised to
// ns_exponent, drawn in O(1) with Walker's alias method instead of word2vec.c's 10^8-entry table)
// and the subsampling of frequent words.
#include <cstdint>
#include <vector>

namespace qkv::w2v {

class UnigramTable {
 public:
  void build(const std::vector<int64_t>& counts, double exponent);
  bool empty() const { return prob_.empty(); }
  // A word index drawn from the distribution, from 64 random bits.
  int32_t sample(uint64_t r) const {
    const uint32_t col = static_cast<uint32_t>(((r >> 32) * n_) >> 32);
    // Both loads unconditional, so the coin flip compiles to a conditional move, not a branch that
    // mispredicts half the time.
    const int32_t other = alias_[col];
    const bool own = static_cast<uint32_t>(r) < prob_[col];
    return own ? static_cast<int32_t>(col) : other;
  }
  // Probability of word i (for tests).
  double probability(int32_t i) const { return p_[i]; }

 private:
  std::vector<uint32_t> prob_;  // threshold * 2^32 for keeping the column's own word
  std::vector<int32_t> alias_;
  std::vector<double> p_;
  uint64_t n_ = 0;
};

// keep[i]: probability * 2^32 that an occurrence of word i survives subsampling (word2vec.c and
// gensim's rule: (sqrt(f / t) + 1) * t / f with t = sample * total; 2^32 means always kept).
std::vector<uint64_t> subsample_keep(const std::vector<int64_t>& counts, double sample);

}  // namespace qkv::w2v
