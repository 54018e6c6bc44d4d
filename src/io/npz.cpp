// .npz = zip archive of .npy members (PKWARE APPNOTE 6.3). What is read:
//   end of central directory (EOCD, signature PK\5\6, last 22..65557 bytes), and when one of its
//   counts/offsets is saturated (0xFFFF / 0xFFFFFFFF) the zip64 EOCD locator (PK\6\7, right
//   before the EOCD) and the zip64 EOCD record (PK\6\6) it points to;
//   central directory headers (PK\1\2, 46 bytes + name + extra + comment) whose saturated sizes
//   and offset come from the zip64 extra field (id 0x0001);
//   local headers (PK\3\4, 30 bytes + name + extra), used only to find the data start: sizes
//   come from the central directory, so members written with a data descriptor (flag bit 3)
//   need no special case.
// Methods: 0 (stored) and 8 (raw deflate, via zlib). Encrypted members are refused.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "bitsmith/io/atomic_file.h"
#include "bitsmith/io/npy.h"

namespace bitsmith {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEocdLen = 22;
constexpr size_t kCentralLen = 46;
constexpr size_t kLocalLen = 30;
constexpr size_t kZip64EocdLen = 56;
constexpr size_t kZip64LocatorLen = 20;
constexpr uint32_t kSat32 = 0xffffffffu;
constexpr uint16_t kSat16 = 0xffffu;
// Deflate cannot expand data by more than about 1032:1; a member claiming more is corrupt.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr uint16_t kDosDate1980 = (0 << 9) | (1 << 5) | 1;  // 1980-01-01

uint64_t le(const std::byte* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
  return v;
}

struct Member {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0;
  uint64_t uncompressed = 0;
  uint64_t local_offset = 0;
};

// Bounds-checked reads over the mapped archive; errors name the place.
class ZipReader {
 public:
  ZipReader(const std::byte* data, size_t size) : d_(data), n_(size) {}

  bool has(uint64_t off, uint64_t len) const { return off <= n_ && len <= n_ - off; }
  uint64_t at(uint64_t off, int len) const { return le(d_ + off, len); }
  const std::byte* ptr(uint64_t off) const { return d_ + off; }
  size_t size() const { return n_; }

  Expected<size_t> find_eocd() const {
    if (n_ < kEocdLen) return data_error("not a zip file (too short for an end-of-central-directory record)");
    const size_t lowest = n_ > kEocdLen + 0xffff ? n_ - kEocdLen - 0xffff : 0;
    for (size_t pos = n_ - kEocdLen + 1; pos-- > lowest;)
      if (at(pos, 4) == kEocdSig && pos + kEocdLen + at(pos + 20, 2) == n_) return pos;
    return data_error("not a zip file (no end-of-central-directory record)");
  }

  // Fills count / offset / size of the central directory, from the zip64 record when needed.
  Status central_directory(uint64_t* count, uint64_t* offset, uint64_t* size) const {
    BS_ASSIGN_OR_RETURN(size_t eocd, find_eocd());
    *count = at(eocd + 10, 2);
    *size = at(eocd + 12, 4);
    *offset = at(eocd + 16, 4);
    if (*count == kSat16 || *size == kSat32 || *offset == kSat32) {
      if (eocd < kZip64LocatorLen || at(eocd - kZip64LocatorLen, 4) != kZip64LocatorSig)
        return data_error("zip: saturated end-of-central-directory record without a zip64 locator");
      const uint64_t rec = at(eocd - kZip64LocatorLen + 8, 8);
      if (!has(rec, kZip64EocdLen) || at(rec, 4) != kZip64EocdSig)
        return data_error("zip: zip64 end-of-central-directory record missing at offset " + std::to_string(rec));
      *count = at(rec + 32, 8);
      *size = at(rec + 40, 8);
      *offset = at(rec + 48, 8);
    }
    if (!has(*offset, *size))
      return data_error("zip: central directory (offset " + std::to_string(*offset) + ", " +
                        std::to_string(*size) + " bytes) runs past the end of the file");
    return Status::ok();
  }

  // Parses the central directory header at *pos and advances *pos past it.
  Expected<Member> central_entry(uint64_t* pos, uint64_t end) const {
    const uint64_t p = *pos;
    if (p + kCentralLen > end || at(p, 4) != kCentralSig)
      return data_error("zip: bad central directory header at offset " + std::to_string(p));
    Member m;
    m.flags = static_cast<uint16_t>(at(p + 8, 2));
    m.method = static_cast<uint16_t>(at(p + 10, 2));
    m.crc = static_cast<uint32_t>(at(p + 16, 4));
    m.compressed = at(p + 20, 4);
    m.uncompressed = at(p + 24, 4);
    const uint64_t name_len = at(p + 28, 2), extra_len = at(p + 30, 2), comment_len = at(p + 32, 2);
    m.local_offset = at(p + 42, 4);
    const uint64_t next = p + kCentralLen + name_len + extra_len + comment_len;
    if (next > end)
      return data_error("zip: central directory header at offset " + std::to_string(p) + " is truncated");
    m.name.assign(reinterpret_cast<const char*>(ptr(p + kCentralLen)), name_len);
    const Status extra = apply_zip64_extra(p + kCentralLen + name_len, extra_len, &m);
    if (!extra) return extra.with_context("zip: member '" + m.name + "'");
    *pos = next;
    return m;
  }

  // Start of the member's data, after its local header.
  Expected<uint64_t> data_offset(const Member& m) const {
    const uint64_t p = m.local_offset;
    if (!has(p, kLocalLen) || at(p, 4) != kLocalSig)
      return data_error("bad local header at offset " + std::to_string(p));
    const uint64_t start = p + kLocalLen + at(p + 26, 2) + at(p + 28, 2);
    if (!has(start, m.compressed))
      return data_error(std::to_string(m.compressed) + " data bytes at offset " + std::to_string(start) +
                        " run past the end of the file (" + std::to_string(n_) + " bytes)");
    return start;
  }

 private:
  // Zip64 extended information: the saturated fields, in the order usize, csize, offset.
  Status apply_zip64_extra(uint64_t p, uint64_t len, Member* m) const {
    const uint64_t end = p + len;
    while (p + 4 <= end) {
      const uint64_t id = at(p, 2), size = at(p + 2, 2);
      if (p + 4 + size > end) return data_error("truncated extra field");
      if (id == 0x0001) {
        uint64_t q = p + 4;
        for (uint64_t* field : {&m->uncompressed, &m->compressed, &m->local_offset}) {
          if (*field != kSat32) continue;
          if (q + 8 > p + 4 + size) return data_error("zip64 extra field too short");
          *field = at(q, 8);
          q += 8;
        }
      }
      p += 4 + size;
    }
    return Status::ok();
  }

  const std::byte* d_;
  size_t n_;
};

Status inflate_raw(const std::byte* src, uint64_t src_len, std::byte* dst, uint64_t dst_len) {
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return internal_error("zlib inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(src));
  zs.next_out = reinterpret_cast<Bytef*>(dst);
  uint64_t in_left = src_len, out_left = dst_len;
  int rc = Z_OK;
  constexpr uint64_t kChunk = 1u << 30;  // avail_in/out are 32-bit
  while (rc == Z_OK) {
    if (zs.avail_in == 0) {
      zs.avail_in = static_cast<uInt>(std::min(in_left, kChunk));
      in_left -= zs.avail_in;
    }
    if (zs.avail_out == 0) {
      zs.avail_out = static_cast<uInt>(std::min(out_left, kChunk));
      out_left -= zs.avail_out;
    }
    const uInt before_in = zs.avail_in, before_out = zs.avail_out;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && (before_in == 0 || before_out == 0)) break;  // no progress possible
  }
  const uint64_t produced = zs.total_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END)
    return data_error(rc == Z_DATA_ERROR ? "corrupt deflate data"
                                         : "deflate data ends early or inflates past the declared size");
  if (produced != dst_len)
    return data_error("inflated to " + std::to_string(produced) + " bytes, the directory declares " +
                      std::to_string(dst_len));
  return Status::ok();
}

uint32_t crc32_of(const std::byte* p, uint64_t n, uint32_t crc = 0) {
  uLong c = crc;
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<uint64_t>(n, 1u << 30));
    c = crc32(c, reinterpret_cast<const Bytef*>(p), chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(c);
}

// Member payload checks (errors without the "file:member" prefix; the caller adds it).
Expected<const std::byte*> member_bytes(const ZipReader& zip, const Member& m, uint64_t* start) {
  if (m.flags & 1u) return unsupported("member is encrypted");
  BS_ASSIGN_OR_RETURN(*start, zip.data_offset(m));
  if (m.method != 0 && m.method != 8)
    return unsupported("compression method " + std::to_string(m.method) + " (only stored and deflate are)");
  if (m.method == 0 && m.compressed != m.uncompressed)
    return data_error("stored member with " + std::to_string(m.compressed) + " compressed and " +
                      std::to_string(m.uncompressed) + " uncompressed bytes");
  if (m.method == 8 && m.uncompressed > m.compressed * kMaxDeflateRatio + 1024)
    return data_error("claims " + std::to_string(m.uncompressed) + " bytes from " + std::to_string(m.compressed) +
                      " deflated bytes, more than deflate can produce");
  return zip.ptr(*start);
}

Expected<Tensor> read_member(const ZipReader& zip, const Member& m, const std::shared_ptr<Storage>& file,
                             const std::string& display) {
  uint64_t start = 0;
  auto src = member_bytes(zip, m, &start);
  if (!src) return src.status().with_context(display);
  const Status bad_crc = data_error(display + ": CRC-32 mismatch (corrupt member)");
  if (m.method == 0) {
    if (crc32_of(*src, m.compressed) != m.crc) return bad_crc;
    return parse_npy_view(*src, m.compressed, display, file);
  }
  auto buffer = std::make_shared<OwnedStorage>(static_cast<size_t>(m.uncompressed));
  BS_TRY(inflate_raw(*src, m.compressed, buffer->data(), m.uncompressed).with_context(display));
  if (crc32_of(buffer->data(), m.uncompressed) != m.crc) return bad_crc;
  return parse_npy_view(buffer->data(), buffer->nbytes(), display, buffer);
}

void put(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// One member's local header (sizes known up front: no data descriptor).
std::string local_header(const std::string& name, uint32_t crc, uint64_t size) {
  const bool z64 = size >= kSat32;
  std::string h;
  put(h, kLocalSig, 4);
  put(h, z64 ? 45 : 20, 2);  // version needed
  put(h, 0, 2);              // flags
  put(h, 0, 2);              // method: stored
  put(h, 0, 2);              // time 00:00:00
  put(h, kDosDate1980, 2);
  put(h, crc, 4);
  put(h, z64 ? kSat32 : size, 4);
  put(h, z64 ? kSat32 : size, 4);
  put(h, name.size(), 2);
  put(h, z64 ? 20 : 0, 2);
  h += name;
  if (z64) {
    put(h, 0x0001, 2);
    put(h, 16, 2);
    put(h, size, 8);
    put(h, size, 8);
  }
  return h;
}

std::string central_header(const std::string& name, uint32_t crc, uint64_t size, uint64_t offset) {
  const bool big_size = size >= kSat32, big_off = offset >= kSat32;
  std::string extra;
  if (big_size || big_off) {
    put(extra, 0x0001, 2);
    put(extra, (big_size ? 16 : 0) + (big_off ? 8 : 0), 2);
    if (big_size) { put(extra, size, 8); put(extra, size, 8); }
    if (big_off) put(extra, offset, 8);
  }
  std::string h;
  put(h, kCentralSig, 4);
  put(h, (3 << 8) | 45, 2);  // made by: Unix, spec 4.5
  put(h, extra.empty() ? 20 : 45, 2);
  put(h, 0, 2);
  put(h, 0, 2);
  put(h, 0, 2);
  put(h, kDosDate1980, 2);
  put(h, crc, 4);
  put(h, big_size ? kSat32 : size, 4);
  put(h, big_size ? kSat32 : size, 4);
  put(h, name.size(), 2);
  put(h, extra.size(), 2);
  put(h, 0, 2);  // comment
  put(h, 0, 2);  // disk
  put(h, 0, 2);  // internal attributes
  put(h, static_cast<uint64_t>(0100644) << 16, 4);  // external: regular file rw-r--r--
  put(h, big_off ? kSat32 : offset, 4);
  return h + name + extra;
}

std::string end_records(uint64_t count, uint64_t cd_offset, uint64_t cd_size) {
  std::string h;
  const bool z64 = count >= kSat16 || cd_offset >= kSat32 || cd_size >= kSat32;
  if (z64) {
    const uint64_t rec = cd_offset + cd_size;
    put(h, kZip64EocdSig, 4);
    put(h, kZip64EocdLen - 12, 8);
    put(h, (3 << 8) | 45, 2);
    put(h, 45, 2);
    put(h, 0, 4);
    put(h, 0, 4);
    put(h, count, 8);
    put(h, count, 8);
    put(h, cd_size, 8);
    put(h, cd_offset, 8);
    put(h, kZip64LocatorSig, 4);
    put(h, 0, 4);
    put(h, rec, 8);
    put(h, 1, 4);
  }
  put(h, kEocdSig, 4);
  put(h, 0, 2);
  put(h, 0, 2);
  put(h, std::min<uint64_t>(count, kSat16), 2);
  put(h, std::min<uint64_t>(count, kSat16), 2);
  put(h, std::min<uint64_t>(cd_size, kSat32), 4);
  put(h, std::min<uint64_t>(cd_offset, kSat32), 4);
  put(h, 0, 2);
  return h;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Expected<std::vector<Tensor>> read_npz(const std::string& path) {
  BS_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::open(path));
  const ZipReader zip(file->data(), file->nbytes());
  uint64_t count = 0, cd_offset = 0, cd_size = 0;
  BS_TRY(zip.central_directory(&count, &cd_offset, &cd_size).with_context(path));
  if (count > cd_size / kCentralLen)
    return data_error(path + ": zip: " + std::to_string(count) + " entries cannot fit in a " +
                      std::to_string(cd_size) + "-byte central directory");
  std::vector<Tensor> out;
  uint64_t pos = cd_offset;
  for (uint64_t k = 0; k < count; ++k) {
    auto m = zip.central_entry(&pos, cd_offset + cd_size);
    if (!m) return m.status().with_context(path);
    if (ends_with(m->name, "/")) continue;
    const std::string display = path + ":" + m->name;
    if (!ends_with(m->name, ".npy")) return data_error(display + ": member is not a .npy file");
    BS_ASSIGN_OR_RETURN(Tensor t, read_member(zip, *m, file, display));
    t.set_name(m->name.substr(0, m->name.size() - 4));
    out.push_back(std::move(t));
  }
  return out;
}

Status write_npz(const std::vector<Tensor>& tensors, const std::string& path) {
  std::unordered_set<std::string> names;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    const std::string name = t.name().empty() ? "arr_" + std::to_string(i) : t.name();
    if (!npy_supports(t.dtype()))
      return unsupported(path + ": array '" + name + "': dtype " + std::string(dtype_name(t.dtype())) +
                         " has no .npy equivalent");
    if (!names.insert(name).second) return invalid_argument(path + ": two arrays are named '" + name + "'");
  }
  BS_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path));
  std::string central;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    const std::string name = (t.name().empty() ? "arr_" + std::to_string(i) : t.name()) + ".npy";
    const std::string head = npy_header(t);
    const uint64_t size = head.size() + t.nbytes();
    const uint32_t head_crc = crc32_of(reinterpret_cast<const std::byte*>(head.data()), head.size());
    const uint32_t crc = crc32_of(t.bytes(), t.nbytes(), head_crc);
    const uint64_t offset = f.size();
    const std::string local = local_header(name, crc, size);
    BS_TRY(f.write(local.data(), local.size()));
    BS_TRY(f.write(head.data(), head.size()));
    BS_TRY(f.write(t.bytes(), t.nbytes()));
    central += central_header(name, crc, size, offset);
  }
  const uint64_t cd_offset = f.size();
  BS_TRY(f.write(central.data(), central.size()));
  const std::string end = end_records(tensors.size(), cd_offset, central.size());
  BS_TRY(f.write(end.data(), end.size()));
  return f.commit();
}

Expected<Tensor> read_array(const std::string& spec) {
  std::string path = spec, member;
  const size_t colon = spec.rfind(':');
  if (colon != std::string::npos && ends_with(spec.substr(0, colon), ".npz")) {
    path = spec.substr(0, colon);
    member = spec.substr(colon + 1);
  }
  if (!ends_with(path, ".npz")) return read_npy(path);
  BS_ASSIGN_OR_RETURN(std::vector<Tensor> all, read_npz(path));
  std::string names;
  for (Tensor& t : all) {
    if (member.empty() ? all.size() == 1 : t.name() == member) return std::move(t);
    names += (names.empty() ? "" : ", ") + t.name();
  }
  if (member.empty())
    return invalid_argument(path + ": holds " + std::to_string(all.size()) + " arrays (" + names +
                            "); name one as " + path + ":<member>");
  return invalid_argument(path + ": no array '" + member + "' (it holds: " + names + ")");
}

}  // namespace bitsmith
