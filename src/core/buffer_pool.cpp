#include "bitsmith/core/buffer_pool.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

namespace bitsmith::buffer_pool {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kGranule = 4096;

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kStartLimit = 0;  // AddressSanitizer builds free every block, so it catches use after free
#else
constexpr size_t kStartLimit = kDefaultLimit;
#endif

struct Pool {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // capacity -> block
  size_t cached = 0;
  size_t limit = kStartLimit;
  Stats counters;

  Pool() {
    if (const char* env = std::getenv("BITSMITH_POOL_LIMIT_MB")) {
      char* end = nullptr;
      const unsigned long long mb = std::strtoull(env, &end, 10);
      if (end != env && *end == '\0') limit = static_cast<size_t>(mb) << 20;
    }
  }
  ~Pool() { drop_to(0); }

  // Frees cached blocks, largest first, until at most `target` bytes stay cached. Caller holds mu
  // (or is the destructor).
  void drop_to(size_t target) {
    while (cached > target && !free_blocks.empty()) {
      auto it = std::prev(free_blocks.end());
      cached -= it->first;
      std::free(it->second);
      free_blocks.erase(it);
    }
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: blocks may be released during static teardown
  return *p;
}

}  // namespace

void* acquire(size_t nbytes, size_t* capacity) {
  if (nbytes < kMinBytes) return nullptr;
  const size_t want = (nbytes + kGranule - 1) / kGranule * kGranule;
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    ++p.counters.acquired;
    auto it = p.free_blocks.lower_bound(want);
    if (it != p.free_blocks.end() && it->first - want <= it->first / 8) {
      void* block = it->second;
      *capacity = it->first;
      p.cached -= it->first;
      p.free_blocks.erase(it);
      ++p.counters.reused;
      return block;
    }
  }
  void* block = std::aligned_alloc(kAlignment, want);
  if (!block) throw std::bad_alloc();
  *capacity = want;
  return block;
}

void release(void* block, size_t capacity) {
  if (!block) return;
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  if (capacity > p.limit) {
    std::free(block);
    return;
  }
  p.free_blocks.emplace(capacity, block);
  p.cached += capacity;
  p.drop_to(p.limit);
}

Stats stats() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  Stats s = p.counters;
  s.cached_bytes = p.cached;
  s.limit_bytes = p.limit;
  return s;
}

void set_limit_bytes(size_t limit) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.limit = limit;
  p.drop_to(limit);
}

void trim() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.drop_to(0);
}

}  // namespace bitsmith::buffer_pool
