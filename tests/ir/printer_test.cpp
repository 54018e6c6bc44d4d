#include "bitsmith/ir/printer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "bitsmith/ir/verifier.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using test::GraphBuilder;

const std::string kGoldenPath = std::string(BITSMITH_SOURCE_DIR) + "/tests/ir/golden/printer_model.txt";

Tensor iota_f32(Shape shape, const std::string& name) {
  Tensor t(DType::kF32, std::move(shape), name);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data<float>()[i] = 0.5f * static_cast<float>(i);
  return t;
}

// A model touching every printed feature.
Model golden_model() {
  GraphBuilder then_b("then_body");
  then_b.node("Identity", {"h"}, {"then_out"}, {}, "then_id").output("then_out", DType::kF32, {"N", 4});
  GraphBuilder else_b("else_body");
  else_b.node("Neg", {"h"}, {"else_out"}, {}, "else_neg").output("else_out", DType::kF32, {"N", 4});

  GraphBuilder b("main graph");
  b.input("x", DType::kF32, {"N", 3, test::kUnknownDim})
      .input("flag", DType::kBool, {})
      .input_unranked("onnx::extra", DType::kF16)
      .initializer(iota_f32({4, 3}, "w"))
      .initializer<int64_t>("shape", {-1, 12}, {2})
      .initializer(Tensor::strings({2}, {"ab", "c\"d\n"}, "labels"))
      .node("Reshape", {"x", "shape"}, {"flat"}, {test::attr_int("allowzero", 0)}, "reshape")
      .node("Gemm", {"flat", "w", ""}, {"h"},
            {test::attr_float("alpha", 1.f), test::attr_float("beta", 0.1f), test::attr_int("transB", 1)}, "gemm")
      .node("If", {"flag"}, {"y"},
            {test::graph_attr("then_branch", then_b.build()), test::graph_attr("else_branch", else_b.build())},
            "branch")
      .node("MatMulNBits", {"h", "w"}, {"q", ""},
            {test::ints("shape", {4, 3}), test::floats("scales", {0.25f, -3.f, 1e-20f}),
             test::strings("tags", {"a b", ""}), test::tensor_attr("zp", Tensor::from_vector<uint8_t>({1, 2}, {2})),
             test::attr_string("mode", "tab\there")},
            "", "com.microsoft")
      .output("y", DType::kF32, {"N", 4})
      .output("q", DType::kF32, {"N", 4})
      .value_info("h", DType::kF32, {"N", 4});
  Graph& g = b.graph();
  g.doc_string = "the main graph";
  g.nodes[1].doc_string = "fully connected";
  g.nodes[1].metadata_props = {{"origin", "fc1"}};
  g.inputs[0].type.dims[1].denotation = "DATA_CHANNEL";
  SparseTensor st;
  st.values = Tensor::from_vector<float>({1.f, 2.f}, {2}, "sparse_w");
  st.indices = Tensor::from_vector<int64_t>({0, 5}, {2});
  st.dims = {2, 3};
  g.sparse_initializers.push_back(st);
  Attribute ref;
  ref.name = "alpha";
  ref.type = AttrType::kFloat;
  ref.ref_attr_name = "outer_alpha";
  g.nodes[0].attributes.push_back(ref);
  g.unknown_fields = std::string("\x08\x01", 2);

  Model m = b.model(17, {OpsetImport{"com.microsoft", 1}});
  m.producer_version = "0.1.0";
  m.doc_string = "golden model";
  m.model_version = 3;
  m.set_metadata("author", "irnpy");
  m.functions = {"fn0", "fn1"};
  m.training_info = {"ti"};
  m.unknown_fields = std::string("\x10\x02", 2);
  return m;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Regenerate with BITSMITH_UPDATE_GOLDEN=1 (then check the diff by eye).
TEST(Printer, GoldenModel) {
  const std::string text = print_model(golden_model());
  if (std::getenv("BITSMITH_UPDATE_GOLDEN")) {
    std::ofstream(kGoldenPath, std::ios::binary) << text;
    GTEST_SKIP() << "wrote " << kGoldenPath;
  }
  const std::string golden = read_text(kGoldenPath);
  ASSERT_FALSE(golden.empty()) << "missing golden file " << kGoldenPath;
  EXPECT_EQ(text, golden);
}

TEST(Printer, Deterministic) {
  EXPECT_EQ(print_model(golden_model()), print_model(golden_model()));
}

// FNV-1a 64 reference vectors (Fowler/Noll/Vo): "" -> cbf29ce484222325, "foobar" -> 85944171f73967e8.
TEST(Printer, TensorHashIsFnv1a64OfTheBytes) {
  Graph g;
  const std::string foobar = "foobar";
  g.initializers.push_back(Tensor::from_vector<uint8_t>(std::vector<uint8_t>(foobar.begin(), foobar.end()), {6}, "t"));
  g.initializers.push_back(Tensor(DType::kF32, {0, 3}, "empty"));
  const std::string text = print_graph(g);
  EXPECT_NE(text.find("initializer t: u8[6] #85944171f73967e8"), std::string::npos) << text;
  EXPECT_NE(text.find("initializer empty: f32[0, 3] #cbf29ce484222325"), std::string::npos) << text;
}

TEST(Printer, ContentNotStorageDecidesTheText) {
  Graph a, b;
  a.initializers.push_back(iota_f32({2, 3}, "w"));
  // Same bytes as a view at an offset inside a larger buffer.
  auto storage = std::make_shared<OwnedStorage>(64 + 24);
  std::memcpy(storage->data() + 64, a.initializers[0].bytes(), 24);
  b.initializers.push_back(Tensor::view(DType::kF32, {2, 3}, storage, storage->data() + 64, "w"));
  EXPECT_EQ(print_graph(a), print_graph(b));
  // One changed element changes the hash.
  b.initializers[0].mutable_data<float>()[5] = 7.f;
  EXPECT_NE(print_graph(a), print_graph(b));
}

TEST(Printer, StringHashSeparatesElements) {
  Graph a, b;
  a.initializers.push_back(Tensor::strings({2}, {"ab", "c"}, "s"));
  b.initializers.push_back(Tensor::strings({2}, {"a", "bc"}, "s"));
  EXPECT_NE(print_graph(a), print_graph(b));
}

TEST(Printer, FloatsRoundTripAndLookLikeFloats) {
  const float values[] = {0.1f, 1.f, -2.5f, 3.4028235e38f, 1e-45f, 16777217.f, 123456789.f};
  for (float v : values) {
    Graph g;
    g.nodes.push_back(Node{});
    g.nodes[0].op_type = "LeakyRelu";
    g.nodes[0].attributes.push_back(Attribute::make_float("alpha", v));
    const std::string text = print_graph(g);
    const size_t at = text.find("alpha=");
    ASSERT_NE(at, std::string::npos) << text;
    const std::string printed = text.substr(at + 6, text.find('>', at) - at - 6);
    EXPECT_TRUE(printed.find_first_of(".e") != std::string::npos) << printed;
    EXPECT_EQ(std::strtof(printed.c_str(), nullptr), v) << printed;
  }
}

TEST(Printer, IndentShiftsEveryLine) {
  const Model m = golden_model();
  const std::string flat = print_graph(m.graph), indented = print_graph(m.graph, 4);
  std::istringstream a(flat), b(indented);
  std::string la, lb;
  while (std::getline(a, la)) {
    ASSERT_TRUE(std::getline(b, lb));
    EXPECT_EQ("    " + la, lb);
  }
}

TEST(Printer, GoldenModelIsValid) {
  // The golden model is also a verifier fixture: symbolic dims, subgraphs and optional inputs.
  const Status s = verify(golden_model());
  EXPECT_TRUE(s.is_ok()) << s.message();
}

}  // namespace
}  // namespace bitsmith
