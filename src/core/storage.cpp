#include "bitsmith/core/storage.h"
#include "bitsmith/core/buffer_pool.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

namespace bitsmith {

OwnedStorage::OwnedStorage(size_t nbytes, Init init) {
  nbytes_ = nbytes;
  if (nbytes == 0) return;
  void* p = buffer_pool::acquire(nbytes, &pooled_capacity_);
  size_t rounded = pooled_capacity_;
  if (!p) {
    rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
    p = std::aligned_alloc(kAlignment, rounded);
    if (!p) throw std::bad_alloc();
  }
  if (init == Init::kZero) std::memset(p, 0, rounded);
  data_ = static_cast<std::byte*>(p);
}

OwnedStorage::~OwnedStorage() {
  if (pooled_capacity_ > 0) buffer_pool::release(data_, pooled_capacity_);
  else std::free(data_);
}

Expected<std::shared_ptr<MappedFile>> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error(path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error(path + ": not a regular file");
  }
  std::shared_ptr<MappedFile> mf(new MappedFile());
  mf->path_ = path;
  mf->nbytes_ = static_cast<size_t>(st.st_size);
  if (mf->nbytes_ > 0) {
    void* p = ::mmap(nullptr, mf->nbytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return io_error(path + ": cannot map: " + std::strerror(err));
    }
    mf->data_ = static_cast<std::byte*>(p);
  }
  ::close(fd);
  return mf;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, nbytes_);
}

void MappedFile::release_range(size_t offset, size_t len) const {
  if (!data_ || offset >= nbytes_) return;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t begin = (offset + page - 1) / page * page;  // only whole pages inside the range
  size_t end = (offset + len) / page * page;
  if (end > nbytes_) end = nbytes_ / page * page;
  if (end > begin) ::madvise(data_ + begin, end - begin, MADV_DONTNEED);
}

}  // namespace bitsmith
