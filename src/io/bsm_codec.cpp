// .bsm encodings and coders; the byte layouts are documented in include/bitsmith/io/bsm.h.
#include "io/bsm_codec.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <unordered_set>

namespace bitsmith::bsm {

std::string_view coder_name(Coder c) {
  switch (c) {
    case Coder::kNone: return "none";
    case Coder::kHuffman: return "huffman";
    case Coder::kDeflate: return "deflate";
  }
  return "?";
}

std::string_view encoding_name(Encoding e) {
  switch (e) {
    case Encoding::kRaw: return "raw";
    case Encoding::kPalette: return "palette";
    case Encoding::kSparse: return "sparse";
    case Encoding::kStrings: return "strings";
    case Encoding::kPlanes: return "planes";
  }
  return "?";
}

bool word_layout(DType t, int64_t numel, size_t* w, size_t* n) {
  const auto count = static_cast<size_t>(numel);
  if (t == DType::kC64 || t == DType::kC128) {
    *w = t == DType::kC64 ? 4 : 8;
    *n = 2 * count;
    return true;
  }
  const int bits = dtype_bits(t);
  if (bits == 4) {
    *w = 1;
    *n = (count + 1) / 2;
    return true;
  }
  if (bits != 8 && bits != 16 && bits != 32 && bits != 64) return false;
  *w = static_cast<size_t>(bits / 8);
  *n = count;
  return true;
}

bool valid_coder(uint8_t c) { return c <= static_cast<uint8_t>(Coder::kDeflate); }

// ---- byte reader / writer ----

void ByteWriter::varint(uint64_t v) {
  while (v >= 0x80) {
    u8(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  u8(static_cast<uint8_t>(v));
}

bool ByteReader::le(uint64_t* v, int n) {
  if (remaining() < static_cast<uint64_t>(n)) return false;
  uint64_t x = 0;
  for (int i = 0; i < n; ++i) x |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
  pos_ += static_cast<size_t>(n);
  *v = x;
  return true;
}

bool ByteReader::u8(uint8_t* v) {
  uint64_t x = 0;
  if (!le(&x, 1)) return false;
  *v = static_cast<uint8_t>(x);
  return true;
}
bool ByteReader::u16(uint16_t* v) {
  uint64_t x = 0;
  if (!le(&x, 2)) return false;
  *v = static_cast<uint16_t>(x);
  return true;
}
bool ByteReader::u32(uint32_t* v) {
  uint64_t x = 0;
  if (!le(&x, 4)) return false;
  *v = static_cast<uint32_t>(x);
  return true;
}
bool ByteReader::u64(uint64_t* v) { return le(v, 8); }

bool ByteReader::varint(uint64_t* v) {
  uint64_t x = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos_ + static_cast<size_t>(i) >= data_.size()) return false;
    const auto byte = static_cast<uint64_t>(data_[pos_ + i]);
    if (i == 9 && byte > 1) return false;  // past 64 bits
    x |= (byte & 0x7f) << (7 * i);
    if (!(byte & 0x80)) {
      pos_ += static_cast<size_t>(i) + 1;
      *v = x;
      return true;
    }
  }
  return false;
}

bool ByteReader::bytes(uint64_t n, std::span<const std::byte>* out) {
  if (remaining() < n) return false;
  *out = data_.subspan(pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return true;
}

// ---- coders ----

namespace {

constexpr size_t kZChunk = size_t{1} << 30;  // zlib counts in 32-bit uInt

std::string zlib_message(const z_stream& s, int ret) {
  return s.msg ? std::string(s.msg) : "zlib error " + std::to_string(ret);
}

}  // namespace

bool deflate_bytes(std::span<const std::byte> in, Coder coder, std::string* result, size_t segment) {
  z_stream s{};
  const int strategy = coder == Coder::kHuffman ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY;
  // windowBits -15: a raw deflate stream (the container has its own CRCs).
  if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 9, strategy) != Z_OK) return false;
  std::string& out = *result;
  out.clear();
  out.resize(static_cast<size_t>(deflateBound(&s, static_cast<uLong>(std::min(in.size(), size_t{ULONG_MAX})))) + 64);
  const size_t seg = segment ? segment : in.size() + 1;
  size_t in_pos = 0, out_pos = 0;
  bool ok = true;
  for (;;) {
    const size_t take = std::min({seg - in_pos % seg, kZChunk, in.size() - in_pos});
    s.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + in_pos));
    s.avail_in = static_cast<uInt>(take);
    in_pos += take;
    const bool last = in_pos == in.size();
    // Z_BLOCK at a segment's end: the next bytes start a new block with its own Huffman codes.
    const int flush = last ? Z_FINISH : (segment && in_pos % seg == 0) ? Z_BLOCK : Z_NO_FLUSH;
    int ret = Z_OK;
    do {
      if (out_pos == out.size()) out.resize(out.size() * 2 + 64);
      const size_t room = std::min(kZChunk, out.size() - out_pos);
      s.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
      s.avail_out = static_cast<uInt>(room);
      ret = deflate(&s, flush);
      out_pos += room - s.avail_out;
      if (ret == Z_STREAM_ERROR) ok = false;
    } while (ok && (s.avail_out == 0 || (last && ret != Z_STREAM_END)));
    if (!ok || last) break;
  }
  deflateEnd(&s);
  out.resize(out_pos);
  return ok;
}

namespace {

// Inflates a raw deflate stream into exactly `decoded_size` bytes.
Status inflate_exact(std::span<const std::byte> in, uint64_t decoded_size, std::string* out) {
  z_stream s{};
  if (inflateInit2(&s, -15) != Z_OK) return internal_error("zlib inflateInit2 failed");
  struct End {
    z_stream* s;
    ~End() { inflateEnd(s); }
  } end{&s};
  out->clear();
  size_t in_pos = 0;
  uint64_t produced = 0;
  unsigned char scratch = 0;  // catches output past decoded_size
  const std::string size_str = std::to_string(decoded_size);
  for (;;) {
    if (s.avail_in == 0 && in_pos < in.size()) {
      const size_t take = std::min(kZChunk, in.size() - in_pos);
      s.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + in_pos));
      s.avail_in = static_cast<uInt>(take);
      in_pos += take;
    }
    bool into_scratch = false;
    size_t room = 0;
    if (produced < decoded_size) {
      if (produced == out->size()) {
        const uint64_t grow = std::max<uint64_t>(produced, 65536);
        out->resize(static_cast<size_t>(std::min<uint64_t>(decoded_size, produced + grow)));
      }
      room = std::min(kZChunk, out->size() - static_cast<size_t>(produced));
      s.next_out = reinterpret_cast<Bytef*>(out->data() + produced);
    } else {
      into_scratch = true;
      room = 1;
      s.next_out = &scratch;
    }
    s.avail_out = static_cast<uInt>(room);
    const int ret = inflate(&s, Z_NO_FLUSH);
    const size_t wrote = room - s.avail_out;
    if (into_scratch && wrote > 0)
      return invalid_model("deflate stream inflates to more than " + size_str + " bytes");
    produced += wrote;
    if (ret == Z_STREAM_END) break;
    if (ret == Z_BUF_ERROR || (ret == Z_OK && wrote == 0 && s.avail_in == 0 && in_pos == in.size())) {
      if (s.avail_in == 0 && in_pos == in.size())
        return invalid_model("deflate stream is truncated after " + std::to_string(produced) + " of " +
                             size_str + " bytes");
      continue;
    }
    if (ret != Z_OK) return invalid_model("corrupt deflate stream: " + zlib_message(s, ret));
  }
  if (produced != decoded_size)
    return invalid_model("deflate stream inflates to " + std::to_string(produced) + " bytes, expected " + size_str);
  const uint64_t left = s.avail_in + (in.size() - in_pos);
  if (left != 0)
    return invalid_model(std::to_string(left) + " bytes follow the end of the deflate stream");
  return Status::ok();
}

}  // namespace

Status decode_coder(Coder coder, std::span<const std::byte> stored, uint64_t decoded_size, std::string* out) {
  if (coder == Coder::kNone) {
    if (stored.size() != decoded_size)
      return invalid_model("stored size " + std::to_string(stored.size()) + " differs from decoded size " +
                           std::to_string(decoded_size) + " with coder 'none'");
    out->assign(reinterpret_cast<const char*>(stored.data()), stored.size());
    return Status::ok();
  }
  return inflate_exact(stored, decoded_size, out);
}

// ---- encodings: writing ----

namespace {

uint64_t load_word(const std::byte* p, size_t w) {
  uint64_t v = 0;
  std::memcpy(&v, p, w);
  return v;
}

// Sorted distinct words; false when there are more than 256.
bool distinct_words(const std::byte* data, size_t n, size_t w, std::vector<uint64_t>* out) {
  out->clear();
  if (w == 1) {
    bool seen[256] = {};
    for (size_t i = 0; i < n; ++i) seen[static_cast<uint8_t>(data[i])] = true;
    for (int v = 0; v < 256; ++v)
      if (seen[v]) out->push_back(static_cast<uint64_t>(v));
    return true;
  }
  std::unordered_set<uint64_t> set;
  for (size_t i = 0; i < n; ++i) {
    set.insert(load_word(data + i * w, w));
    if (set.size() > 256) return false;
  }
  out->assign(set.begin(), set.end());
  std::sort(out->begin(), out->end());
  return true;
}

int bits_for(size_t k) {
  int b = 1;
  while ((size_t{1} << b) < k) ++b;
  return b;
}

// Palette payload (layout in bsm.h) with `b` index bits.
std::string palette_payload(const std::vector<uint64_t>& codebook, const std::vector<uint8_t>& idx, size_t w,
                            int b) {
  ByteWriter out;
  out.u8(static_cast<uint8_t>(b));
  out.u16(static_cast<uint16_t>(codebook.size()));
  for (uint64_t v : codebook) out.bytes(&v, w);
  std::string packed((idx.size() * static_cast<size_t>(b) + 7) / 8, '\0');
  uint64_t bit = 0;
  for (uint8_t v : idx) {
    const size_t at = static_cast<size_t>(bit >> 3);
    const unsigned shift = static_cast<unsigned>(bit & 7);
    packed[at] = static_cast<char>(static_cast<uint8_t>(packed[at]) | static_cast<uint8_t>(v << shift));
    if (shift + static_cast<unsigned>(b) > 8)
      packed[at + 1] = static_cast<char>(static_cast<uint8_t>(packed[at + 1]) | static_cast<uint8_t>(v >> (8 - shift)));
    bit += static_cast<uint64_t>(b);
  }
  out.bytes(packed);
  return std::move(out.str());
}

// Palette payloads at the smallest b and (when smaller than 8) at b = 8; empty when the words
// have more than 256 distinct values.
std::vector<std::string> palette_candidates(const std::byte* data, size_t n, size_t w) {
  std::vector<uint64_t> codebook;
  if (n == 0 || !distinct_words(data, n, w, &codebook)) return {};
  std::vector<uint8_t> idx(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t v = load_word(data + i * w, w);
    idx[i] = static_cast<uint8_t>(std::lower_bound(codebook.begin(), codebook.end(), v) - codebook.begin());
  }
  const int b = bits_for(codebook.size());
  std::vector<std::string> out;
  out.push_back(palette_payload(codebook, idx, w, b));
  if (b < 8) out.push_back(palette_payload(codebook, idx, w, 8));
  return out;
}

bool is_zero_word(const std::byte* p, size_t w) {
  for (size_t i = 0; i < w; ++i)
    if (p[i] != std::byte{0}) return false;
  return true;
}

// Sparse payloads (one per value encoding tried); empty when fewer than half the words are zero.
std::vector<std::string> sparse_candidates(const std::byte* data, size_t n, size_t w) {
  size_t nnz = 0;
  for (size_t i = 0; i < n; ++i) nnz += is_zero_word(data + i * w, w) ? 0 : 1;
  if (n == 0 || nnz * 2 > n) return {};
  ByteWriter head;
  head.varint(nnz);
  std::string values;
  values.reserve(nnz * w);
  size_t prev = 0;
  bool first = true;
  for (size_t i = 0; i < n; ++i) {
    if (is_zero_word(data + i * w, w)) continue;
    head.varint(first ? i : i - prev - 1);
    values.append(reinterpret_cast<const char*>(data + i * w), w);
    prev = i;
    first = false;
  }
  std::vector<std::string> out;
  std::string raw = head.str();
  raw.push_back(static_cast<char>(Encoding::kRaw));
  raw += values;
  out.push_back(std::move(raw));
  for (const std::string& pal :
       palette_candidates(reinterpret_cast<const std::byte*>(values.data()), nnz, w)) {
    std::string s = head.str();
    s.push_back(static_cast<char>(Encoding::kPalette));
    s += pal;
    out.push_back(std::move(s));
  }
  return out;
}

// Byte planes: byte k of every word, for k = 0 .. w-1 (float exponents end up together, where
// Huffman codes them in a few bits).
std::string planes_payload(const std::byte* data, size_t n, size_t w) {
  std::string out(n * w, '\0');
  for (size_t k = 0; k < w; ++k)
    for (size_t i = 0; i < n; ++i) out[k * n + i] = static_cast<char>(data[i * w + k]);
  return out;
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Keeps the smallest (encoding, coder) seen; ties keep the earlier one.
class Chooser {
 public:
  Chooser(uint64_t tensor_bytes, bool try_deflate) : tensor_bytes_(tensor_bytes), try_deflate_(try_deflate) {}

  // `segment`: bytes per deflate block (0 = zlib's choice), e.g. one byte plane.
  void consider(Encoding e, std::span<const std::byte> payload, size_t segment = 0) {
    offer(e, Coder::kNone, payload, std::string(reinterpret_cast<const char*>(payload.data()), payload.size()), 0);
    std::string z;
    if (deflate_bytes(payload, Coder::kHuffman, &z, segment)) offer(e, Coder::kHuffman, payload, std::move(z), segment);
  }

  EncodedPayload finish() {
    if (try_deflate_ && has_best_) {
      std::string lz;
      if (deflate_bytes(as_bytes(best_payload_), Coder::kDeflate, &lz, best_segment_) && lz.size() < best_.stored.size() &&
          expansion_ok(tensor_bytes_, lz.size())) {
        best_.coder = Coder::kDeflate;
        best_.stored = std::move(lz);
      }
    }
    return std::move(best_);
  }

 private:
  void offer(Encoding e, Coder c, std::span<const std::byte> payload, std::string stored, size_t segment) {
    if (has_best_ && stored.size() >= best_.stored.size()) return;
    // An empty payload is allowed (an empty tensor); otherwise respect the reader's limit.
    if (!expansion_ok(tensor_bytes_, stored.size())) return;
    best_.encoding = e;
    best_.coder = c;
    best_.decoded_size = payload.size();
    best_.stored = std::move(stored);
    best_payload_.assign(reinterpret_cast<const char*>(payload.data()), payload.size());
    best_segment_ = segment;
    has_best_ = true;
  }

  uint64_t tensor_bytes_;
  bool try_deflate_;
  bool has_best_ = false;
  EncodedPayload best_;
  std::string best_payload_;
  size_t best_segment_ = 0;
};

}  // namespace

EncodedPayload encode_words(const std::byte* data, size_t n, size_t w, bool try_deflate) {
  Chooser chooser(static_cast<uint64_t>(n) * w, try_deflate);
  chooser.consider(Encoding::kRaw, std::span<const std::byte>(data, n * w));  // always allowed
  if (w > 1 && n > 1) chooser.consider(Encoding::kPlanes, as_bytes(planes_payload(data, n, w)), n);
  for (const std::string& p : palette_candidates(data, n, w)) chooser.consider(Encoding::kPalette, as_bytes(p));
  for (const std::string& p : sparse_candidates(data, n, w)) chooser.consider(Encoding::kSparse, as_bytes(p));
  return chooser.finish();
}

EncodedPayload encode_strings(const std::vector<std::string>& values, bool try_deflate) {
  ByteWriter out;
  for (const std::string& s : values) {
    out.varint(s.size());
    out.bytes(s);
  }
  Chooser chooser(0, try_deflate);
  chooser.consider(Encoding::kStrings, as_bytes(out.str()));
  return chooser.finish();
}

// ---- encodings: reading ----

namespace {

std::string str(uint64_t v) { return std::to_string(v); }

// Checks the palette header and sizes; *r is left at the index bytes.
Status palette_header(ByteReader* rp, std::span<const std::byte> payload, size_t n, size_t w, uint8_t* bp,
                      uint16_t* kp, std::span<const std::byte>* codebook_out) {
  ByteReader& r = *rp;
  uint8_t b = 0;
  uint16_t k = 0;
  if (!r.u8(&b) || !r.u16(&k)) return invalid_model("palette header truncated (" + str(payload.size()) + " bytes)");
  if (b < 1 || b > 8) return invalid_model("palette index bits " + str(b) + ", expected 1..8");
  if (k < 1 || k > (1u << b))
    return invalid_model("palette codebook size " + str(k) + ", expected 1.." + str(1u << b) + " for " + str(b) +
                         "-bit indices");
  std::span<const std::byte> codebook;
  if (!r.bytes(static_cast<uint64_t>(k) * w, &codebook))
    return invalid_model("palette codebook of " + str(k) + " x " + str(w) + " bytes is truncated");
  const uint64_t index_bytes = (static_cast<uint64_t>(n) * b + 7) / 8;
  if (r.remaining() != index_bytes)
    return invalid_model("palette has " + str(r.remaining()) + " bytes of indices, expected " + str(index_bytes) +
                         " for " + str(n) + " words at " + str(b) + " bits");
  *bp = b;
  *kp = k;
  *codebook_out = codebook;
  return Status::ok();
}

Status decode_palette(std::span<const std::byte> payload, size_t n, size_t w, std::byte* out,
                      std::string* description) {
  ByteReader r(payload);
  uint8_t b = 0;
  uint16_t k = 0;
  std::span<const std::byte> codebook;
  BS_TRY(palette_header(&r, payload, n, w, &b, &k, &codebook));
  const std::byte* idx = payload.data() + r.pos();
  const unsigned mask = (1u << b) - 1;
  uint64_t bit = 0;
  for (size_t i = 0; i < n; ++i, bit += b) {
    const size_t at = static_cast<size_t>(bit >> 3);
    const unsigned shift = static_cast<unsigned>(bit & 7);
    unsigned v = static_cast<unsigned>(idx[at]) >> shift;
    if (shift + b > 8) v |= static_cast<unsigned>(idx[at + 1]) << (8 - shift);
    v &= mask;
    if (v >= k)
      return invalid_model("palette index " + str(v) + " (word " + str(i) + ") >= codebook size " + str(k));
    std::memcpy(out + i * w, codebook.data() + static_cast<size_t>(v) * w, w);
  }
  *description = "palette(b=" + str(b) + ",K=" + str(k) + ")";
  return Status::ok();
}

Status decode_sparse(std::span<const std::byte> payload, size_t n, size_t w, std::byte* out,
                     std::string* description) {
  ByteReader r(payload);
  uint64_t nnz = 0;
  if (!r.varint(&nnz)) return invalid_model("sparse nonzero count: truncated or overlong varint");
  if (nnz > n) return invalid_model("sparse nonzero count " + str(nnz) + " > " + str(n) + " words");
  if (nnz > r.remaining())
    return invalid_model("sparse nonzero count " + str(nnz) + " but only " + str(r.remaining()) + " bytes follow");
  std::vector<size_t> positions(static_cast<size_t>(nnz));
  uint64_t prev = 0;
  for (uint64_t j = 0; j < nnz; ++j) {
    uint64_t delta = 0;
    if (!r.varint(&delta))
      return invalid_model("sparse position " + str(j) + ": truncated or overlong varint");
    const uint64_t pos = j == 0 ? delta : (delta >= n ? n : prev + 1 + delta);
    if (pos >= n) return invalid_model("sparse position " + str(j) + " is past the last of " + str(n) + " words");
    positions[j] = static_cast<size_t>(pos);
    prev = pos;
  }
  uint8_t value_encoding = 0;
  if (!r.u8(&value_encoding)) return invalid_model("sparse value encoding byte is missing");
  if (value_encoding != static_cast<uint8_t>(Encoding::kRaw) && value_encoding != static_cast<uint8_t>(Encoding::kPalette))
    return invalid_model("sparse value encoding " + str(value_encoding) + ", expected 0 (raw) or 1 (palette)");
  std::vector<std::byte> values(static_cast<size_t>(nnz) * w);
  std::string inner;
  BS_TRY(decode_words(static_cast<Encoding>(value_encoding), payload.subspan(r.pos()), static_cast<size_t>(nnz), w,
                      values.data(), &inner));
  for (size_t j = 0; j < positions.size(); ++j) std::memcpy(out + positions[j] * w, values.data() + j * w, w);
  *description = "sparse(nnz=" + str(nnz) + "," + inner + ")";
  return Status::ok();
}

Status raw_size(std::span<const std::byte> payload, size_t n, size_t w) {
  if (payload.size() != static_cast<uint64_t>(n) * w)
    return invalid_model("raw payload has " + str(payload.size()) + " bytes, expected " +
                         str(static_cast<uint64_t>(n) * w) + " (" + str(n) + " words of " + str(w) + " bytes)");
  return Status::ok();
}

}  // namespace

Status precheck_words(Encoding encoding, std::span<const std::byte> payload, size_t n, size_t w) {
  if (encoding == Encoding::kRaw || encoding == Encoding::kPlanes) return raw_size(payload, n, w);
  if (encoding == Encoding::kPalette) {
    ByteReader r(payload);
    uint8_t b = 0;
    uint16_t k = 0;
    std::span<const std::byte> codebook;
    return palette_header(&r, payload, n, w, &b, &k, &codebook);
  }
  return Status::ok();
}

Status decode_words(Encoding encoding, std::span<const std::byte> payload, size_t n, size_t w, std::byte* out,
                    std::string* description) {
  switch (encoding) {
    case Encoding::kRaw:
      BS_TRY(raw_size(payload, n, w));
      if (!payload.empty()) std::memcpy(out, payload.data(), payload.size());
      *description = "raw";
      return Status::ok();
    case Encoding::kPlanes:
      BS_TRY(raw_size(payload, n, w));
      for (size_t k = 0; k < w; ++k)
        for (size_t i = 0; i < n; ++i) out[i * w + k] = payload[k * n + i];
      *description = "planes";
      return Status::ok();
    case Encoding::kPalette: return decode_palette(payload, n, w, out, description);
    case Encoding::kSparse: return decode_sparse(payload, n, w, out, description);
    case Encoding::kStrings: break;
  }
  return invalid_model("encoding " + str(static_cast<uint8_t>(encoding)) +
                       " is not valid for a numeric tensor; expected 0 (raw), 1 (palette), 2 (sparse) or 4 (planes)");
}

Status decode_strings(std::span<const std::byte> payload, size_t numel, std::vector<std::string>* out) {
  ByteReader r(payload);
  if (numel > payload.size())
    return invalid_model(str(numel) + " strings cannot fit in " + str(payload.size()) + " bytes");
  out->assign(numel, std::string());
  for (size_t i = 0; i < numel; ++i) {
    uint64_t len = 0;
    std::span<const std::byte> s;
    if (!r.varint(&len) || !r.bytes(len, &s))
      return invalid_model("string " + str(i) + " of " + str(numel) + " is truncated");
    (*out)[i].assign(reinterpret_cast<const char*>(s.data()), s.size());
  }
  if (r.remaining() != 0) return invalid_model(str(r.remaining()) + " bytes follow the last string");
  return Status::ok();
}

}  // namespace bitsmith::bsm
