#include "bitsmith/io/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace bitsmith {
namespace {
std::atomic<int> g_counter{0};
}

Expected<AtomicFile> AtomicFile::create(const std::string& path) {
  AtomicFile f;
  f.path_ = path;
  f.temp_path_ = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(g_counter++);
  f.file_ = std::fopen(f.temp_path_.c_str(), "wb");
  if (!f.file_) return io_error(path + ": cannot create output: " + std::strerror(errno));
  std::setvbuf(f.file_, nullptr, _IOFBF, 1 << 20);
  return f;
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : path_(std::move(o.path_)), temp_path_(std::move(o.temp_path_)), file_(o.file_),
      size_(o.size_), committed_(o.committed_) {
  o.file_ = nullptr;
  o.committed_ = true;  // the moved-from object owns nothing to clean up
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_ && !temp_path_.empty()) std::remove(temp_path_.c_str());
}

Status AtomicFile::write(const void* data, size_t nbytes) {
  if (!file_) return io_error(path_ + ": write after commit");
  if (nbytes == 0) return Status::ok();
  if (std::fwrite(data, 1, nbytes, file_) != nbytes)
    return io_error(path_ + ": write failed: " + std::strerror(errno));
  size_ += nbytes;
  return Status::ok();
}

Status AtomicFile::commit() {
  if (!file_) return io_error(path_ + ": commit twice");
  const bool flushed = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const int err = errno;
  std::fclose(file_);
  file_ = nullptr;
  if (!flushed) return io_error(path_ + ": cannot flush: " + std::strerror(err));
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0)
    return io_error(path_ + ": cannot rename temporary file into place: " + std::strerror(errno));
  committed_ = true;
  return Status::ok();
}

Status write_file_atomic(const std::string& path, const void* data, size_t nbytes) {
  BS_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path));
  BS_TRY(f.write(data, nbytes));
  return f.commit();
}

}  // namespace bitsmith
