#pragma once
// The two hash tables on the hot path of BPE encoding, open-addressed and flat: the rank and result
// of each mergeable pair of ids, and a per-thread cache of the ids of words already encoded.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::text {

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = mix64(h ^ w);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  return mix64(h ^ tail);
}

struct PairValue {
  int32_t rank;    // lower merges first
  int32_t result;  // the id of the merged token
};

// (left id, right id) → PairValue. Built once; lookups only afterwards.
class PairMap {
 public:
  void reserve(size_t n);
  // Keeps the first value given for a pair (the lowest rank when inserted in rank order).
  void insert(int32_t left, int32_t right, PairValue v);
  // The value of the pair, or nullptr.
  const PairValue* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(left, right);
    for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static uint64_t pack(int32_t l, int32_t r) { return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r); }
  static constexpr uint64_t kEmpty = ~0ULL;
  struct Slot {
    uint64_t key = kEmpty;
    PairValue value{};
  };
  void grow();
  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
};

// Word bytes → ids, bounded: cleared when it fills up. One per thread and model (see bpe.cpp).
class WordCache {
 public:
  explicit WordCache(size_t capacity_log2 = 16);
  // The ids of `word` (with hash h) if cached: *ids and *n set, true.
  bool find(std::string_view word, uint64_t h, const int32_t** ids, size_t* n) const;
  void insert(std::string_view word, uint64_t h, const int32_t* ids, size_t n);
  void clear();

 private:
  struct Entry {
    uint64_t hash = 0;
    uint32_t key_off = 0, key_len = 0, ids_off = 0, ids_len = 0;
    uint32_t gen = 0;  // the entry is in use when it equals gen_: clear() is O(1)
  };
  std::vector<Entry> table_;
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t mask_, count_ = 0;
  uint32_t gen_ = 1;
};

}  // namespace qkv::text
