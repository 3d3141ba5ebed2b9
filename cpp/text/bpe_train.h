#pragma once
// Training a byte-level BPE: pre-tokenize the corpus and count its words, then repeatedly merge
// the most frequent adjacent pair (ties: the pair of lower ids), updating the pair counts of only
// the words that hold it. Ids: 0..255 the bytes in GPT-2's order, merge r is id 256 + r, the
// special tokens last. Deterministic for a corpus and config, whatever the thread count.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/bpe.h"

namespace qkv::text {

// Words of the corpus and how often each occurs; the special tokens are cut out of the text
// first (never counted, never split).
class WordCounter {
 public:
  // clip: count the words of CLIP's pre-tokenizer (the texts already normalised) instead of GPT-2's.
  explicit WordCounter(std::vector<std::string> specials, bool clip = false) : specials_(std::move(specials)), clip_(clip) {}
  // Counts the words of several texts (each one sequence) in parallel over the thread pool.
  void add(const std::vector<std::string_view>& texts);
  // Streams a file in blocks cut after a newline; aborted() is polled between blocks.
  void add_file(const std::string& path, const std::function<bool()>& aborted, const char* op);
  const std::unordered_map<std::string, int64_t>& counts() const { return counts_; }
  int64_t bytes() const { return bytes_; }

 private:
  void count_one(std::string_view text, std::unordered_map<std::string, int64_t>& into) const;
  std::vector<std::string> specials_;
  bool clip_;
  std::unordered_map<std::string, int64_t> counts_;
  int64_t bytes_ = 0;
};

struct TrainConfig {
  int32_t vocab_size = 0;     // bytes + merges + special tokens
  int64_t min_frequency = 2;  // stop when the best pair occurs fewer times
  std::vector<std::string> special_tokens;
  // CLIP's flavour: 256 more base tokens (each byte + "</w>", ids 256..511) that end every word,
  // merge r is id 512 + r.
  bool clip = false;
  std::function<bool()> aborted;                           // polled each merge
  std::function<void(int64_t merges, int64_t target)> progress;  // every few merges
};

// Error(Range) for a vocab_size below 256 + the specials; Error(Aborted) when aborted.
ModelPtr train_bpe(const WordCounter& words, const TrainConfig& config, const char* op);

}  // namespace qkv::text
