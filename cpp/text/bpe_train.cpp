// BPE training with incremental pair counts: a max-heap of (count, pair) with lazy deletion (a
// popped entry whose count is stale is pushed again with the current one), and for each pair the
// words that held it when it was counted (checked again when merged).
#include "text/bpe_train.h"

#include <algorithm>
#include <queue>

#include "core/error.h"
#include "core/thread_pool.h"
#include "io/atomic_file.h"
#include "text/byte_level.h"
#include "text/pretokenize.h"

namespace qkv::text {

namespace {

uint64_t pack(int32_t l, int32_t r) { return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r); }
int32_t left_of(uint64_t p) { return static_cast<int32_t>(p >> 32); }
int32_t right_of(uint64_t p) { return static_cast<int32_t>(p & 0xFFFFFFFF); }

// Text pieces cut at each newline, about `target` bytes each (a sequence never spans two).
std::vector<std::string_view> cut_at_newlines(std::string_view text, size_t target) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t end = text.size();
    if (text.size() > target) {
      const size_t nl = text.find('\n', target);
      if (nl != std::string_view::npos) end = nl + 1;
    }
    out.push_back(text.substr(0, end));
    text.remove_prefix(end);
  }
  return out;
}

struct Word {
  std::vector<int32_t> ids;
  int64_t count;
};

struct Candidate {
  int64_t count;
  uint64_t pair;
  bool operator<(const Candidate& o) const {  // the heap's top: most frequent, then lowest ids
    return count != o.count ? count < o.count : pair > o.pair;
  }
};

}  // namespace

void WordCounter::count_one(std::string_view text, std::unordered_map<std::string, int64_t>& into) const {
  auto count_words = [&](std::string_view part) {
    auto count = [&](std::string_view w) { ++into[std::string(w)]; };
    if (clip_) for_each_clip_piece(part, count);
    else for_each_gpt2_piece(part, count);
  };
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    size_t hit = 0;
    for (const std::string& s : specials_)
      if (text.compare(i, s.size(), s) == 0) hit = std::max(hit, s.size());
    if (!hit) {
      ++i;
      continue;
    }
    count_words(text.substr(start, i - start));
    i += hit;
    start = i;
  }
  count_words(text.substr(start));
}

void WordCounter::add(const std::vector<std::string_view>& texts) {
  std::vector<std::unordered_map<std::string, int64_t>> parts(texts.size());
  ThreadPool::global().run(static_cast<int64_t>(texts.size()), [&](int64_t i) { count_one(texts[i], parts[i]); });
  for (size_t i = 0; i < parts.size(); ++i) {
    bytes_ += static_cast<int64_t>(texts[i].size());
    for (auto& [w, c] : parts[i]) counts_[w] += c;
  }
}

void WordCounter::add_file(const std::string& path, const std::function<bool()>& aborted, const char* op) {
  io::FileReader f(path, op);
  constexpr size_t kBlock = size_t{16} << 20, kPiece = size_t{1} << 20;
  std::string carry, block;
  for (uint64_t off = 0; off < f.size();) {
    if (aborted && aborted()) throw Error(ErrorKind::Aborted, std::string(op) + ": aborted");
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlock, f.size() - off));
    block.assign(carry);
    block.resize(carry.size() + n);
    if (!f.read_at(off, block.data() + carry.size(), n)) throw Error(ErrorKind::IO, std::string(op) + ": " + path + ": the file shrank while it was read");
    off += n;
    // Keep what follows the last newline for the next block, unless this is the end.
    size_t cut = block.size();
    if (off < f.size()) {
      const size_t nl = block.rfind('\n');
      cut = nl == std::string::npos ? 0 : nl + 1;
    }
    carry.assign(block, cut, std::string::npos);
    add(cut_at_newlines(std::string_view(block).substr(0, cut), kPiece));
  }
  if (!carry.empty()) add({carry});
}

ModelPtr train_bpe(const WordCounter& counter, const TrainConfig& config, const char* op) {
  const int64_t bytes = config.clip ? 512 : 256;
  const int64_t base = bytes + static_cast<int64_t>(config.special_tokens.size());
  if (config.vocab_size < base)
    throw_range(std::string(op) + ": vocabSize " + std::to_string(config.vocab_size) + " is below the " + std::to_string(bytes) + " byte tokens and " +
                std::to_string(config.special_tokens.size()) + " special tokens");
  ModelSpec spec;
  spec.clip = config.clip;
  int32_t byte_id[256], last_id[256];
  for (int i = 0; i < 256; ++i) {
    spec.tokens.emplace_back(1, static_cast<char>(byte_at_rank(i)));
    byte_id[byte_at_rank(i)] = last_id[byte_at_rank(i)] = i;
  }
  if (config.clip)
    for (int i = 0; i < 256; ++i) {
      spec.tokens.push_back(spec.tokens[i] + std::string(kEndOfWord));
      last_id[byte_at_rank(i)] = 256 + i;
    }
  // Words in a fixed order (by bytes), so that nothing depends on the hash table's order.
  std::vector<const std::pair<const std::string, int64_t>*> sorted;
  sorted.reserve(counter.counts().size());
  for (const auto& kv : counter.counts()) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::vector<Word> words;
  words.reserve(sorted.size());
  for (const auto* kv : sorted) {
    Word w{{}, kv->second};
    for (unsigned char c : kv->first) w.ids.push_back(byte_id[c]);
    w.ids.back() = last_id[static_cast<unsigned char>(kv->first.back())];
    words.push_back(std::move(w));
  }
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  for (size_t wi = 0; wi < words.size(); ++wi) {
    const Word& w = words[wi];
    for (size_t i = 0; i + 1 < w.ids.size(); ++i) {
      const uint64_t p = pack(w.ids[i], w.ids[i + 1]);
      pair_count[p] += w.count;
      auto& list = where[p];
      if (list.empty() || list.back() != static_cast<int32_t>(wi)) list.push_back(static_cast<int32_t>(wi));
    }
  }
  std::priority_queue<Candidate> heap;
  for (const auto& [p, c] : pair_count) heap.push({c, p});
  const int64_t target = config.vocab_size - base;
  std::vector<int64_t> seen(words.size(), -1);  // the merge that last rewrote each word
  std::vector<uint64_t> grown;
  while (static_cast<int64_t>(spec.merges.size()) < target && !heap.empty()) {
    if (config.aborted && config.aborted()) throw Error(ErrorKind::Aborted, std::string(op) + ": aborted");
    const Candidate top = heap.top();
    heap.pop();
    const auto it = pair_count.find(top.pair);
    const int64_t now = it == pair_count.end() ? 0 : it->second;
    if (now != top.count) {
      if (now > 0) heap.push({now, top.pair});
      continue;
    }
    if (now < config.min_frequency || now <= 0) break;
    const int32_t l = left_of(top.pair), r = right_of(top.pair);
    const auto id = static_cast<int32_t>(spec.tokens.size());
    const auto rank = static_cast<int32_t>(spec.merges.size());
    spec.tokens.push_back(spec.tokens[l] + spec.tokens[r]);
    spec.merges.push_back({l, r, id, rank});
    grown.clear();
    std::vector<int32_t> holders;
    holders.swap(where[top.pair]);
    for (int32_t wi : holders) {
      if (seen[wi] == rank) continue;
      seen[wi] = rank;
      Word& w = words[wi];
      std::vector<int32_t> next;
      next.reserve(w.ids.size());
      for (size_t i = 0; i < w.ids.size(); ++i) {
        if (i + 1 < w.ids.size() && w.ids[i] == l && w.ids[i + 1] == r) next.push_back(id), ++i;
        else next.push_back(w.ids[i]);
      }
      if (next.size() == w.ids.size()) continue;  // a stale entry: the pair left this word earlier
      for (size_t i = 0; i + 1 < w.ids.size(); ++i) pair_count[pack(w.ids[i], w.ids[i + 1])] -= w.count;
      for (size_t i = 0; i + 1 < next.size(); ++i) {
        const uint64_t p = pack(next[i], next[i + 1]);
        pair_count[p] += w.count;
        if (next[i] == id || next[i + 1] == id) {
          auto& list = where[p];
          if (list.empty() || list.back() != wi) list.push_back(wi);
          grown.push_back(p);
        }
      }
      w.ids.swap(next);
    }
    pair_count.erase(top.pair);
    where.erase(top.pair);
    std::sort(grown.begin(), grown.end());
    grown.erase(std::unique(grown.begin(), grown.end()), grown.end());
    for (uint64_t p : grown) heap.push({pair_count[p], p});
    if (config.progress && (spec.merges.size() % 64 == 0)) config.progress(static_cast<int64_t>(spec.merges.size()), target);
  }
  for (const std::string& s : config.special_tokens) {
    AddedToken a;
    a.content = s;
    a.id = static_cast<int32_t>(spec.tokens.size());
    spec.tokens.push_back(s);
    spec.added.push_back(a);
  }
  if (config.progress) config.progress(static_cast<int64_t>(spec.merges.size()), target);
  return std::make_shared<const Model>(std::move(spec), op);
}

}  // namespace qkv::text
