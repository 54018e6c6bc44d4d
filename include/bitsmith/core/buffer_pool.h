// BufferPool: a process-wide cache of large, freed, 64-byte aligned heap blocks.
//
// Why: the executor allocates every intermediate tensor afresh on each run. Blocks of a few
// megabytes come from mmap and go back to the kernel when freed, so each run page-faults (and
// the kernel zeroes) every page of every large intermediate again. Keeping freed blocks for
// reuse removes that cost (it is what ONNX Runtime's arena allocator does).
//
// Contract:
//  - acquire(n) returns a block of at least n bytes (its capacity, a multiple of 4096, is
//    written to *capacity) or nullptr when n is below kMinBytes (the caller uses malloc then).
//    Contents are unspecified (a reused block holds old data).
//  - release(p, capacity) takes back a block from acquire(); it is cached while the cache
//    holds at most limit_bytes() in total, otherwise freed. Cached blocks are reused best-fit,
//    only for requests of at least 7/8 of their capacity (no large block serves a small one).
//  - Thread-safe (one mutex; the executor allocates a few dozen blocks per run).
//  - The cache is bounded (default kDefaultLimit; 0 in AddressSanitizer builds, so that a use
//    after free is caught; BITSMITH_POOL_LIMIT_MB overrides it, 0 disables caching) and trim()
//    frees every cached block.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bitsmith::buffer_pool {

inline constexpr size_t kMinBytes = size_t{256} << 10;       // smaller blocks use plain malloc
inline constexpr size_t kDefaultLimit = size_t{512} << 20;   // bytes cached at most

void* acquire(size_t nbytes, size_t* capacity);
void release(void* p, size_t capacity);

struct Stats {
  int64_t acquired = 0;   // acquire() calls that returned a block
  int64_t reused = 0;     // of those, served from the cache
  size_t cached_bytes = 0;
  size_t limit_bytes = 0;
};
Stats stats();
void set_limit_bytes(size_t limit);  // also trims the cache down to the new limit
void trim();

}  // namespace bitsmith::buffer_pool
