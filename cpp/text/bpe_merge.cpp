// The fast merge of one word: ids and pair ranks in flat arrays, rescanned for the lowest rank
// after each merge (quadratic, but words are short and the arrays stay in L1); words longer than
// kShortWord bytes go through a heap over a linked list instead, so a megabyte of digits or spaces
// stays O(n log n). Both merge the leftmost of the lowest-ranked pairs first.
#include <climits>
#include <queue>

#include "text/bpe.h"

namespace qkv::text {

namespace {
constexpr size_t kShortWord = 128;
constexpr PairValue kNoPair{INT32_MAX, -1};
}  // namespace

void Model::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  const size_t n = word.size();
  if (n > kShortWord) return merge_long_word(word, out);
  int32_t ids[kShortWord];
  PairValue pair[kShortWord];  // pair[i]: ids[i] with ids[i + 1]
  for (size_t i = 0; i < n; ++i) ids[i] = byte_ids_[static_cast<unsigned char>(word[i])];
  ids[n - 1] = last_ids_[static_cast<unsigned char>(word[n - 1])];
  auto lookup = [&](size_t i) {
    const PairValue* v = pairs_.find(ids[i], ids[i + 1]);
    return v ? *v : kNoPair;
  };
  for (size_t i = 0; i + 1 < n; ++i) pair[i] = lookup(i);
  size_t m = n;
  while (m > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < m; ++i)
      if (pair[i].rank < pair[best].rank) best = i;
    if (pair[best].rank == INT32_MAX) break;
    ids[best] = pair[best].result;
    for (size_t i = best + 1; i + 1 < m; ++i) ids[i] = ids[i + 1];
    for (size_t i = best + 1; i + 2 < m; ++i) pair[i] = pair[i + 1];
    --m;
    if (best + 1 < m) pair[best] = lookup(best);
    if (best > 0) pair[best - 1] = lookup(best - 1);
  }
  out.insert(out.end(), ids, ids + m);
}

void Model::merge_long_word(std::string_view word, std::vector<int32_t>& out) const {
  struct Sym {
    int32_t id;
    int32_t prev, next;  // -1 at the ends
  };
  struct Candidate {
    int32_t rank, pos, left, right;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const auto n = static_cast<int32_t>(word.size());
  std::vector<Sym> sym(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) sym[i] = {byte_ids_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1};
  sym[n - 1].id = last_ids_[static_cast<unsigned char>(word[n - 1])];
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto consider = [&](int32_t pos) {
    if (pos < 0 || sym[pos].next < 0) return;
    const Sym& a = sym[pos];
    if (const PairValue* v = pairs_.find(a.id, sym[a.next].id)) heap.push({v->rank, pos, a.id, sym[a.next].id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Sym& a = sym[c.pos];
    // Stale when either side changed since it was pushed (a merged symbol's id never recurs
    // there: tokens only grow). Merged-away symbols have id -1.
    if (a.id != c.left || a.next < 0 || sym[a.next].id != c.right) continue;
    Sym& b = sym[a.next];
    a.id = pairs_.find(c.left, c.right)->result;
    a.next = b.next;
    if (b.next >= 0) sym[b.next].prev = c.pos;
    b.id = -1;
    consider(a.prev);
    consider(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace qkv::text
