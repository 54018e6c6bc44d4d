// The .bsm encodings and coders (format: include/bitsmith/io/bsm.h): little-endian byte
// readers/writers, raw deflate / inflate through zlib, and the raw / palette / sparse / strings
// encodings of a tensor's words. Errors here carry no file prefix; the reader adds
// "<file>: tensor '<name>': ".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bitsmith/core/dtype.h"
#include "bitsmith/core/status.h"

namespace bitsmith::bsm {

enum class Encoding : uint8_t { kRaw = 0, kPalette = 1, kSparse = 2, kStrings = 3, kPlanes = 4 };
enum class Coder : uint8_t { kNone = 0, kHuffman = 1, kDeflate = 2 };

std::string_view coder_name(Coder c);
std::string_view encoding_name(Encoding e);
bool valid_coder(uint8_t c);

// The words a numeric tensor of `numel` elements is seen as (see "Words" in bsm.h): *w bytes
// each, *n of them. False for strings and dtypes without a word size.
bool word_layout(DType t, int64_t numel, size_t* w, size_t* n);

// Reader limit (see bsm.h): a tensor of `tensor_bytes` may come from `stored_bytes` of payload.
constexpr uint64_t kMaxExpansion = 16384;
constexpr uint64_t kExpansionSlackBytes = uint64_t{1} << 20;
inline bool expansion_ok(uint64_t tensor_bytes, uint64_t stored_bytes) {
  return stored_bytes <= (UINT64_MAX - kExpansionSlackBytes) / kMaxExpansion &&
         tensor_bytes <= kMaxExpansion * stored_bytes + kExpansionSlackBytes;
}

// Appends little-endian integers and bytes to a string.
class ByteWriter {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void varint(uint64_t v);
  void bytes(const void* data, size_t n) { out_.append(static_cast<const char*>(data), n); }
  void bytes(std::string_view s) { out_.append(s); }
  std::string& str() { return out_; }
  size_t size() const { return out_.size(); }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

// Reads little-endian integers from a byte span; every read checks the bytes left and returns
// false (consuming nothing) when there are too few.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> data) : data_(data) {}
  bool u8(uint8_t* v);
  bool u16(uint16_t* v);
  bool u32(uint32_t* v);
  bool u64(uint64_t* v);
  bool varint(uint64_t* v);  // LEB128, at most 10 bytes, no overflow of 64 bits
  // A view of the next n bytes.
  bool bytes(uint64_t n, std::span<const std::byte>* out);
  uint64_t remaining() const { return data_.size() - pos_; }
  uint64_t pos() const { return pos_; }

 private:
  bool le(uint64_t* v, int n);
  std::span<const std::byte> data_;
  size_t pos_ = 0;
};

// *out = a raw deflate stream of `in` (coder kHuffman or kDeflate). With `segment` > 0 a new
// deflate block (own Huffman codes) starts every `segment` bytes. False if zlib fails (out of
// memory); the candidate is then skipped.
bool deflate_bytes(std::span<const std::byte> in, Coder coder, std::string* out, size_t segment = 0);
// Undoes `coder`: *out gets exactly `decoded_size` bytes or an error ("deflate stream inflates to
// more than 12 bytes", ...). Memory grows with the output actually produced, never to a
// declared size up front.
Status decode_coder(Coder coder, std::span<const std::byte> stored, uint64_t decoded_size, std::string* out);

// One tensor's chosen storage.
struct EncodedPayload {
  Encoding encoding = Encoding::kRaw;
  Coder coder = Coder::kNone;
  uint64_t decoded_size = 0;  // payload bytes after the coder
  std::string stored;         // the bytes written
};

// Chooses the smallest encoding + coder for n words of w bytes (w in 1, 2, 4, 8) at `data`
// (see "Writer's choice" in bsm.h). `tensor_bytes` (= n * w) is checked against the expansion
// limit for every candidate.
EncodedPayload encode_words(const std::byte* data, size_t n, size_t w, bool try_deflate);
EncodedPayload encode_strings(const std::vector<std::string>& values, bool try_deflate);

// The size checks of decode_words that need no output (raw: exact size; palette: header and
// index bytes), so a reader can refuse a payload before allocating the tensor.
Status precheck_words(Encoding encoding, std::span<const std::byte> payload, size_t n, size_t w);
// Decodes an encoding's payload into out[0, n * w) (zero-filled by the caller). *description
// gets the encoding in words ("palette(b=4,K=16)").
Status decode_words(Encoding encoding, std::span<const std::byte> payload, size_t n, size_t w,
                    std::byte* out, std::string* description);
Status decode_strings(std::span<const std::byte> payload, size_t numel, std::vector<std::string>* out);

}  // namespace bitsmith::bsm
