// The .bsm container (io/bsm.h): lossless round trips against the ONNX reader, the encoding
// chosen per tensor, size against the data's entropy, hand-built files following the documented
// layout, clear errors, and a seeded fuzz of the reader (truncations and byte flips).
#include <gtest/gtest.h>
#include <zlib.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "bitsmith/io/bsm.h"
#include "bitsmith/io/model_io.h"
#include "bitsmith/io/npy.h"
#include "bitsmith/io/onnx.h"
#include "bitsmith/ir/printer.h"
#include "bitsmith/runtime/executor.h"
#include "io/bsm_codec.h"
#include "io/onnx_internal.h"
#include "io/onnx_test_helpers.h"

namespace bitsmith {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::span<const std::byte> as_span(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::vector<std::string> project_models() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(std::string(BITSMITH_SOURCE_DIR) + "/models"))
    if (e.path().extension() == ".onnx") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string digits_mlp() { return std::string(BITSMITH_SOURCE_DIR) + "/models/digits_mlp.onnx"; }

// Printed graph and every top-level initializer bit for bit (attribute tensors are inside the
// graph proto and compared by the printer and by the ONNX round-trip tests).
void expect_same_model(const Model& a, const Model& b, const std::string& what) {
  EXPECT_EQ(print_model(a), print_model(b)) << what;
  EXPECT_EQ(a.graph.unknown_fields, b.graph.unknown_fields) << what;
  ASSERT_EQ(a.graph.initializers.size(), b.graph.initializers.size()) << what;
  for (size_t i = 0; i < a.graph.initializers.size(); ++i) {
    const Tensor& ta = a.graph.initializers[i];
    const Tensor& tb = b.graph.initializers[i];
    EXPECT_EQ(ta.name(), tb.name()) << what;
    EXPECT_TRUE(ta.same_content(tb)) << what << ": tensor '" << ta.name() << "'";
  }
}

BsmReadOptions no_verify() {
  BsmReadOptions o;
  o.verify_graph = false;
  return o;
}

// ---- round trips ----

TEST(Bsm, EveryProjectModelRoundTripsLosslessly) {
  TempDir dir;
  const std::vector<std::string> models = project_models();
  ASSERT_FALSE(models.empty());
  for (const std::string& path : models) {
    Expected<Model> onnx = read_onnx(path);
    ASSERT_TRUE(onnx.is_ok()) << onnx.status().message();
    const std::string bsm = dir.file("m.bsm"), back = dir.file("back.onnx");
    ASSERT_TRUE(save_model(*onnx, bsm).is_ok()) << path;
    Expected<Model> read = load_model(bsm);
    ASSERT_TRUE(read.is_ok()) << read.status().message();
    expect_same_model(*onnx, *read, path + " -> .bsm");
    // .bsm -> .onnx gives what an ONNX round trip gives, byte for byte.
    ASSERT_TRUE(save_model(*read, back).is_ok()) << path;
    ASSERT_TRUE(write_onnx(*onnx, dir.file("direct.onnx")).is_ok());
    EXPECT_EQ(testing::read_bytes(back), testing::read_bytes(dir.file("direct.onnx"))) << path;
    // Smaller than the ONNX file (these are dense float models: entropy coding alone).
    EXPECT_LT(fs::file_size(bsm), fs::file_size(path)) << path;
    RecordProperty(fs::path(path).filename().string() + "_onnx_bytes", static_cast<int>(fs::file_size(path)));
    RecordProperty(fs::path(path).filename().string() + "_bsm_bytes", static_cast<int>(fs::file_size(bsm)));
  }
}

// Every ONNX conformance model (many dtypes, strings, bool, f16, i4, subgraphs, doc strings).
TEST(Bsm, EveryConformanceModelRoundTrips) {
  std::vector<std::string> models = testing::conformance_models();
  if (models.empty()) GTEST_SKIP() << "no shared ONNX models";
  OnnxReadOptions onnx_opts;
  onnx_opts.verify_graph = false;
  int with_initializers = 0;
  for (const std::string& path : models) {
    Expected<Model> a = read_onnx(path, onnx_opts);
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    Expected<std::string> bytes = serialize_bsm(*a);
    ASSERT_TRUE(bytes.is_ok()) << path << ": " << bytes.status().message();
    Expected<Model> b = parse_bsm(as_span(*bytes), path + ".bsm", no_verify());
    ASSERT_TRUE(b.is_ok()) << b.status().message();
    expect_same_model(*a, *b, path);
    with_initializers += !a->graph.initializers.empty();
  }
  EXPECT_GT(with_initializers, 0);
}

Model model_with(std::vector<Tensor> tensors) {
  Model m;
  m.opset_imports.push_back({"", 17});
  m.graph.name = "g";
  m.graph.initializers = std::move(tensors);
  return m;
}

// Writes and reads back `tensors`; returns the per-tensor info.
BsmInfo round_trip(const std::vector<Tensor>& tensors) {
  const Model m = model_with(tensors);
  Expected<std::string> bytes = serialize_bsm(m);
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().message();
  BsmInfo info;
  Expected<Model> back = parse_bsm(as_span(*bytes), "t.bsm", no_verify(), &info);
  EXPECT_TRUE(back.is_ok()) << back.status().message();
  if (back.is_ok()) expect_same_model(m, *back, "synthetic");
  info.file_bytes = bytes->size();
  return info;
}

TEST(Bsm, EncodingFollowsTheData) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> dense(1000), sparse(1000, 0.f), pal(1000);
  for (float& v : dense) v = normal(rng);
  for (int i = 0; i < 1000; i += 10) sparse[i] = normal(rng);  // 90% zeros, 100 distinct
  for (size_t i = 0; i < pal.size(); ++i) pal[i] = static_cast<float>(rng() % 5) * 0.25f;
  std::vector<float> signed_zero(64, 0.f);
  signed_zero[3] = -0.0f;  // not zero: its bits are 0x80000000
  const BsmInfo info = round_trip({Tensor::from_vector(dense, {1000}, "dense"),
                                   Tensor::from_vector(sparse, {10, 100}, "sparse"),
                                   Tensor::from_vector(pal, {1000}, "pal"),
                                   Tensor::from_vector(signed_zero, {64}, "signed_zero")});
  ASSERT_EQ(info.tensors.size(), 4u);
  EXPECT_EQ(info.tensors[0].encoding, "planes");  // exponents together: fewer bits under Huffman
  EXPECT_EQ(info.tensors[1].encoding.rfind("sparse(nnz=100,", 0), 0u) << info.tensors[1].encoding;
  EXPECT_EQ(info.tensors[2].encoding.rfind("palette(", 0), 0u) << info.tensors[2].encoding;
  EXPECT_NE(info.tensors[2].encoding.find("K=5"), std::string::npos) << info.tensors[2].encoding;
  EXPECT_NE(info.tensors[3].encoding.find("nnz=1,"), std::string::npos) << info.tensors[3].encoding;
}

TEST(Bsm, EveryDtypeAndOddShapesRoundTrip) {
  std::vector<Tensor> ts;
  ts.push_back(Tensor(DType::kF32, {0, 3}, "empty"));
  ts.push_back(Tensor::scalar<double>(-0.0, "f64_scalar"));
  Tensor i4(DType::kI4, {7}, "i4_odd");  // 4 bytes, the last high nibble unused
  for (size_t i = 0; i < i4.nbytes(); ++i) i4.mutable_bytes()[i] = std::byte(0x1F + 0x22 * i);
  ts.push_back(i4);
  Tensor u16(DType::kU16, {5, 3}, "u16");
  for (int i = 0; i < 15; ++i) u16.mutable_data<uint16_t>()[i] = static_cast<uint16_t>(i * 4099);
  ts.push_back(u16);
  Tensor c64(DType::kC64, {3}, "c64");
  for (int i = 0; i < 6; ++i) c64.mutable_data<float>()[i] = static_cast<float>(i % 2);
  ts.push_back(c64);
  Tensor i8(DType::kI8, {300}, "i8_all_zero");
  ts.push_back(i8);
  Tensor b(DType::kBool, {9}, "bool");
  b.mutable_bytes()[4] = std::byte{1};
  ts.push_back(b);
  ts.push_back(Tensor::strings({3}, {"a", "", std::string(300, 'x')}, "strings"));
  const BsmInfo info = round_trip(ts);
  ASSERT_EQ(info.tensors.size(), ts.size());
  EXPECT_EQ(info.tensors.back().encoding, "strings");
}

// Shannon entropy (bits per element) of the empirical distribution of `v`.
double entropy_bits(const std::vector<float>& v) {
  std::map<uint32_t, int64_t> counts;
  for (float x : v) ++counts[std::bit_cast<uint32_t>(x)];
  double h = 0;
  for (const auto& [bits, c] : counts) {
    const double p = static_cast<double>(c) / static_cast<double>(v.size());
    h -= p * std::log2(p);
  }
  return h;
}

// A pruned + palettized layer: 50% zeros, the rest one of 15 centroids (16 distinct values,
// 4-bit indices). Stored size must be close to the entropy bound.
TEST(Bsm, PrunedPalettizedLayerShrinksToItsEntropy) {
  std::mt19937 rng(1234);
  std::vector<float> centroids(15);
  std::normal_distribution<float> normal(0.f, 0.05f);
  for (float& c : centroids) c = normal(rng);
  const int64_t rows = 128, cols = 256, n = rows * cols;
  std::vector<float> w(static_cast<size_t>(n));
  for (float& x : w) x = (rng() & 1) ? centroids[rng() % 15] : 0.f;
  const double h = entropy_bits(w);
  const BsmInfo info = round_trip({Tensor::from_vector(w, {rows, cols}, "fc1.weight")});
  ASSERT_EQ(info.tensors.size(), 1u);
  const double entropy_bytes = static_cast<double>(n) * h / 8;
  // Overhead: palette header and codebook (3 + 16 x 4), record header, Huffman tables (a few
  // hundred bytes per deflate block).
  const double bound = 1.1 * entropy_bytes + 1024;
  EXPECT_LE(static_cast<double>(info.tensors[0].stored_bytes), bound)
      << "encoding " << info.tensors[0].encoding << " coder " << info.tensors[0].coder << ", entropy " << h
      << " bits/element";
  // And far below 4-bit indices alone (n / 2 bytes) thanks to the zeros' short codes.
  EXPECT_LT(info.tensors[0].stored_bytes, static_cast<uint64_t>(n / 2));
  RecordProperty("f32_bytes", static_cast<int>(n * 4));
  RecordProperty("bsm_tensor_bytes", static_cast<int>(info.tensors[0].stored_bytes));
  RecordProperty("entropy_bytes", static_cast<int>(entropy_bytes));
}

TEST(Bsm, RuntimeGivesTheSameOutputsAsTheOnnx) {
  TempDir dir;
  const std::string bsm = dir.file("digits_mlp.bsm");
  Expected<Model> onnx = load_model(digits_mlp());
  ASSERT_TRUE(onnx.is_ok()) << onnx.status().message();
  ASSERT_TRUE(save_model(*onnx, bsm).is_ok());
  Expected<Model> read = load_model(bsm);
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  Expected<Tensor> x = read_npy(std::string(BITSMITH_SOURCE_DIR) + "/models/digits/eval_flat.npy");
  ASSERT_TRUE(x.is_ok()) << x.status().message();
  const NamedTensors feeds = {{onnx->graph.runtime_inputs()[0]->name, *x}};
  auto e1 = Executor::create(*onnx);
  auto e2 = Executor::create(*read);
  ASSERT_TRUE(e1.is_ok() && e2.is_ok());
  Expected<std::vector<Tensor>> y1 = (*e1)->run(feeds);
  Expected<std::vector<Tensor>> y2 = (*e2)->run(feeds);
  ASSERT_TRUE(y1.is_ok() && y2.is_ok());
  ASSERT_EQ(y1->size(), y2->size());
  for (size_t i = 0; i < y1->size(); ++i) EXPECT_TRUE((*y1)[i].same_content((*y2)[i])) << "output " << i;
}

// ---- hand-built files (the layout documented in bsm.h) and errors ----

struct RawSection {
  std::string kind;  // 4 chars
  uint8_t coder = 0;
  std::string stored;
  uint64_t decoded = 0;
};

// Assembles a .bsm from sections exactly as the header comment describes (checksums included).
std::string assemble(const std::vector<RawSection>& sections, uint16_t major = 1, uint16_t minor = 0) {
  bsm::ByteWriter w;
  w.bytes("\x89" "BSM\r\n\x1a\n");
  w.u16(major);
  w.u16(minor);
  w.u32(0);
  w.u64(0);
  w.u32(static_cast<uint32_t>(sections.size()));
  w.u32(0);
  uint64_t off = (32 + 40 * sections.size() + 7) / 8 * 8;
  std::vector<uint64_t> offsets;
  for (const RawSection& s : sections) {
    w.bytes(s.kind);
    w.u8(s.coder);
    w.u8(0);
    w.u16(0);
    w.u64(off);
    w.u64(s.stored.size());
    w.u64(s.decoded);
    w.u32(static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(s.stored.data()), static_cast<uInt>(s.stored.size()))));
    w.u32(0);
    offsets.push_back(off);
    off = (off + s.stored.size() + 7) / 8 * 8;
  }
  for (size_t i = 0; i < sections.size(); ++i) {
    w.str().resize(offsets[i], '\0');
    w.bytes(sections[i].stored);
  }
  const uint64_t total = w.size() + 8;
  std::memcpy(w.str().data() + 16, &total, 8);
  const auto crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(w.str().data()), static_cast<uInt>(w.size())));
  w.u32(crc);
  w.bytes("BSM.");
  return w.str();
}

RawSection graph_section() {
  Model m = model_with({});
  const std::string g = onnx_detail::serialize_model_inline(m).to_string();
  return {"GRPH", 0, g, g.size()};
}

// A tensor section with one f32 record of `n` elements in `encoding` (coder none).
RawSection one_tensor(const std::string& name, const std::vector<int64_t>& dims, uint8_t encoding,
                      const std::string& payload) {
  bsm::ByteWriter w;
  w.u32(1);
  w.u32(static_cast<uint32_t>(name.size()));
  w.bytes(name);
  w.u32(1);  // FLOAT
  w.u32(static_cast<uint32_t>(dims.size()));
  for (int64_t d : dims) w.u64(static_cast<uint64_t>(d));
  w.u32(0);
  w.u8(encoding);
  w.u8(0);
  w.u16(0);
  w.u64(payload.size());
  w.u64(payload.size());
  w.bytes(payload);
  return {"TNSR", 0, w.str(), w.size()};
}

std::string palette_payload(uint8_t b, const std::vector<float>& codebook, const std::string& packed) {
  bsm::ByteWriter w;
  w.u8(b);
  w.u16(static_cast<uint16_t>(codebook.size()));
  for (float c : codebook) w.bytes(&c, 4);
  w.bytes(packed);
  return w.str();
}

Expected<Model> parse(const std::string& bytes, const BsmReadOptions& o = no_verify()) {
  return parse_bsm(as_span(bytes), "m.bsm", o);
}

TEST(Bsm, HandBuiltFileFollowingTheDocumentedLayoutParses) {
  // Indices 0, 2, 1, 2 at 2 bits, LSB first: 0b10'01'10'00 = 0x98.
  const std::string file =
      assemble({graph_section(), one_tensor("w", {4}, 1, palette_payload(2, {1.5f, -2.f, 0.25f}, "\x98"))});
  Expected<Model> m = parse(file);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  ASSERT_EQ(m->graph.initializers.size(), 1u);
  const float* v = m->graph.initializers[0].data<float>();
  EXPECT_EQ(std::vector<float>(v, v + 4), (std::vector<float>{1.5f, 0.25f, -2.f, 0.25f}));
}

void expect_error(const Expected<Model>& m, StatusCode code, const std::string& fragment) {
  ASSERT_FALSE(m.is_ok()) << "expected an error containing: " << fragment;
  EXPECT_EQ(m.status().code(), code) << m.status().message();
  EXPECT_NE(m.status().message().find(fragment), std::string::npos) << m.status().message();
}

TEST(Bsm, ClearErrors) {
  const RawSection g = graph_section();
  // Palette index >= codebook size: index 3 with K = 3.
  expect_error(parse(assemble({g, one_tensor("fc1.weight", {4}, 1, palette_payload(2, {1.f, 2.f, 3.f}, "\xC0"))})),
               StatusCode::kInvalidModel, "m.bsm: tensor 'fc1.weight': palette index 3 (word 3) >= codebook size 3");
  // Raw payload shorter than the dims say.
  expect_error(parse(assemble({g, one_tensor("w", {3}, 0, std::string(8, '\0'))})), StatusCode::kInvalidModel,
               "m.bsm: tensor 'w': raw payload has 8 bytes, expected 12");
  // Dims far beyond what the payload can hold.
  expect_error(parse(assemble({g, one_tensor("w", {1 << 30, 1 << 20}, 2, std::string("\0\0", 2))})),
               StatusCode::kInvalidModel, "cannot come from a payload of 2 bytes");
  // Sparse position past the end.
  expect_error(parse(assemble({g, one_tensor("w", {4}, 2, std::string("\x01\x07\x00\0\0\x80\x3f", 7))})),
               StatusCode::kInvalidModel, "sparse position 0 is past the last of 4 words");
  // Another major version, named with the file.
  expect_error(parse(assemble({g}, 2, 3)), StatusCode::kUnsupported,
               "m.bsm: .bsm format version 2.3 is not supported; this build reads version 1.x");
  // A newer minor version with an unknown section kind is read.
  EXPECT_TRUE(parse(assemble({{"XTRA", 0, "hello", 5}, g}, 1, 7)).is_ok());
  // No graph, two graphs, bad magic, truncation, checksum.
  expect_error(parse(assemble({{"TNSR", 0, std::string(4, '\0'), 4}})), StatusCode::kInvalidModel, "no 'GRPH'");
  expect_error(parse(assemble({g, g})), StatusCode::kInvalidModel, "more than one 'GRPH' section");
  expect_error(parse("PK\x03\x04 not a bsm file at all, just text"), StatusCode::kInvalidModel, "not a .bsm file");
  const std::string good = assemble({g, one_tensor("w", {16}, 0, std::string(64, '\0'))});
  expect_error(parse(good.substr(0, good.size() - 5)), StatusCode::kInvalidModel, "(truncated)");
  std::string flipped = good;
  flipped[40] = static_cast<char>(flipped[40] ^ 0x10);
  expect_error(parse(flipped), StatusCode::kInvalidModel, "checksum mismatch");
  // Deflate stream that inflates to more than declared.
  RawSection big = g;
  big.coder = 1;
  ASSERT_TRUE(bsm::deflate_bytes(as_span(g.stored), bsm::Coder::kHuffman, &big.stored));
  big.decoded = g.stored.size() - 1;
  expect_error(parse(assemble({big})), StatusCode::kInvalidModel, "inflates to more than");
  big.decoded = g.stored.size() + 1;
  expect_error(parse(assemble({big})), StatusCode::kInvalidModel,
               "deflate stream inflates to " + std::to_string(g.stored.size()) + " bytes, expected");
  big.decoded = g.stored.size();
  EXPECT_TRUE(parse(assemble({big})).is_ok());
  big.stored.pop_back();
  expect_error(parse(assemble({big})), StatusCode::kInvalidModel, "deflate stream is truncated after");
}

TEST(Bsm, ReadBsmNamesTheFile) {
  TempDir dir;
  const std::string path = dir.file("x.bsm");
  testing::write_bytes(path, "\x89" "BSM\r\n\x1a\n short");
  Expected<Model> m = load_model(path);
  ASSERT_FALSE(m.is_ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(m.status().message().rfind(path + ": ", 0), 0u) << m.status().message();
  EXPECT_EQ(load_model(dir.file("missing.bsm")).status().code(), StatusCode::kIoError);
}

// ---- fuzz: never crash; every corruption is an error or a valid model ----

TEST(Bsm, FuzzTruncationsAndFlips) {
  Expected<Model> onnx = read_onnx(digits_mlp());
  ASSERT_TRUE(onnx.is_ok());
  Expected<std::string> good = serialize_bsm(*onnx);
  ASSERT_TRUE(good.is_ok());
  ASSERT_TRUE(parse(*good).is_ok());
  const size_t size = good->size();
  // Truncations: every prefix shorter than the file is refused (the header states the size).
  for (size_t cut = 0; cut < size; cut += (cut < 256 ? 1 : 97)) {
    Expected<Model> m = parse(good->substr(0, cut));
    EXPECT_FALSE(m.is_ok()) << "cut at " << cut;
  }
  std::mt19937_64 rng(20240611);
  int errors = 0, valid = 0;
  // With checksums: any flip is caught.
  for (int iter = 0; iter < 150; ++iter) {
    std::string bad = *good;
    bad[rng() % size] ^= static_cast<char>(1 + rng() % 255);
    EXPECT_FALSE(parse(bad).is_ok()) << "iteration " << iter;
  }
  // Without checksums: the parser itself meets the corruption (1..4 flipped bytes, sometimes
  // a byte set to 0xFF or 0x00, which hits lengths harder).
  BsmReadOptions unchecked = no_verify();
  unchecked.verify_checksums = false;
  for (int iter = 0; iter < 400; ++iter) {
    std::string bad = *good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t at = rng() % size;
      switch (rng() % 3) {
        case 0: bad[at] ^= static_cast<char>(1u << (rng() % 8)); break;
        case 1: bad[at] = '\xff'; break;
        default: bad[at] = '\0'; break;
      }
    }
    Expected<Model> m = parse(bad, unchecked);
    if (m.is_ok()) {
      ++valid;
    } else {
      ++errors;
      EXPECT_EQ(m.status().message().rfind("m.bsm: ", 0), 0u) << m.status().message();
    }
  }
  RecordProperty("fuzz_errors", errors);
  RecordProperty("fuzz_valid", valid);
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace bitsmith
