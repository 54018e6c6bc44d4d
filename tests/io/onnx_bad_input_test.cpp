// Malformed ONNX files: every one must give one clear error (file, place, what was expected),
// never a crash, a hang or a huge allocation. Files are made here: real models truncated or
// corrupted, and tiny protobufs crafted with the wire writer.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <filesystem>
#include <random>

#include "bitsmith/io/onnx.h"
#include "io/onnx_test_helpers.h"

namespace bitsmith {
namespace {

using testing::TempDir;
namespace pb = testing::pb;

// A valid one-node graph: Y = Relu(X) with an initializer W unused by the node (payload `w`).
std::string relu_graph(const std::string& initializer) {
  return pb::msg(1, pb::node("Relu", {"X"}, {"Y"}, "relu0")) + pb::str_field(2, "g") +
         pb::msg(5, pb::tensor_header({2}, 1, "B") + pb::raw_data(std::string(8, '\0'))) +
         pb::msg(5, initializer) + pb::msg(11, pb::value_info_f32("X", {2})) +
         pb::msg(12, pb::value_info_f32("Y", {2}));
}

Status read_model_bytes(const TempDir& dir, const std::string& bytes, const std::string& name = "m.onnx",
                        const OnnxReadOptions& options = {}) {
  testing::write_bytes(dir.file(name), bytes);
  return read_onnx(dir.file(name), options).status();
}

void expect_error(const Status& st, StatusCode code, const std::vector<std::string>& needles) {
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), code) << st.message();
  for (const std::string& n : needles) EXPECT_NE(st.message().find(n), std::string::npos) << "missing '" << n << "' in: " << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << "one line: " << st.message();
}

long peak_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

TEST(OnnxBadInput, ValidCraftedModelReads) {  // the baseline the cases below corrupt
  TempDir dir;
  const std::string w = pb::tensor_header({2, 2}, 1, "W") + pb::raw_data(std::string(16, '\1'));
  ASSERT_TRUE(read_model_bytes(dir, pb::model(relu_graph(w))).is_ok());
}

TEST(OnnxBadInput, MissingFile) {
  TempDir dir;
  const std::string path = dir.file("nope.onnx");
  expect_error(read_onnx(path).status(), StatusCode::kIoError, {path});
}

TEST(OnnxBadInput, EmptyFile) {
  TempDir dir;
  expect_error(read_model_bytes(dir, ""), StatusCode::kInvalidModel, {"m.onnx", "empty"});
}

TEST(OnnxBadInput, TruncatedRealModel) {
  const std::string src = testing::shared_dir() + "/data/onnx-mnist-cntk/mnist-8.onnx";
  if (!std::filesystem::exists(src)) GTEST_SKIP() << "no " << src;
  const std::string bytes = testing::read_bytes(src);
  // Find the graph field; any cut inside it leaves a length that runs past the end.
  wire::Reader r(std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
  wire::Field f;
  size_t graph_begin = 0, graph_end = 0;
  while (!r.done()) {
    ASSERT_TRUE(r.next(&f).is_ok());
    if (f.number == 7) {
      graph_begin = static_cast<size_t>(f.offset) + 1;
      graph_end = static_cast<size_t>(f.offset) + f.whole.size();
    }
  }
  ASSERT_LT(graph_begin, graph_end);
  TempDir dir;
  std::mt19937 rng(11);
  std::vector<size_t> cuts = {graph_begin, graph_begin + 1, graph_end - 1, (graph_begin + graph_end) / 2};
  for (int i = 0; i < 40; ++i) cuts.push_back(graph_begin + rng() % (graph_end - graph_begin));
  for (size_t cut : cuts)
    expect_error(read_model_bytes(dir, bytes.substr(0, cut)), StatusCode::kInvalidModel, {"m.onnx"});
}

TEST(OnnxBadInput, CorruptedRealModelNeverCrashes) {
  const std::string src = testing::shared_dir() + "/data/onnx-mnist-cntk/mnist-8.onnx";
  if (!std::filesystem::exists(src)) GTEST_SKIP() << "no " << src;
  const std::string good = testing::read_bytes(src);
  TempDir dir;
  std::mt19937 rng(5);
  int errors = 0;
  for (int i = 0; i < 200; ++i) {
    std::string bytes = good;
    for (int k = 0; k < 4; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    // Flipped bytes often land inside weights (still a valid model); structure hits must be
    // clean errors: one line, naming the file.
    Status st = read_model_bytes(dir, bytes);
    if (!st.is_ok()) {
      ++errors;
      EXPECT_EQ(st.message().rfind(dir.file("m.onnx"), 0), 0u) << st.message();
      EXPECT_EQ(st.message().find('\n'), std::string::npos);
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(OnnxBadInput, RandomBytes) {
  TempDir dir;
  std::mt19937 rng(1234);
  for (int i = 0; i < 100; ++i) {
    std::string bytes(1 + rng() % 4096, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Status st = read_model_bytes(dir, bytes);
    EXPECT_FALSE(st.is_ok()) << "random buffer " << i << " parsed as a model";
    EXPECT_EQ(st.message().rfind(dir.file("m.onnx"), 0), 0u) << st.message();
  }
}

// Absurd sizes are refused before any allocation: dims vs bytes present, lengths vs file size.
TEST(OnnxBadInput, AbsurdLengthsAndDims) {
  TempDir dir;
  const long rss_before = peak_rss_kb();
  const int64_t huge = int64_t{1} << 40;
  expect_error(read_model_bytes(dir, pb::model(relu_graph(pb::tensor_header({huge, 4}, 1, "W") +
                                                          pb::raw_data(std::string(16, '\0'))))),
               StatusCode::kInvalidModel, {"graph.initializer[1] 'W'", "raw_data has 16 bytes, expected 17592186044416 for f32"});
  expect_error(read_model_bytes(dir, pb::model(relu_graph(pb::tensor_header({huge * 4}, 1, "W") +
                                                          pb::packed_varints(5, {1, 2})))),
               StatusCode::kInvalidModel, {"'W'", "float_data"});  // int32_data not allowed for f32
  expect_error(read_model_bytes(dir, pb::model(relu_graph(pb::tensor_header({huge * 4}, 6, "W") +
                                                          pb::packed_varints(5, {1, 2})))),
               StatusCode::kInvalidModel, {"'W'", "int32_data has 2 values, expected 4398046511104"});
  expect_error(read_model_bytes(dir, pb::model(relu_graph(pb::tensor_header({int64_t{1} << 62, 16}, 1, "W") +
                                                          pb::raw_data("x")))),
               StatusCode::kInvalidModel, {"'W'", "overflow"});
  expect_error(read_model_bytes(dir, pb::model(relu_graph(pb::tensor_header({huge}, 8, "S") +
                                                          pb::str_field(6, "a")))),
               StatusCode::kInvalidModel, {"'S'", "string_data has 1 entries"});
  expect_error(read_model_bytes(dir, pb::model(relu_graph(pb::tensor_header({4}, 1, "W")))),
               StatusCode::kInvalidModel, {"'W'", "no data"});
  // A length prefix far beyond the file.
  const std::string lying = pb::int_field(1, 8) + "\x3a" + pb::varint(uint64_t{1} << 60) + "abc";
  expect_error(read_model_bytes(dir, lying), StatusCode::kInvalidModel,
               {"m.onnx", "declares 1152921504606846976 bytes but only 3 remain"});
  // Negative dims.
  expect_error(read_model_bytes(dir, pb::model(relu_graph(pb::tensor_header({2, -3}, 1, "W")))),
               StatusCode::kInvalidModel, {"'W'", "dims[1] is -3, expected >= 0"});
  EXPECT_LT(peak_rss_kb() - rss_before, 64 * 1024) << "allocation not bounded by the bytes present";
}

std::string external_initializer(const std::string& location, const std::string& offset = "0",
                                 const std::string& length = "16") {
  auto entry = [](const std::string& k, const std::string& v) {
    return pb::msg(13, pb::str_field(1, k) + pb::str_field(2, v));
  };
  return pb::tensor_header({2, 2}, 1, "W") + entry("location", location) + entry("offset", offset) +
         entry("length", length) + pb::int_field(14, 1);
}

TEST(OnnxBadInput, MissingExternalDataFile) {
  TempDir dir;
  expect_error(read_model_bytes(dir, pb::model(relu_graph(external_initializer("weights.bin")))),
               StatusCode::kIoError, {"m.onnx", "graph.initializer[1] 'W'", dir.file("weights.bin")});
}

TEST(OnnxBadInput, EscapingOrAbsoluteExternalLocation) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("models"));
  testing::write_bytes(dir.file("secret.bin"), std::string(16, 's'));  // exists, but outside
  for (const std::string loc : {"../../etc/passwd", "../secret.bin", "a/../../secret.bin"})
    expect_error(read_model_bytes(dir, pb::model(relu_graph(external_initializer(loc))), "models/m.onnx"),
                 StatusCode::kInvalidModel, {"'W'", "'" + loc + "' escapes the model's folder"});
  expect_error(read_model_bytes(dir, pb::model(relu_graph(external_initializer("/etc/passwd")))),
               StatusCode::kInvalidModel, {"'W'", "absolute path"});
}

TEST(OnnxBadInput, ExternalRangeOutsideFile) {
  TempDir dir;
  testing::write_bytes(dir.file("w.bin"), std::string(20, 'w'));
  expect_error(read_model_bytes(dir, pb::model(relu_graph(external_initializer("w.bin", "8")))),
               StatusCode::kInvalidModel, {"'W'", "outside 'w.bin' (20 bytes)"});
  expect_error(read_model_bytes(dir, pb::model(relu_graph(external_initializer("w.bin", "18446744073709551615")))),
               StatusCode::kInvalidModel, {"'W'", "outside"});
  expect_error(read_model_bytes(dir, pb::model(relu_graph(external_initializer("w.bin", "-1")))),
               StatusCode::kInvalidModel, {"'W'", "'offset' is '-1', expected a non-negative integer"});
  expect_error(read_model_bytes(dir, pb::model(relu_graph(external_initializer("w.bin", "0", "12")))),
               StatusCode::kInvalidModel, {"'W'", "length is 12 bytes, expected 16"});
}

TEST(OnnxBadInput, UnknownDtypeCode) {
  TempDir dir;
  expect_error(read_model_bytes(dir, pb::model(relu_graph(pb::tensor_header({1}, 99, "W") + pb::raw_data("x")))),
               StatusCode::kInvalidModel, {"graph.initializer[1] 'W'", "data_type 99 is not a known"});
  expect_error(read_model_bytes(dir, pb::model(relu_graph(pb::tensor_header({1}, 23, "W") + pb::raw_data("x")))),
               StatusCode::kUnsupported, {"'W'", "data_type 23 is not supported"});
}

TEST(OnnxBadInput, UndefinedValueCaughtByVerifier) {
  TempDir dir;
  std::string graph = pb::msg(1, pb::node("Relu", {"X"}, {"T"}, "relu0")) +
                      pb::msg(1, pb::node("Add", {"T", "nowhere"}, {"Y"}, "add1")) + pb::str_field(2, "g") +
                      pb::msg(11, pb::value_info_f32("X", {2})) + pb::msg(12, pb::value_info_f32("Y", {2}));
  const Status st = read_model_bytes(dir, pb::model(graph));
  expect_error(st, StatusCode::kInvalidModel, {"m.onnx", "add1", "nowhere"});
  OnnxReadOptions no_verify;
  no_verify.verify_graph = false;
  EXPECT_TRUE(read_model_bytes(dir, pb::model(graph), "m.onnx", no_verify).is_ok());
}

// If nodes whose then_branch holds an If node whose then_branch ... `levels` deep.
std::string nested_if_graph(int levels) {
  std::string g = pb::str_field(2, "leaf");
  for (int i = 0; i < levels; ++i) {
    const std::string attr = pb::str_field(1, "then_branch") + pb::msg(6, g) + pb::int_field(20, 5);
    const std::string index = std::to_string(i);
    g = pb::msg(1, pb::node("If", {"c"}, {}, std::string("if").append(index), pb::msg(5, attr))) +
        pb::str_field(2, std::string("g").append(index));
  }
  return g;
}

TEST(OnnxBadInput, SubgraphNestingLimit) {
  TempDir dir;
  OnnxReadOptions no_verify;
  no_verify.verify_graph = false;
  EXPECT_TRUE(read_model_bytes(dir, pb::model(nested_if_graph(60)), "m.onnx", no_verify).is_ok());
  expect_error(read_model_bytes(dir, pb::model(nested_if_graph(1000)), "m.onnx", no_verify),
               StatusCode::kInvalidModel, {"m.onnx", "nested more than 64 levels"});
}

TEST(OnnxBadInput, WrongWireTypeAndSegment) {
  TempDir dir;
  expect_error(read_model_bytes(dir, pb::int_field(1, 8) + pb::int_field(7, 3)), StatusCode::kInvalidModel,
               {"GraphProto (field 7)", "wire type varint, expected length-delimited"});
  const std::string bad_name = pb::tensor_header({1}, 1, "") + pb::int_field(8, 5) + pb::raw_data("abcd");
  expect_error(read_model_bytes(dir, pb::model(relu_graph(bad_name))), StatusCode::kInvalidModel,
               {"graph.initializer[1]", "name (field 8)"});
  const std::string segmented = pb::tensor_header({1}, 1, "W") + pb::msg(3, pb::int_field(1, 0)) + pb::raw_data("abcd");
  expect_error(read_model_bytes(dir, pb::model(relu_graph(segmented))), StatusCode::kUnsupported,
               {"'W'", "segment"});
  const std::string two_sources = pb::tensor_header({1}, 1, "W") + pb::raw_data("abcd") + pb::fixed32_field(4, 0);
  expect_error(read_model_bytes(dir, pb::model(relu_graph(two_sources))), StatusCode::kInvalidModel,
               {"'W'", "more than one way"});
  const std::string string_raw = pb::tensor_header({1}, 8, "S") + pb::raw_data("abcd");
  expect_error(read_model_bytes(dir, pb::model(relu_graph(string_raw))), StatusCode::kInvalidModel,
               {"'S'", "string_data"});
}

TEST(OnnxBadInput, PlaceIsNamedInsideSubgraphs) {
  TempDir dir;
  const std::string bad_tensor = pb::tensor_header({3}, 1, "k") + pb::raw_data("1234");
  const std::string body = pb::str_field(2, "body") + pb::msg(5, bad_tensor);
  const std::string attr = pb::str_field(1, "then_branch") + pb::msg(6, body) + pb::int_field(20, 5);
  const std::string graph = pb::msg(1, pb::node("If", {"c"}, {"y"}, "branchy", pb::msg(5, attr))) +
                            pb::str_field(2, "main");
  expect_error(read_model_bytes(dir, pb::model(graph)), StatusCode::kInvalidModel,
               {"graph.node[0] 'branchy'.attribute[0] 'then_branch'.g.initializer[0] 'k': "
                "raw_data has 4 bytes, expected 12 for f32 [3]"});
}

TEST(OnnxBadInput, TensorProtoFileErrors) {
  TempDir dir;
  testing::write_bytes(dir.file("e.pb"), "");
  expect_error(read_tensor_proto_file(dir.file("e.pb")).status(), StatusCode::kInvalidModel, {"e.pb", "empty"});
  expect_error(read_tensor_proto_file(dir.file("missing.pb")).status(), StatusCode::kIoError, {"missing.pb"});
  testing::write_bytes(dir.file("t.pb"), pb::tensor_header({5}, 1, "x") + pb::raw_data("abc"));
  expect_error(read_tensor_proto_file(dir.file("t.pb")).status(), StatusCode::kInvalidModel,
               {"t.pb", "'x'", "raw_data has 3 bytes, expected 20"});
}

}  // namespace
}  // namespace bitsmith
