// TensorProto decoding: every dtype through raw_data and through the typed *_data fields
// (packed, unpacked, split), strings, zero-copy views, external data, and ONNX's own encoder
// (onnx.helper / numpy_helper via /usr/bin/python3) as the reference.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "bitsmith/io/onnx.h"
#include "io/onnx_test_helpers.h"

namespace bitsmith {
namespace {

using testing::TempDir;
namespace pb = testing::pb;

std::vector<DType> all_numeric_dtypes() {
  std::vector<DType> out;
  for (int i = 1; i < static_cast<int>(DType::kCount); ++i) {
    const auto t = static_cast<DType>(i);
    if (t != DType::kString) out.push_back(t);
  }
  return out;
}

Expected<Tensor> read_proto(const TempDir& dir, const std::string& proto, const std::string& name = "t.pb") {
  testing::write_bytes(dir.file(name), proto);
  return read_tensor_proto_file(dir.file(name));
}

std::string pattern_bytes(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 37 + static_cast<size_t>(seed) * 11 + 5) & 0xff);
  return s;
}

TEST(OnnxTensor, RawDataEveryDtype) {
  TempDir dir;
  for (DType t : all_numeric_dtypes()) {
    const Shape shape = {3, 5};  // odd numel: the last i4/u4 byte holds one element
    const std::string bytes = pattern_bytes(storage_nbytes(t, 15), static_cast<int>(t));
    Expected<Tensor> r = read_proto(dir, pb::tensor_header(shape, dtype_to_onnx(t), "w") + pb::raw_data(bytes));
    ASSERT_TRUE(r.is_ok()) << dtype_name(t) << ": " << r.status().message();
    EXPECT_EQ(r->dtype(), t);
    EXPECT_EQ(r->shape(), shape);
    EXPECT_EQ(r->name(), "w");
    ASSERT_EQ(r->nbytes(), bytes.size()) << dtype_name(t);
    EXPECT_EQ(std::memcmp(r->bytes(), bytes.data(), bytes.size()), 0) << dtype_name(t);
  }
}

// The typed-field rules of onnx.proto: each value's low bytes are the element (int32_data for
// 8/16-bit types, f16/bf16/f8 as bit patterns; one packed byte of two 4-bit elements per value
// for i4/u4), uint64_data for u32/u64, float_data/double_data (interleaved for complex).
struct TypedCase {
  DType dtype;
  uint32_t field;
  Shape shape;
  std::vector<int64_t> values;  // varint fields
  int width;                    // bytes of each value kept in storage
};

std::string expected_low_bytes(const std::vector<int64_t>& values, int width) {
  std::string out;
  for (int64_t v : values) out.append(reinterpret_cast<const char*>(&v), static_cast<size_t>(width));
  return out;
}

// Encodes `values` of varint field `field` packed, unpacked, and as two packed halves.
std::vector<std::string> varint_encodings(uint32_t field, const std::vector<int64_t>& values) {
  std::string unpacked;
  for (int64_t v : values) unpacked += pb::int_field(field, v);
  const size_t half = values.size() / 2;
  const std::vector<int64_t> a(values.begin(), values.begin() + static_cast<long>(half));
  const std::vector<int64_t> b(values.begin() + static_cast<long>(half), values.end());
  return {pb::packed_varints(field, values), unpacked, pb::packed_varints(field, a) + pb::packed_varints(field, b)};
}

TEST(OnnxTensor, TypedVarintFieldsEveryEncoding) {
  const std::vector<TypedCase> cases = {
      {DType::kI32, 5, {4}, {0, -1, 2147483647, -2147483647 - 1}, 4},
      {DType::kI16, 5, {3}, {-32768, 32767, -2}, 2},
      {DType::kU16, 5, {3}, {0, 65535, 1234}, 2},
      {DType::kI8, 5, {4}, {-128, 127, -1, 0}, 1},
      {DType::kU8, 5, {3}, {0, 255, 17}, 1},
      {DType::kBool, 5, {3}, {1, 0, 1}, 1},
      {DType::kF16, 5, {3}, {0x3c00, 0xc000, 0x7bff}, 2},
      {DType::kBF16, 5, {3}, {0x3f80, 0xbf80, 0x7f7f}, 2},
      {DType::kF8E4M3FN, 5, {2}, {0x38, 0xb8}, 1},
      {DType::kF8E4M3FNUZ, 5, {2}, {0x40, 0x80}, 1},
      {DType::kF8E5M2, 5, {2}, {0x3c, 0x7c}, 1},
      {DType::kF8E5M2FNUZ, 5, {2}, {0x40, 0x01}, 1},
      {DType::kI4, 5, {3}, {0x9f, 0x07}, 1},  // elements -1, -7, 7: two per value
      {DType::kU4, 5, {4}, {0x21, 0xf3}, 1},
      {DType::kI64, 7, {3}, {-1, int64_t{1} << 40, 0}, 8},
      {DType::kU32, 11, {2}, {4294967295LL, 7}, 4},
      {DType::kU64, 11, {2}, {-1, 42}, 8},  // -1: all bits set, the largest uint64
  };
  TempDir dir;
  for (const TypedCase& c : cases) {
    const std::string want = expected_low_bytes(c.values, c.width);
    for (const std::string& data : varint_encodings(c.field, c.values)) {
      Expected<Tensor> r = read_proto(dir, pb::tensor_header(c.shape, dtype_to_onnx(c.dtype), "x") + data);
      ASSERT_TRUE(r.is_ok()) << dtype_name(c.dtype) << ": " << r.status().message();
      EXPECT_EQ(r->dtype(), c.dtype);
      ASSERT_EQ(r->nbytes(), want.size()) << dtype_name(c.dtype);
      EXPECT_EQ(std::memcmp(r->bytes(), want.data(), want.size()), 0) << dtype_name(c.dtype);
    }
  }
}

TEST(OnnxTensor, TypedFixedFieldsEveryEncoding) {
  TempDir dir;
  const std::vector<float> f = {1.5f, -2.0f, 3e-5f, 0.0f};
  const std::vector<double> d = {1.25, -1e300, 0.5, 7.0};
  std::string f_bytes(reinterpret_cast<const char*>(f.data()), f.size() * 4);
  std::string d_bytes(reinterpret_cast<const char*>(d.data()), d.size() * 8);
  std::string f_unpacked, d_unpacked;
  for (float v : f) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    f_unpacked += pb::fixed32_field(4, bits);
  }
  for (double v : d) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    d_unpacked += pb::fixed64_field(10, bits);
  }
  const std::string f_split = pb::msg(4, f_bytes.substr(0, 8)) + f_unpacked.substr(2 * 5);
  const std::string d_split = d_unpacked.substr(0, 9) + pb::msg(10, d_bytes.substr(8));
  struct Case { DType t; Shape shape; std::string data; const std::string* want; };
  const std::vector<Case> cases = {
      {DType::kF32, {4}, pb::msg(4, f_bytes), &f_bytes}, {DType::kF32, {2, 2}, f_unpacked, &f_bytes},
      {DType::kF32, {4}, f_split, &f_bytes},             {DType::kC64, {2}, pb::msg(4, f_bytes), &f_bytes},
      {DType::kF64, {4}, pb::msg(10, d_bytes), &d_bytes}, {DType::kF64, {4}, d_unpacked, &d_bytes},
      {DType::kF64, {4}, d_split, &d_bytes},              {DType::kC128, {2}, d_unpacked, &d_bytes},
  };
  for (const Case& c : cases) {
    Expected<Tensor> r = read_proto(dir, pb::tensor_header(c.shape, dtype_to_onnx(c.t), "x") + c.data);
    ASSERT_TRUE(r.is_ok()) << dtype_name(c.t) << ": " << r.status().message();
    ASSERT_EQ(r->nbytes(), c.want->size());
    EXPECT_EQ(std::memcmp(r->bytes(), c.want->data(), c.want->size()), 0) << dtype_name(c.t);
  }
}

TEST(OnnxTensor, StringsAndEmptyTensors) {
  TempDir dir;
  const std::string nul("a\0b", 3);
  Expected<Tensor> s = read_proto(dir, pb::tensor_header({3}, 8, "s") + pb::str_field(6, "hello") +
                                           pb::str_field(6, "") + pb::str_field(6, nul));
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s->dtype(), DType::kString);
  EXPECT_EQ(s->string_data(), (std::vector<std::string>{"hello", "", nul}));

  Expected<Tensor> e = read_proto(dir, pb::tensor_header({0, 4}, 1, "e"));  // no data needed
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  EXPECT_EQ(e->numel(), 0);
  Expected<Tensor> scalar = read_proto(dir, pb::tensor_header({}, 7, "") + pb::packed_varints(7, {-5}));
  ASSERT_TRUE(scalar.is_ok()) << scalar.status().message();
  EXPECT_EQ(scalar->rank(), 0);
  EXPECT_EQ(scalar->data<int64_t>()[0], -5);
}

// raw_data aligned to the element size becomes a view into the mapped file; otherwise a copy.
TEST(OnnxTensor, AlignedRawDataIsAViewUnalignedIsACopy) {
  TempDir dir;
  const std::string bytes = pattern_bytes(64 * 4, 3);
  bool saw_view = false, saw_copy = false;
  for (int pad = 0; pad < 8; ++pad) {
    // A doc_string of varying length shifts where raw_data lands in the file.
    const std::string proto = pb::tensor_header({64}, 1, "w") + pb::str_field(12, std::string(pad, 'd')) +
                              pb::raw_data(bytes);
    Expected<Tensor> r = read_proto(dir, proto, std::string("p").append(std::to_string(pad)).append(".pb"));
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    ASSERT_EQ(std::memcmp(r->bytes(), bytes.data(), bytes.size()), 0);
    const bool aligned = reinterpret_cast<uintptr_t>(r->bytes()) % 4 == 0;
    EXPECT_TRUE(aligned);  // copies are 64-byte aligned, views are only made when aligned
    (r->is_mapped() ? saw_view : saw_copy) = true;
  }
  EXPECT_TRUE(saw_view);
  EXPECT_TRUE(saw_copy);
}

TEST(OnnxTensor, ExternalDataRelativeLocations) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("sub"));
  const std::string payload = pattern_bytes(6 * 4, 9);
  testing::write_bytes(dir.file("sub/w.bin"), std::string(128, 'z') + payload + "tail");
  auto entry = [](const std::string& k, const std::string& v) {
    return pb::msg(13, pb::str_field(1, k) + pb::str_field(2, v));
  };
  for (const char* loc : {"sub/w.bin", "./sub/w.bin", "sub/../sub/w.bin"}) {
    const std::string proto = pb::tensor_header({2, 3}, 1, "w") + entry("location", loc) +
                              entry("offset", "128") + entry("length", "24") + pb::int_field(14, 1);
    Expected<Tensor> r = read_proto(dir, proto);
    ASSERT_TRUE(r.is_ok()) << loc << ": " << r.status().message();
    EXPECT_TRUE(r->is_mapped()) << loc;  // offset 128 is aligned: a view into w.bin
    EXPECT_EQ(std::memcmp(r->bytes(), payload.data(), payload.size()), 0);
  }
  // No length: the dims decide; an unaligned offset gives a correct copy.
  testing::write_bytes(dir.file("u.bin"), std::string("x").append(payload));
  Expected<Tensor> r = read_proto(dir, pb::tensor_header({6}, 1, "u") + entry("location", "u.bin") +
                                           entry("offset", "1") + pb::int_field(14, 1));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_FALSE(r->is_mapped());
  EXPECT_EQ(std::memcmp(r->bytes(), payload.data(), payload.size()), 0);
}

// Reference: ONNX's own encoder. A python script writes TensorProtos with onnx.helper.make_tensor
// (typed fields) and numpy_helper.from_array (raw_data) for every dtype ONNX 1.12 knows, plus the
// expected element bytes from numpy; each must decode to exactly those bytes.
constexpr const char* kEncoderScript = R"PY(
import sys, os
try:
    import numpy as np
    from onnx import helper, numpy_helper, TensorProto as T
except ImportError:
    sys.exit(3)
out = sys.argv[1]
rng = np.random.default_rng(5)
cases = {
  'f32': (T.FLOAT, rng.standard_normal((3, 5)).astype(np.float32)),
  'f64': (T.DOUBLE, rng.standard_normal((2, 3))),
  'f16': (T.FLOAT16, rng.standard_normal((7,)).astype(np.float16)),
  'i8': (T.INT8, rng.integers(-128, 128, (9,)).astype(np.int8)),
  'u8': (T.UINT8, rng.integers(0, 256, (2, 4)).astype(np.uint8)),
  'i16': (T.INT16, rng.integers(-32768, 32768, (5,)).astype(np.int16)),
  'u16': (T.UINT16, rng.integers(0, 65536, (5,)).astype(np.uint16)),
  'i32': (T.INT32, rng.integers(-2**31, 2**31, (6,)).astype(np.int32)),
  'u32': (T.UINT32, rng.integers(0, 2**32, (6,)).astype(np.uint32)),
  'i64': (T.INT64, rng.integers(-2**62, 2**62, (4,)).astype(np.int64)),
  'u64': (T.UINT64, rng.integers(0, 2**63, (4,)).astype(np.uint64)),
  'bool': (T.BOOL, rng.integers(0, 2, (3, 3)).astype(np.bool_)),
  'c64': (T.COMPLEX64, (rng.standard_normal(4) + 1j * rng.standard_normal(4)).astype(np.complex64)),
  'c128': (T.COMPLEX128, (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex128)),
}
for name, (code, arr) in cases.items():
    typed = helper.make_tensor(name, code, arr.shape, arr.flatten().tolist() if code != T.FLOAT16 else arr.flatten(), raw=False)
    raw = numpy_helper.from_array(arr, name)
    open(os.path.join(out, name + '.typed.pb'), 'wb').write(typed.SerializeToString())
    open(os.path.join(out, name + '.raw.pb'), 'wb').write(raw.SerializeToString())
    open(os.path.join(out, name + '.want'), 'wb').write(np.ascontiguousarray(arr).tobytes())
# bfloat16: make_tensor rounds float32 to bf16 bit patterns stored in int32_data.
vals = rng.standard_normal(5).astype(np.float32)
bf = helper.make_tensor('bf16', T.BFLOAT16, [5], vals.tolist(), raw=False)
open(os.path.join(out, 'bf16.typed.pb'), 'wb').write(bf.SerializeToString())
open(os.path.join(out, 'bf16.want'), 'wb').write(np.array(bf.int32_data, dtype=np.uint16).tobytes())
s = helper.make_tensor('str', T.STRING, [2, 2], [b'a', b'', b'xyz', b'\x00\x01'])
open(os.path.join(out, 'str.typed.pb'), 'wb').write(s.SerializeToString())
)PY";

TEST(OnnxTensor, MatchesOnnxReferenceEncoder) {
  TempDir dir;
  testing::write_bytes(dir.file("gen.py"), kEncoderScript);
  const std::string cmd = "/usr/bin/python3 " + dir.file("gen.py") + " " + dir.path() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 3) GTEST_SKIP() << "python3 has no onnx/numpy";
  ASSERT_EQ(rc, 0) << cmd;
  int checked = 0;
  for (const char* name : {"f32", "f64", "f16", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64",
                           "bool", "c64", "c128", "bf16"}) {
    const std::string want = testing::read_bytes(dir.file(std::string(name) + ".want"));
    for (const char* kind : {".typed.pb", ".raw.pb"}) {
      const std::string path = dir.file(std::string(name) + kind);
      if (!std::filesystem::exists(path)) continue;
      Expected<Tensor> t = read_tensor_proto_file(path);
      ASSERT_TRUE(t.is_ok()) << path << ": " << t.status().message();
      EXPECT_EQ(dtype_name(t->dtype()), name) << path;
      ASSERT_EQ(t->nbytes(), want.size()) << path;
      EXPECT_EQ(std::memcmp(t->bytes(), want.data(), want.size()), 0) << path;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 29);
  Expected<Tensor> s = read_tensor_proto_file(dir.file("str.typed.pb"));
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s->shape(), (Shape{2, 2}));
  EXPECT_EQ(s->string_data(), (std::vector<std::string>{"a", "", "xyz", std::string("\0\1", 2)}));
}

}  // namespace
}  // namespace bitsmith
