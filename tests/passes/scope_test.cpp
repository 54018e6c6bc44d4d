// Scope: selection by name glob, op type and position; strict JSON form.
#include "bitsmith/passes/scope.h"

#include <gtest/gtest.h>

#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using nlohmann::json;
using test::GraphBuilder;

// x -> conv_a (Conv, weight init) -> relu -> mm (MatMul, activation x activation) ->
// fc (Gemm, weight from a Constant node) -> y; plus "side" (Identity of relu) -> z.
Model scope_model() {
  GraphBuilder b;
  b.input("x", DType::kF32, {1, 2, 4, 4})
      .initializer<float>("w_conv", std::vector<float>(2 * 2 * 1 * 1, 1.f), {2, 2, 1, 1})
      .node("Conv", {"x", "w_conv"}, {"c"}, {}, "/block/conv_a")
      .node("Relu", {"c"}, {"r"}, {}, "/block/relu")
      .node("Reshape", {"r", "shape"}, {"flat"}, {}, "/head/reshape")
      .initializer<int64_t>("shape", {2, 16}, {2})
      .node("MatMul", {"flat", "flat_t"}, {"sq"}, {}, "/head/mm")
      .node("Transpose", {"flat"}, {"flat_t"}, {}, "/head/t")
      .node("Constant", {}, {"w_fc"}, {test::tensor_attr("value", Tensor(DType::kF32, {2, 3}))}, "/head/const")
      .node("Gemm", {"sq", "w_fc"}, {"y"}, {}, "/head/fc")
      .node("Identity", {"r"}, {"z"}, {}, "side")
      .output("y", DType::kF32, {2, 3})
      .output("z", DType::kF32, {1, 2, 4, 4});
  return b.model();
}

std::vector<std::string> selected(const Scope& s, const Graph& g) {
  std::vector<std::string> out;
  const std::vector<bool> mask = s.select(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    EXPECT_EQ(mask[i], s.matches(g, i)) << g.nodes[i].name;
    if (mask[i]) out.push_back(g.nodes[i].name);
  }
  return out;
}

Scope parse(const std::string& text) {
  auto s = Scope::from_json(json::parse(text), "/scope");
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return s.is_ok() ? *s : Scope{};
}

TEST(PassScope, DefaultSelectsEverything) {
  const Model m = scope_model();
  EXPECT_EQ(selected(Scope{}, m.graph).size(), m.graph.nodes.size());
  EXPECT_TRUE(Scope{}.selects_all());
}

TEST(PassScope, WeightedLayers) {
  const Model m = scope_model();
  std::vector<std::string> weighted;
  for (size_t i = 0; i < m.graph.nodes.size(); ++i)
    if (is_weighted_layer(m.graph, i)) weighted.push_back(m.graph.nodes[i].name);
  // The MatMul multiplies two activations: not weighted. The Gemm's weight is a Constant node.
  EXPECT_EQ(weighted, (std::vector<std::string>{"/block/conv_a", "/head/fc"}));
}

TEST(PassScope, IncludeByNameGlobAndOp) {
  const Model m = scope_model();
  EXPECT_EQ(selected(parse(R"({"include": {"names": ["/head/*"]}})"), m.graph),
            (std::vector<std::string>{"/head/reshape", "/head/mm", "/head/t", "/head/const", "/head/fc"}));
  EXPECT_EQ(selected(parse(R"({"include": {"ops": ["Relu", "Identity"]}})"), m.graph),
            (std::vector<std::string>{"/block/relu", "side"}));
  // Criteria of one selector are OR-ed; exclude wins over include.
  EXPECT_EQ(selected(parse(R"({"include": {"names": ["/block/*"], "ops": ["Gemm"]},
                               "exclude": {"names": ["*relu"]}})"),
                     m.graph),
            (std::vector<std::string>{"/block/conv_a", "/head/fc"}));
}

TEST(PassScope, PositionsDoNotDependOnNames) {
  Model m = scope_model();
  EXPECT_EQ(selected(parse(R"({"exclude": {"first_weighted": true, "last_weighted": true,
                                            "output_producers": true}})"),
                     m.graph),
            (std::vector<std::string>{"/block/relu", "/head/reshape", "/head/mm", "/head/t", "/head/const"}));
  EXPECT_EQ(selected(parse(R"({"include": {"last_weighted": true}})"), m.graph),
            (std::vector<std::string>{"/head/fc"}));
  // Rename every node: positions still pick the same nodes.
  for (size_t i = 0; i < m.graph.nodes.size(); ++i) m.graph.nodes[i].name = "n" + std::to_string(i);
  EXPECT_EQ(selected(parse(R"({"include": {"first_weighted": true, "output_producers": true}})"), m.graph),
            (std::vector<std::string>{"n0", "n6", "n7"}));
}

TEST(PassScope, FirstWeightedFollowsTopologicalOrder) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2, 2})
      .initializer<float>("w1", {1, 0, 0, 1}, {2, 2})
      .initializer<float>("w2", {1, 0, 0, 1}, {2, 2})
      .node("MatMul", {"h", "w2"}, {"y"}, {}, "second")  // listed first, runs second
      .node("MatMul", {"x", "w1"}, {"h"}, {}, "first")
      .output("y", DType::kF32, {2, 2});
  const Model m = b.model();
  EXPECT_EQ(selected(parse(R"({"include": {"first_weighted": true}})"), m.graph),
            (std::vector<std::string>{"first"}));
}

TEST(PassScope, InitializerThatIsAGraphInputIsNotAWeight) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2, 2})
      .input("w", DType::kF32, {2, 2})
      .initializer<float>("w", {1, 0, 0, 1}, {2, 2})
      .node("MatMul", {"x", "w"}, {"y"}, {}, "mm")
      .output("y", DType::kF32, {2, 2});
  EXPECT_FALSE(is_weighted_layer(b.model().graph, 0));
}

TEST(PassScope, OtherDomainsUseQualifiedOps) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2})
      .node("Relu", {"x"}, {"y"}, {}, "custom", "com.example")
      .output("y", DType::kF32, {2});
  const Model m = b.model(17, {{"com.example", 1}});
  EXPECT_EQ(selected(parse(R"({"include": {"ops": ["com.example.Relu"]}})"), m.graph),
            (std::vector<std::string>{"custom"}));
  EXPECT_TRUE(selected(parse(R"({"include": {"ops": ["Relu"]}})"), m.graph).empty());
}

TEST(PassScope, UnmatchedPatternsAreReported) {
  const Model m = scope_model();
  const Scope s = parse(R"({"include": {"names": ["/head/*", "/hed/*"]}, "exclude": {"ops": ["Conv", "Cnv"]}})");
  EXPECT_EQ(s.unmatched(m.graph), (std::vector<std::string>{"include.names: \"/hed/*\" matches no node",
                                                             "exclude.ops: \"Cnv\" matches no node"}));
}

TEST(PassScope, StrictJsonCollectsAllErrors) {
  const json j = json::parse(R"({"include": {"name": ["a"], "ops": "Conv"},
                                 "exclude": {"first_weighted": 1},
                                 "exlude": {}})");
  auto s = Scope::from_json(j, "/pipeline/1/scope");
  ASSERT_FALSE(s.is_ok());
  const std::string msg = s.status().message();
  EXPECT_NE(msg.find("/pipeline/1/scope/exlude: unknown scope key \"exlude\"; did you mean \"exclude\"?"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("/pipeline/1/scope/include/name: unknown selector key \"name\"; did you mean \"names\"?"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("/pipeline/1/scope/include/ops: expected an array of strings, got a string \"Conv\""),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("/pipeline/1/scope/exclude/first_weighted: expected a bool"), std::string::npos) << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 3) << msg;
}

TEST(PassScope, CanonicalJsonRoundTrips) {
  const Scope s = parse(R"({"include": {"names": ["a*"]}, "exclude": {"last_weighted": true}})");
  const json j = s.to_json();
  EXPECT_EQ(j["include"]["names"], json::array({"a*"}));
  EXPECT_EQ(j["exclude"]["last_weighted"], true);
  EXPECT_EQ(j["exclude"]["first_weighted"], false);
  EXPECT_EQ(parse(j.dump()).to_json(), j);
  EXPECT_EQ(Scope{}.to_json(), parse("{}").to_json());
}

}  // namespace
}  // namespace bitsmith
