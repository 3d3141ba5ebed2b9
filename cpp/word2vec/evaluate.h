#pragma once
// Intrinsic evaluations with gensim's rules (KeyedVectors.evaluate_word_pairs and
// evaluate_word_analogies): only the first `restrict_vocab` words count as known; with
// case_insensitive, words are compared lower-cased (ASCII) and the most frequent spelling wins;
// pairs or questions with unknown words are skipped and counted.
#include <cstdint>
#include <string>
#include <vector>

#include "word2vec/model.h"

namespace qkv::w2v {

struct WordPair {
  std::string a, b;
  double score;
};
struct PairsResult {
  double pearson = 0, spearman = 0;
  int64_t pairs = 0;  // pairs used
  int64_t oov = 0;    // pairs skipped for an unknown word
};
// Tab-separated "word1<TAB>word2<TAB>score" lines; '#' starts a comment line (WordSim-353 as gensim ships it).
std::vector<WordPair> read_word_pairs(const std::string& path);
PairsResult evaluate_word_pairs(Model& m, const std::vector<WordPair>& pairs, int64_t restrict_vocab, bool case_insensitive);

struct Question {
  std::string a, b, c, expected;
  int32_t section;
};
struct AnalogySection {
  std::string name;
  int64_t correct = 0, incorrect = 0;
};
struct AnalogyResult {
  double accuracy = 0;
  std::vector<AnalogySection> sections;  // in file order
  int64_t covered = 0;  // questions answered (all four words known)
  int64_t total = 0;    // questions read
};
// word2vec's questions-words.txt: ": section" lines, then "a b c d" per line.
void read_analogies(const std::string& path, std::vector<Question>* out, std::vector<std::string>* section_names);
// "a is to b as c is to ?": the best word by 3CosAdd among the first restrict_vocab, other than a, b, c.
AnalogyResult evaluate_analogies(Model& m, const std::vector<Question>& qs, const std::vector<std::string>& section_names,
                                 int64_t restrict_vocab, bool case_insensitive);

// Statistics (exposed for tests).
double pearson(const std::vector<double>& x, const std::vector<double>& y);
double spearman(const std::vector<double>& x, const std::vector<double>& y);  // ties get average ranks

}  // namespace qkv::w2v
