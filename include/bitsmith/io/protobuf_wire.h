// Protobuf wire format, by hand: the layer under the ONNX reader and writer (io/onnx.h).
//
// Why not libprotobuf: a generated ModelProto copies every raw_data payload into a std::string
// (a second copy of all weights in memory) and refuses messages over 2 GB. Parsing the wire
// format directly lets tensor payloads stay where they are in the memory-mapped file
// (Tensor::view), lets the writer stream payloads straight from tensor storage to the file, and
// puts a bound check in front of every length.
//
// Wire-level contract (https://protobuf.dev/programming-guides/encoding/):
//  - A message is a sequence of fields; each starts with a varint tag = (number << 3) | type.
//    Field numbers are 1 .. 2^29-1. Wire types: 0 varint, 1 fixed64 (8 bytes little-endian),
//    2 length-delimited (varint byte count, then the bytes), 5 fixed32 (4 bytes little-endian).
//    Groups (types 3 and 4, deprecated, never used by ONNX) and types 6, 7 are errors.
//  - Varints are at most 10 bytes; a 10th byte above 1 is an error (overflow of 64 bits).
//  - Every length is checked against the bytes left in the enclosing message before anything
//    is read or allocated, so a crafted length can never read out of bounds or allocate more
//    than the input holds.
//  - Repeated scalars are accepted both packed (one length-delimited field holding the values
//    back to back) and unpacked (one field per value), and any mix of the two, as protobuf's
//    own parsers do. The writer follows the .proto: packed where it says [packed = true].
//  - Unknown fields are kept as their exact wire bytes (tag included) and re-emitted verbatim,
//    so a reader that does not know a field still writes it back.
//  - int32/int64 values are two's complement in a 64-bit varint (negative numbers take 10
//    bytes); sint (zigzag) encodings are not used by ONNX. The host must be little-endian
//    (checked at compile time): fixed32/fixed64 and packed fixed arrays are copied as is.
//  - Error messages say what was wrong and the byte offset in the file ("truncated varint at
//    byte 1234"); callers prefix the file name and the place in the model.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bitsmith/core/status.h"

namespace bitsmith::wire {

static_assert(std::endian::native == std::endian::little,
              "the protobuf wire code copies little-endian fixed-width values as is");

enum class WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;

// One decoded field. `bytes` and `whole` point into the reader's input.
struct Field {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t value = 0;                  // kVarint: the value; kFixed32/kFixed64: the raw bits
  std::span<const std::byte> bytes;    // kLen: the payload
  std::span<const std::byte> whole;    // tag through end of payload, for unknown_fields
  uint64_t offset = 0;                 // byte offset of the tag from the start of the file

  std::string_view str() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  int64_t as_int64() const { return static_cast<int64_t>(value); }
  int32_t as_int32() const { return static_cast<int32_t>(static_cast<uint32_t>(value)); }
  float as_float() const {
    const auto bits = static_cast<uint32_t>(value);
    return std::bit_cast<float>(bits);
  }
  double as_double() const { return std::bit_cast<double>(value); }
};

// Iterates over the fields of one message held in memory. `base_offset` is the position of
// `data` in the file, used in error messages only.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> data, uint64_t base_offset = 0)
      : data_(data), base_(base_offset) {}

  bool done() const { return pos_ >= data_.size(); }
  // Decodes the next field into *f. Errors: truncated or overlong varint, bad wire type,
  // field number 0, length past the end of the message.
  Status next(Field* f);
  // File offset of the next byte to read.
  uint64_t offset() const { return base_ + pos_; }
  // File offset of a byte inside this reader's input.
  uint64_t offset_of(const std::byte* p) const { return base_ + static_cast<uint64_t>(p - data_.data()); }

 private:
  Status read_varint(uint64_t* v);
  std::span<const std::byte> data_;
  uint64_t base_;
  size_t pos_ = 0;
};

// Decodes one varint from [*p, end); advances *p. False when truncated or over 10 bytes.
bool decode_varint(const std::byte** p, const std::byte* end, uint64_t* v);

// Number of varints in a packed payload (counts terminating bytes); error when the last one is
// truncated.
Expected<size_t> count_packed_varints(std::span<const std::byte> payload);

// Encoded size of a varint.
inline size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) { v >>= 7; ++n; }
  return n;
}

// Builds a message. Small data is copied into an internal buffer; large byte payloads added
// with bytes_ref() are only referenced (the caller keeps them alive until written), so
// serializing a model never copies its weights. Nested messages are built in their own
// Writer and spliced in with message(), which moves the child's pieces without copying
// referenced payloads.
class Writer {
 public:
  // Payloads at least this large are referenced instead of copied.
  static constexpr size_t kRefMinBytes = 4096;

  void tag(uint32_t number, WireType type) { varint((uint64_t{number} << 3) | static_cast<uint8_t>(type)); }
  void varint(uint64_t v);

  void varint_field(uint32_t number, uint64_t v) { tag(number, WireType::kVarint); varint(v); }
  void int64_field(uint32_t number, int64_t v) { varint_field(number, static_cast<uint64_t>(v)); }
  void fixed32_field(uint32_t number, uint32_t bits);
  void float_field(uint32_t number, float v) { fixed32_field(number, std::bit_cast<uint32_t>(v)); }
  // Copies `s`.
  void bytes_field(uint32_t number, std::string_view s);
  // References [data, data+n) when large (see kRefMinBytes); copies it otherwise.
  void bytes_ref_field(uint32_t number, const void* data, size_t n);
  // Length-delimited field whose payload is `child`'s message.
  void message_field(uint32_t number, Writer&& child);
  // Packed repeated fields (one length-delimited field); nothing when `values` is empty.
  void packed_int64_field(uint32_t number, std::span<const int64_t> values);
  void packed_float_field(uint32_t number, std::span<const float> values);
  // Appends already-encoded fields (unknown_fields) verbatim.
  void raw(std::string_view wire_bytes) { append(wire_bytes.data(), wire_bytes.size()); }

  // Total encoded bytes.
  uint64_t size() const { return size_; }
  // Calls sink(data, n) -> Status for each piece in order; stops at the first error.
  template <class Sink>
  Status write_to(Sink&& sink) const;
  // The whole message in one string (tests, small messages).
  std::string to_string() const;

 private:
  struct Piece {
    std::string owned;                  // used when ref == nullptr
    const std::byte* ref = nullptr;
    size_t ref_len = 0;
  };
  void append(const void* data, size_t n) {
    tail_.append(static_cast<const char*>(data), n);
    size_ += n;
  }
  void flush_tail();

  std::vector<Piece> pieces_;  // complete pieces, in order, before tail_
  std::string tail_;           // bytes after the last piece
  uint64_t size_ = 0;
};

template <class Sink>
Status Writer::write_to(Sink&& sink) const {
  for (const Piece& p : pieces_) {
    if (p.ref) {
      BS_TRY(sink(p.ref, p.ref_len));
    } else if (!p.owned.empty()) {
      BS_TRY(sink(p.owned.data(), p.owned.size()));
    }
  }
  if (!tail_.empty()) BS_TRY(sink(tail_.data(), tail_.size()));
  return Status::ok();
}

}  // namespace bitsmith::wire
