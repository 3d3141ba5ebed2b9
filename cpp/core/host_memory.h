#pragma once
// Host memory for tensors: 64-byte aligned blocks. Large blocks are recycled: a training step frees
// the activations and gradients that the next step asks for again in the same sizes, and glibc
// serves blocks this large with mmap (or trims them off the heap), so without a cache every step
// would unmap them and fault fresh zeroed pages in again (seen as ~5% of an MLP step). Freed blocks
// of at least kMinCachedBytes are kept by exact size, up to kMaxCachedBytes in all (the oldest
// dropped first); smaller ones go straight back to malloc, whose arenas already reuse them.
#include <cstddef>

namespace qkv {

constexpr size_t kMinCachedBytes = size_t{64} << 10;
constexpr size_t kMaxCachedBytes = size_t{256} << 20;

void* host_alloc(size_t nbytes);  // null on failure
void host_free(void* p);
// Returns every cached block to the system (tests, and callers that want the memory back now).
void host_cache_release();
// Bytes held in the cache now.
size_t host_cache_bytes();

}  // namespace qkv
