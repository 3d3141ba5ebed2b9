#include "core/host_memory.h"

#include <cstdlib>
#include <list>
#include <mutex>
#include <unordered_map>

namespace qkv {

namespace {

struct Block {
  void* p;
  size_t n;
};

struct Cache {
  std::mutex mu;
  std::unordered_map<void*, size_t> sizes;  // live and cached large blocks -> their size
  std::list<Block> lru;                     // cached blocks, oldest first
  std::unordered_multimap<size_t, std::list<Block>::iterator> free_by_size;
  size_t cached = 0;

  // Takes a cached block of exactly n bytes, or null. Called with mu held.
  void* take(size_t n) {
    auto it = free_by_size.find(n);
    if (it == free_by_size.end()) return nullptr;
    void* p = it->second->p;
    lru.erase(it->second);
    free_by_size.erase(it);
    cached -= n;
    return p;
  }
  // Frees the oldest cached blocks until `bytes` more fit under the cap. Called with mu held.
  void shrink_to_fit(size_t bytes) {
    while (cached + bytes > kMaxCachedBytes && !lru.empty()) {
      const Block b = lru.front();
      auto range = free_by_size.equal_range(b.n);
      for (auto it = range.first; it != range.second; ++it)
        if (it->second == lru.begin()) {
          free_by_size.erase(it);
          break;
        }
      lru.pop_front();
      sizes.erase(b.p);
      cached -= b.n;
      std::free(b.p);
    }
  }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: storages may outlive static destruction
  return *c;
}

}  // namespace

void* host_alloc(size_t n) {
  size_t rounded = ((n + 63) / 64) * 64;
  if (rounded == 0) rounded = 64;
  if (rounded < kMinCachedBytes) return std::aligned_alloc(64, rounded);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (void* p = c.take(rounded)) return p;
  }
  void* p = std::aligned_alloc(64, rounded);
  if (!p) {
    host_cache_release();  // the cache may hold what the system needs
    p = std::aligned_alloc(64, rounded);
    if (!p) return nullptr;
  }
  std::lock_guard<std::mutex> lock(c.mu);
  c.sizes[p] = rounded;
  return p;
}

void host_free(void* p) {
  if (!p) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.sizes.find(p);
  if (it == c.sizes.end()) {
    std::free(p);  // a small block
    return;
  }
  const size_t n = it->second;
  if (n > kMaxCachedBytes / 2) {  // a block this large would crowd out the rest
    c.sizes.erase(it);
    std::free(p);
    return;
  }
  c.shrink_to_fit(n);
  c.free_by_size.emplace(n, c.lru.insert(c.lru.end(), Block{p, n}));
  c.cached += n;
}

void host_cache_release() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (const Block& b : c.lru) {
    c.sizes.erase(b.p);
    std::free(b.p);
  }
  c.free_by_size.clear();
  c.lru.clear();
  c.cached = 0;
}

size_t host_cache_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.cached;
}

}  // namespace qkv
