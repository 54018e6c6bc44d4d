#include "bitsmith/io/protobuf_wire.h"

namespace bitsmith::wire {

bool decode_varint(const std::byte** p, const std::byte* end, uint64_t* v) {
  uint64_t result = 0;
  const std::byte* q = *p;
  for (int i = 0; i < 10; ++i) {
    if (q >= end) return false;
    const auto b = static_cast<uint8_t>(*q++);
    if (i == 9 && b > 1) return false;  // bits beyond 64
    result |= uint64_t{b & 0x7fu} << (7 * i);
    if (b < 0x80) {
      *p = q;
      *v = result;
      return true;
    }
  }
  return false;
}

Status Reader::read_varint(uint64_t* v) {
  const std::byte* p = data_.data() + pos_;
  const std::byte* end = data_.data() + data_.size();
  if (!decode_varint(&p, end, v)) {
    const bool truncated = (end - p) < 10;
    return invalid_model(std::string(truncated ? "truncated" : "overlong") + " varint at byte " +
                         std::to_string(offset()));
  }
  pos_ = static_cast<size_t>(p - data_.data());
  return Status::ok();
}

Status Reader::next(Field* f) {
  const size_t start = pos_;
  f->offset = offset();
  uint64_t tag = 0;
  BS_TRY(read_varint(&tag));
  const uint64_t number = tag >> 3;
  const auto type = static_cast<uint8_t>(tag & 7);
  if (number == 0 || number > kMaxFieldNumber)
    return invalid_model("invalid field number " + std::to_string(number) + " at byte " +
                         std::to_string(f->offset));
  f->number = static_cast<uint32_t>(number);
  f->bytes = {};
  const size_t left = data_.size() - pos_;
  switch (type) {
    case 0:
      f->type = WireType::kVarint;
      BS_TRY(read_varint(&f->value));
      break;
    case 1:
      f->type = WireType::kFixed64;
      if (left < 8)
        return invalid_model("truncated fixed64 field " + std::to_string(number) + " at byte " +
                             std::to_string(f->offset));
      std::memcpy(&f->value, data_.data() + pos_, 8);
      pos_ += 8;
      break;
    case 5: {
      f->type = WireType::kFixed32;
      if (left < 4)
        return invalid_model("truncated fixed32 field " + std::to_string(number) + " at byte " +
                             std::to_string(f->offset));
      uint32_t bits = 0;
      std::memcpy(&bits, data_.data() + pos_, 4);
      f->value = bits;
      pos_ += 4;
      break;
    }
    case 2: {
      f->type = WireType::kLen;
      uint64_t len = 0;
      BS_TRY(read_varint(&len));
      const size_t remaining = data_.size() - pos_;
      if (len > remaining)
        return invalid_model("field " + std::to_string(number) + " at byte " +
                             std::to_string(f->offset) + " declares " + std::to_string(len) +
                             " bytes but only " + std::to_string(remaining) + " remain");
      f->bytes = data_.subspan(pos_, static_cast<size_t>(len));
      pos_ += static_cast<size_t>(len);
      break;
    }
    default:
      return invalid_model("unsupported wire type " + std::to_string(type) + " (field " +
                           std::to_string(number) + ") at byte " + std::to_string(f->offset));
  }
  f->whole = data_.subspan(start, pos_ - start);
  return Status::ok();
}

Expected<size_t> count_packed_varints(std::span<const std::byte> payload) {
  size_t n = 0;
  for (std::byte b : payload)
    if (static_cast<uint8_t>(b) < 0x80) ++n;
  if (!payload.empty() && static_cast<uint8_t>(payload.back()) >= 0x80)
    return invalid_model("packed varints end in a truncated value");
  return n;
}

void Writer::varint(uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  append(buf, n);
}

void Writer::fixed32_field(uint32_t number, uint32_t bits) {
  tag(number, WireType::kFixed32);
  append(&bits, 4);
}

void Writer::bytes_field(uint32_t number, std::string_view s) {
  tag(number, WireType::kLen);
  varint(s.size());
  append(s.data(), s.size());
}

void Writer::flush_tail() {
  if (tail_.empty()) return;
  Piece p;
  p.owned = std::move(tail_);
  pieces_.push_back(std::move(p));
  tail_.clear();
}

void Writer::bytes_ref_field(uint32_t number, const void* data, size_t n) {
  if (n < kRefMinBytes) {
    bytes_field(number, std::string_view(static_cast<const char*>(data), n));
    return;
  }
  tag(number, WireType::kLen);
  varint(n);
  flush_tail();
  Piece p;
  p.ref = static_cast<const std::byte*>(data);
  p.ref_len = n;
  pieces_.push_back(std::move(p));
  size_ += n;
}

void Writer::message_field(uint32_t number, Writer&& child) {
  tag(number, WireType::kLen);
  varint(child.size_);
  if (child.pieces_.empty()) {
    append(child.tail_.data(), child.tail_.size());
    return;
  }
  flush_tail();
  for (Piece& p : child.pieces_) pieces_.push_back(std::move(p));
  tail_ = std::move(child.tail_);
  size_ += child.size_;
  child = Writer();
}

void Writer::packed_int64_field(uint32_t number, std::span<const int64_t> values) {
  if (values.empty()) return;
  size_t n = 0;
  for (int64_t v : values) n += varint_size(static_cast<uint64_t>(v));
  tag(number, WireType::kLen);
  varint(n);
  for (int64_t v : values) varint(static_cast<uint64_t>(v));
}

void Writer::packed_float_field(uint32_t number, std::span<const float> values) {
  if (values.empty()) return;
  tag(number, WireType::kLen);
  varint(values.size() * 4);
  append(values.data(), values.size() * 4);
}

std::string Writer::to_string() const {
  std::string out;
  out.reserve(static_cast<size_t>(size_));
  Status s = write_to([&out](const void* d, size_t n) {
    out.append(static_cast<const char*>(d), n);
    return Status::ok();
  });
  (void)s;
  return out;
}

}  // namespace bitsmith::wire
