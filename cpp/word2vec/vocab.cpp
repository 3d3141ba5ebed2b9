#include "word2vec/vocab.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace qkv::w2v {

uint64_t hash_word(std::string_view w) {
  // FNV-1a followed by a final mix (words are short; this is about as fast as anything here).
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : w) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) { ++i; continue; }
    int len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

// ---- WordIndex --------------------------------------------------------------------------------
void WordIndex::clear() {
  slots_.clear();
  size_ = 0;
  mask_ = 0;
}

void WordIndex::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  if (cap <= slots_.size()) return;
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(cap, Slot{0, 0});
  mask_ = cap - 1;
  // A slot's position depends only on its tag (the upper 32 hash bits), so re-inserting needs no words.
  for (const Slot& s : old) {
    if (!s.id) continue;
    size_t pos = s.tag & mask_;
    while (slots_[pos].id) pos = (pos + 1) & mask_;
    slots_[pos] = s;
  }
}

void WordIndex::grow() { reserve(slots_.empty() ? 8 : slots_.size()); }

int32_t WordIndex::find(std::string_view w, uint64_t h, const std::vector<std::string>& words) const {
  if (slots_.empty()) return -1;
  const uint32_t tag = static_cast<uint32_t>(h >> 32);
  size_t pos = tag & mask_;
  for (;;) {
    const Slot& s = slots_[pos];
    if (!s.id) return -1;
    if (s.tag == tag) {
      const std::string& cand = words[s.id - 1];
      if (cand.size() == w.size() && std::memcmp(cand.data(), w.data(), w.size()) == 0) return s.id - 1;
    }
    pos = (pos + 1) & mask_;
  }
}

void WordIndex::insert(int32_t id, uint64_t h) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint32_t tag = static_cast<uint32_t>(h >> 32);
  size_t pos = tag & mask_;
  while (slots_[pos].id) pos = (pos + 1) & mask_;
  slots_[pos] = Slot{tag, id + 1};
  ++size_;
}

// ---- Vocab ------------------------------------------------------------------------------------
void Vocab::reserve(size_t n) {
  words_.reserve(n);
  counts_.reserve(n);
  index_.reserve(n);
}

bool Vocab::add(std::string word, int64_t count) {
  uint64_t h = hash_word(word);
  if (index_.find(word, h, words_) >= 0) return false;
  index_.insert(static_cast<int32_t>(words_.size()), h);
  words_.push_back(std::move(word));
  counts_.push_back(count);
  total_ += count;
  return true;
}

// ---- VocabCounter -----------------------------------------------------------------------------
bool VocabCounter::add(std::string_view w) {
  uint64_t h = hash_word(w);
  int32_t i = index_.find(w, h, words_);
  if (i >= 0) {
    ++counts_[i];
    ++total_words_;
    return true;
  }
  if (!valid_utf8(w)) return false;
  ++total_words_;
  index_.insert(static_cast<int32_t>(words_.size()), h);
  words_.emplace_back(w);
  counts_.push_back(1);
  if (prune_above_ && words_.size() > prune_above_) prune();
  return true;
}

void VocabCounter::prune() {
  // Drop words counted fewer than min_reduce times, raising the bar until enough are gone.
  while (words_.size() > prune_above_ * 9 / 10) {
    size_t keep = 0;
    for (size_t i = 0; i < words_.size(); ++i) {
      if (counts_[i] >= min_reduce_ + 1) {
        if (keep != i) {
          words_[keep] = std::move(words_[i]);
          counts_[keep] = counts_[i];
        }
        ++keep;
      }
    }
    words_.resize(keep);
    counts_.resize(keep);
    ++min_reduce_;
  }
  index_.clear();
  index_.reserve(words_.size());
  for (size_t i = 0; i < words_.size(); ++i) index_.insert(static_cast<int32_t>(i), hash_word(words_[i]));
}

void VocabCounter::merge(const VocabCounter& other) {
  total_words_ += other.total_words_;
  sentences_ += other.sentences_;
  for (size_t j = 0; j < other.words_.size(); ++j) {
    const std::string& w = other.words_[j];
    uint64_t h = hash_word(w);
    int32_t i = index_.find(w, h, words_);
    if (i >= 0) {
      counts_[i] += other.counts_[j];
    } else {
      index_.insert(static_cast<int32_t>(words_.size()), h);
      words_.push_back(w);
      counts_.push_back(other.counts_[j]);
    }
  }
  if (prune_above_ && words_.size() > prune_above_) prune();
}

Vocab VocabCounter::finalize(int64_t min_count, int64_t max_size) const {
  std::vector<int32_t> order;
  for (size_t i = 0; i < words_.size(); ++i)
    if (counts_[i] >= min_count) order.push_back(static_cast<int32_t>(i));
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return counts_[a] > counts_[b]; });
  if (max_size > 0 && static_cast<int64_t>(order.size()) > max_size) order.resize(static_cast<size_t>(max_size));
  Vocab v;
  v.reserve(order.size());
  for (int32_t i : order) v.add(words_[i], counts_[i]);
  return v;
}

}  // namespace qkv::w2v
