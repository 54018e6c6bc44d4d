// Storage: a contiguous byte range that tensors point into.
//
// Ownership: a Storage is held by shared_ptr; tensors that view it keep it alive.
//  - OwnedStorage: 64-byte aligned heap memory, zero-initialised unless asked otherwise; blocks of
//    at least buffer_pool::kMinBytes come from and go back to the buffer pool (buffer_pool.h).
//  - MappedFile: a whole file mapped copy-on-write (MAP_PRIVATE, read+write): writes through a
//    view change this process's pages only, never the file. Pages are loaded lazily, so reading
//    a model holds at most one copy of its weights.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "bitsmith/core/status.h"

namespace bitsmith {

class Storage {
 public:
  virtual ~Storage() = default;
  std::byte* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }

 protected:
  std::byte* data_ = nullptr;
  size_t nbytes_ = 0;
};

class OwnedStorage final : public Storage {
 public:
  static constexpr size_t kAlignment = 64;
  enum class Init { kZero, kUninitialized };
  // Allocates `nbytes` bytes, zeroed unless init is kUninitialized (then the contents are
  // unspecified: only for callers that write every byte). Throws std::bad_alloc on failure
  // (callers bound sizes first).
  explicit OwnedStorage(size_t nbytes, Init init = Init::kZero);
  ~OwnedStorage() override;
  OwnedStorage(const OwnedStorage&) = delete;
  OwnedStorage& operator=(const OwnedStorage&) = delete;

 private:
  size_t pooled_capacity_ = 0;  // > 0: the block came from the buffer pool
};

class MappedFile final : public Storage {
 public:
  // Maps `path` whole. An empty file maps to nbytes() == 0 and data() == nullptr.
  static Expected<std::shared_ptr<MappedFile>> open(const std::string& path);
  ~MappedFile() override;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  // Tells the kernel that [offset, offset+len) is no longer needed (drops resident pages that
  // were only read; re-reading them later reloads them from the file).
  void release_range(size_t offset, size_t len) const;

 private:
  MappedFile() = default;
  std::string path_;
};

}  // namespace bitsmith
