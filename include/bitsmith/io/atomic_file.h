// AtomicFile: write a file so that a failed run never leaves a half-written output.
//
// Bytes go to a temporary file next to `path` ("<path>.tmp-<pid>-<n>"); commit() flushes,
// fsyncs and renames it over `path`. If commit() is never called (error, exception), the
// destructor removes the temporary file. Not thread-safe; one writer per object.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

#include "bitsmith/core/status.h"

namespace bitsmith {

class AtomicFile {
 public:
  // Opens the temporary file. Error (kIoError) names `path` when the folder is not writable.
  static Expected<AtomicFile> create(const std::string& path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile();

  Status write(const void* data, size_t nbytes);
  // Bytes written so far.
  size_t size() const { return size_; }
  // Publishes the file at `path`. After commit() the object is spent.
  Status commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFile() = default;
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  size_t size_ = 0;
  bool committed_ = false;
};

// Writes `nbytes` to `path` atomically.
Status write_file_atomic(const std::string& path, const void* data, size_t nbytes);

}  // namespace bitsmith
