// The protobuf wire layer under the ONNX reader/writer: varints, field decoding, bounds,
// and the writer's referenced payloads.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>

#include "bitsmith/io/protobuf_wire.h"

namespace bitsmith::wire {
namespace {

std::span<const std::byte> as_span(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(OnnxWire, VarintRoundTripAtEveryLength) {
  std::vector<uint64_t> values = {0, 1, 127, 128, 300, 16383, 16384, (1ull << 32) - 1, 1ull << 35,
                                  std::numeric_limits<uint64_t>::max(),
                                  static_cast<uint64_t>(int64_t{-1}), static_cast<uint64_t>(int64_t{-300})};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) values.push_back(rng() >> (rng() % 64));
  for (uint64_t v : values) {
    Writer w;
    w.varint(v);
    const std::string s = w.to_string();
    EXPECT_EQ(s.size(), varint_size(v));
    const std::byte* p = reinterpret_cast<const std::byte*>(s.data());
    uint64_t back = 0;
    ASSERT_TRUE(decode_varint(&p, p + s.size(), &back)) << v;
    EXPECT_EQ(back, v);
    // Every strict prefix is truncated.
    for (size_t cut = 0; cut < s.size(); ++cut) {
      const std::byte* q = reinterpret_cast<const std::byte*>(s.data());
      EXPECT_FALSE(decode_varint(&q, q + cut, &back)) << v << " cut " << cut;
    }
  }
}

TEST(OnnxWire, OverlongVarintRejected) {
  const std::string eleven(10, '\x80');  // ten continuation bytes
  const std::byte* p = reinterpret_cast<const std::byte*>(eleven.data());
  uint64_t v = 0;
  EXPECT_FALSE(decode_varint(&p, p + eleven.size(), &v));
  const std::string big = std::string(9, '\xff') + '\x02';  // 10th byte above 1: > 64 bits
  p = reinterpret_cast<const std::byte*>(big.data());
  EXPECT_FALSE(decode_varint(&p, p + big.size(), &v));
}

TEST(OnnxWire, ReaderDecodesEveryWireType) {
  Writer w;
  w.varint_field(1, 150);
  w.fixed32_field(2, 0x3f800000u);
  w.bytes_field(3, "hello");
  w.int64_field(4, -2);
  w.tag(5, WireType::kFixed64);
  const double d = 2.5;
  uint64_t bits = 0;
  std::memcpy(&bits, &d, 8);
  std::string s = w.to_string();
  s.append(reinterpret_cast<const char*>(&bits), 8);

  Reader r(as_span(s), 100);
  Field f;
  ASSERT_TRUE(r.next(&f).is_ok());
  EXPECT_EQ(f.number, 1u);
  EXPECT_EQ(f.type, WireType::kVarint);
  EXPECT_EQ(f.value, 150u);
  EXPECT_EQ(f.offset, 100u);
  EXPECT_EQ(f.whole.size(), 3u);  // tag + 2-byte varint
  ASSERT_TRUE(r.next(&f).is_ok());
  EXPECT_EQ(f.as_float(), 1.0f);
  ASSERT_TRUE(r.next(&f).is_ok());
  EXPECT_EQ(f.type, WireType::kLen);
  EXPECT_EQ(f.str(), "hello");
  ASSERT_TRUE(r.next(&f).is_ok());
  EXPECT_EQ(f.as_int64(), -2);
  EXPECT_EQ(f.whole.size(), 11u);  // negative int64 takes 10 bytes
  ASSERT_TRUE(r.next(&f).is_ok());
  EXPECT_EQ(f.as_double(), 2.5);
  EXPECT_TRUE(r.done());
}

TEST(OnnxWire, ReaderRejectsBadInput) {
  const auto fails = [](const std::string& s, const std::string& needle) {
    Reader r(as_span(s));
    Field f;
    Status st = r.next(&f);
    EXPECT_FALSE(st.is_ok()) << needle;
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
  };
  fails(std::string("\x0a\x05" "abc", 5), "declares 5 bytes but only 3 remain");
  fails(std::string("\x0b", 1), "unsupported wire type 3");   // start group
  fails(std::string("\x02", 1), "invalid field number 0");
  fails(std::string("\x0d\x01\x02", 3), "truncated fixed32");
  fails(std::string("\x09\x01", 2), "truncated fixed64");
  fails(std::string("\x08\x80", 2), "truncated varint at byte 1");
}

TEST(OnnxWire, PackedVarintCount) {
  Writer w;
  for (int64_t v : {0, 1, 300, -1}) w.varint(static_cast<uint64_t>(v));
  const std::string s = w.to_string();
  Expected<size_t> n = count_packed_varints(as_span(s));
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 4u);
  EXPECT_FALSE(count_packed_varints(as_span(s.substr(0, s.size() - 1))).is_ok());
}

// Large payloads are referenced, small ones copied; nested messages splice both correctly.
TEST(OnnxWire, WriterReferencesLargePayloadsAndNests) {
  std::string big(Writer::kRefMinBytes + 5, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  Writer inner;
  inner.bytes_field(1, "small");
  inner.bytes_ref_field(2, big.data(), big.size());
  inner.varint_field(3, 7);
  Writer outer;
  outer.varint_field(1, 1);
  const uint64_t inner_size = inner.size();
  outer.message_field(2, std::move(inner));
  outer.varint_field(3, 9);
  const std::string s = outer.to_string();
  EXPECT_EQ(s.size(), outer.size());

  Reader r(as_span(s));
  Field f;
  ASSERT_TRUE(r.next(&f).is_ok());
  ASSERT_TRUE(r.next(&f).is_ok());
  ASSERT_EQ(f.number, 2u);
  ASSERT_EQ(f.bytes.size(), inner_size);
  Reader ri(f.bytes);
  Field g;
  ASSERT_TRUE(ri.next(&g).is_ok());
  EXPECT_EQ(g.str(), "small");
  ASSERT_TRUE(ri.next(&g).is_ok());
  EXPECT_EQ(g.str(), big);
  ASSERT_TRUE(ri.next(&g).is_ok());
  EXPECT_EQ(g.value, 7u);
  EXPECT_TRUE(ri.done());
  ASSERT_TRUE(r.next(&f).is_ok());
  EXPECT_EQ(f.value, 9u);
  EXPECT_TRUE(r.done());
}

}  // namespace
}  // namespace bitsmith::wire
