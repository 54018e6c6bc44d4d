#include "bitsmith/io/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <type_traits>

namespace bitsmith {
namespace {

// Deflate cannot expand data by more than about 1032:1.
constexpr uint64_t kMaxDeflateRatio = 1032;

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

std::optional<DType> idx_dtype(int code) {
  switch (code) {
    case 0x08: return DType::kU8;
    case 0x09: return DType::kI8;
    case 0x0B: return DType::kI16;
    case 0x0C: return DType::kI32;
    case 0x0D: return DType::kF32;
    case 0x0E: return DType::kF64;
    default: return std::nullopt;
  }
}

// Reads exactly `n` bytes unless the stream ends; returns the count read or an error.
Expected<uint64_t> read_fully(gzFile f, void* dst, uint64_t n) {
  auto* out = static_cast<unsigned char*>(dst);
  uint64_t done = 0;
  while (done < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<uint64_t>(n - done, 1u << 30));
    const int got = gzread(f, out + done, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      return data_error(std::string("corrupt compressed data: ") + (msg ? msg : "unknown zlib error"));
    }
    if (got == 0) break;
    done += static_cast<uint64_t>(got);
  }
  return done;
}

Status read_error_if_any(gzFile f) {
  int errnum = Z_OK;
  const char* msg = gzerror(f, &errnum);
  if (errnum != Z_OK && errnum != Z_STREAM_END)
    return data_error(std::string("corrupt compressed data: ") + (msg ? msg : "unknown zlib error"));
  return Status::ok();
}

void swap_to_native(std::byte* p, uint64_t nbytes, size_t unit) {
  if (unit == 1) return;
  for (uint64_t i = 0; i < nbytes; i += unit) std::reverse(p + i, p + i + unit);
}

Expected<Tensor> read_idx_impl(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return io_error(std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return io_error("not a regular file");
  GzHandle f(gzopen(path.c_str(), "rb"));
  if (!f) return io_error(std::string("cannot open: ") + std::strerror(errno));

  unsigned char magic[4];
  BS_ASSIGN_OR_RETURN(uint64_t got, read_fully(f.get(), magic, 4));
  if (got < 4) return data_error("truncated IDX header (" + std::to_string(got) + " bytes)");
  if (magic[0] != 0 || magic[1] != 0)
    return data_error("not an IDX file (magic must start with two zero bytes)");
  const std::optional<DType> dtype = idx_dtype(magic[2]);
  if (!dtype) {
    char code[8];
    std::snprintf(code, sizeof code, "0x%02x", magic[2]);
    return unsupported(std::string("unknown IDX element type ") + code);
  }
  const int ndims = magic[3];
  Shape shape(static_cast<size_t>(ndims));
  for (int d = 0; d < ndims; ++d) {
    unsigned char be[4];
    BS_ASSIGN_OR_RETURN(got, read_fully(f.get(), be, 4));
    if (got < 4) return data_error("truncated IDX header (dimension " + std::to_string(d) + ")");
    shape[d] = (int64_t{be[0]} << 24) | (int64_t{be[1]} << 16) | (int64_t{be[2]} << 8) | int64_t{be[3]};
  }
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  const uint64_t header_bytes = 4 + 4 * static_cast<uint64_t>(ndims);
  const uint64_t limit = gzdirect(f.get()) ? file_bytes - std::min(file_bytes, header_bytes)
                                           : file_bytes * kMaxDeflateRatio;
  const size_t itemsize = static_cast<size_t>(dtype_bits(*dtype) / 8);
  const int64_t numel = shape_numel(shape);
  if (numel < 0 || static_cast<uint64_t>(numel) > limit / itemsize)
    return data_error("dimensions " + shape_str(shape) + " need more data than a " + std::to_string(file_bytes) +
                      "-byte file can hold");
  Tensor t(*dtype, shape);
  const uint64_t want = t.nbytes();
  BS_ASSIGN_OR_RETURN(got, read_fully(f.get(), t.mutable_bytes(), want));
  BS_TRY(read_error_if_any(f.get()));
  if (got < want)
    return data_error("truncated: " + std::to_string(got) + " data bytes, dimensions " + shape_str(shape) +
                      " need " + std::to_string(want));
  unsigned char extra;
  BS_ASSIGN_OR_RETURN(got, read_fully(f.get(), &extra, 1));
  BS_TRY(read_error_if_any(f.get()));
  if (got != 0) return data_error("trailing bytes after the " + std::to_string(want) + " data bytes");
  swap_to_native(t.mutable_bytes(), want, itemsize);
  return t;
}

}  // namespace

Expected<Tensor> read_idx(const std::string& path) {
  auto t = read_idx_impl(path);
  if (!t) return t.status().with_context(path);
  return t;
}

}  // namespace bitsmith
