#pragma once
// The vocabulary: words in index order (most frequent first) with their counts, and a hash index
// from word to position. VocabCounter counts words during a corpus scan and turns the counts into a
// Vocab (minCount, maxVocabSize).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::w2v {

uint64_t hash_word(std::string_view w);
// True when the bytes are well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool valid_utf8(std::string_view s);

// Open-addressing hash index over words stored elsewhere (linear probing, power-of-two table).
class WordIndex {
 public:
  void clear();
  void reserve(size_t n);
  // Slot of `w` (hash h) among `words`; -1 when absent.
  int32_t find(std::string_view w, uint64_t h, const std::vector<std::string>& words) const;
  void insert(int32_t id, uint64_t h);  // caller guarantees the word is absent
  size_t size() const { return size_; }

 private:
  void grow();
  struct Slot {
    uint32_t tag;  // upper hash bits of the slot's word
    int32_t id;    // id + 1; 0 = empty
  };
  std::vector<Slot> slots_;
  size_t size_ = 0;
  size_t mask_ = 0;
};

class Vocab {
 public:
  int32_t size() const { return static_cast<int32_t>(words_.size()); }
  int32_t find(std::string_view w) const { return index_.find(w, hash_word(w), words_); }
  const std::string& word(int32_t i) const { return words_[i]; }
  int64_t count(int32_t i) const { return counts_[i]; }
  const std::vector<std::string>& words() const { return words_; }
  const std::vector<int64_t>& counts() const { return counts_; }
  int64_t total_count() const { return total_; }
  // Appends a word; returns false (and adds nothing) when it is already present.
  bool add(std::string word, int64_t count);
  void reserve(size_t n);

 private:
  std::vector<std::string> words_;
  std::vector<int64_t> counts_;
  WordIndex index_;
  int64_t total_ = 0;
};

class VocabCounter {
 public:
  // prune_above: when more than this many distinct words are held, the rarest are dropped
  // (word2vec.c's ReduceVocab: counts below a rising threshold); 0 never prunes.
  explicit VocabCounter(size_t prune_above = 0) : prune_above_(prune_above) {}
  // Counts one occurrence. Returns false (and counts nothing) when `w` is new and not valid UTF-8.
  bool add(std::string_view w);
  void add_uncounted() { ++total_words_; }  // a word counted in the total only
  void end_sentence() { ++sentences_; }
  int64_t total_words() const { return total_words_; }
  int64_t sentences() const { return sentences_; }
  size_t distinct() const { return words_.size(); }
  // Words with count >= min_count, most frequent first (ties: first seen first), at most max_size (0: all).
  Vocab finalize(int64_t min_count, int64_t max_size) const;
  // Merges another counter's counts (used by parallel scans); first-seen order follows this one, then other.
  void merge(const VocabCounter& other);

 private:
  void prune();
  std::vector<std::string> words_;
  std::vector<int64_t> counts_;
  WordIndex index_;
  size_t prune_above_;
  int64_t min_reduce_ = 1;
  int64_t total_words_ = 0;
  int64_t sentences_ = 0;
};

}  // namespace qkv::w2v
