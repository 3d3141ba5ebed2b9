// The textbook merge (GPT-2's encoder.py, CLIP's simple_tokenizer.py): a word as a list of byte strings; find the adjacent
// pair of lowest rank, join all its occurrences left to right, repeat. Slow and plain, kept to
// check the fast merge against (test/bpe.test.ts, through the binding).
#include <climits>

#include "text/bpe.h"

namespace qkv::text {

void Model::encode_word_reference(std::string_view word, std::vector<int32_t>& out) const {
  std::vector<std::string> parts;
  for (char c : word) parts.emplace_back(1, c);
  if (spec_.clip && !parts.empty()) parts.back() += kEndOfWord;  // CLIP's simple_tokenizer.py: word[-1] + '</w>'
  while (parts.size() > 1) {
    int32_t best_rank = INT32_MAX;
    size_t best = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      const PairValue* v = pairs_.find(ids_.at(parts[i]), ids_.at(parts[i + 1]));
      if (v && v->rank < best_rank) best_rank = v->rank, best = i;
    }
    if (best_rank == INT32_MAX) break;
    const std::string first = parts[best], second = parts[best + 1];
    std::vector<std::string> joined;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i + 1 < parts.size() && parts[i] == first && parts[i + 1] == second) {
        joined.push_back(first + second);
        ++i;
      } else {
        joined.push_back(parts[i]);
      }
    }
    parts.swap(joined);
  }
  for (const std::string& p : parts) out.push_back(ids_.at(p));
}

}  // namespace qkv::text
