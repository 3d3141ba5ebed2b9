// PairMap growth and the word cache's storage: keys and ids live in two arenas, so a cached word
// costs no allocation of its own.
#include "text/hash_tables.h"


namespace qkv::text {

void PairMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  if (cap <= slots_.size()) return;
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  size_ = 0;
  for (const Slot& s : old)
    if (s.key != kEmpty) insert(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key & 0xFFFFFFFF), s.value);
}

void PairMap::grow() { reserve(slots_.empty() ? 8 : slots_.size()); }

void PairMap::insert(int32_t left, int32_t right, PairValue v) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = pack(left, right);
  for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key) return;
    if (s.key == kEmpty) {
      s.key = key;
      s.value = v;
      ++size_;
      return;
    }
  }
}

WordCache::WordCache(size_t capacity_log2) : table_(size_t{1} << capacity_log2), mask_(table_.size() - 1) {}

bool WordCache::find(std::string_view word, uint64_t h, const int32_t** ids, size_t* n) const {
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Entry& e = table_[i];
    if (e.gen != gen_) return false;
    if (e.hash == h && e.key_len == word.size() && std::memcmp(keys_.data() + e.key_off, word.data(), word.size()) == 0) {
      *ids = ids_.data() + e.ids_off;
      *n = e.ids_len;
      return true;
    }
  }
}

void WordCache::insert(std::string_view word, uint64_t h, const int32_t* ids, size_t n) {
  // Half full, or arenas past what 32-bit offsets hold: start again (the common words come back).
  if ((count_ + 1) * 2 > table_.size() || keys_.size() + word.size() > UINT32_MAX / 2 || ids_.size() + n > UINT32_MAX / 2) clear();
  size_t i = h & mask_;
  while (table_[i].gen == gen_) i = (i + 1) & mask_;
  Entry& e = table_[i];
  e = Entry{h, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(word.size()), static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(n), gen_};
  keys_.append(word.data(), word.size());
  ids_.insert(ids_.end(), ids, ids + n);
  ++count_;
}

void WordCache::clear() {
  if (++gen_ == 0) {  // wrapped: old generations could match again
    for (Entry& e : table_) e.gen = 0;
    gen_ = 1;
  }
  keys_.clear();
  ids_.clear();
  count_ = 0;
}

}  // namespace qkv::text
