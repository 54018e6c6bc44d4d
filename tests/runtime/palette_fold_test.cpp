// Load-time decoding of palettized weights (src/runtime/palette_fold.h): the Cast/[Add]/Gather
// chains the cluster pass writes become f32 initializers equal to what the chain computes, and
// a model runs to the same outputs with and without the chains.
#include <gtest/gtest.h>

#include "passes/pass_test_util.h"
#include "runtime/palette_fold.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using test::GraphBuilder;

Model clustered_mlp(const nlohmann::json& options) {
  GraphBuilder g;
  g.input("x", DType::kF32, {"N", 8})
      .initializer("a", test::random_values(8 * 6, 71), {8, 6})
      .initializer("b", test::random_values(4 * 6, 72), {4, 6})
      .node("MatMul", {"x", "a"}, {"h"}, {}, "mm")
      .node("Gemm", {"h", "b"}, {"y"}, {test::attr_int("transB", 1)}, "gemm")
      .output("y", DType::kF32, {"N", 4});
  Model m = g.model();
  test::run_pipeline(m, nlohmann::json::array({{{"pass", "cluster"}, {"options", options}}}).dump());
  return m;
}

TEST(PaletteFold, ChainsBecomeTheDecodedInitializers) {
  for (const char* opts : {R"({"bits": 3})", R"({"bits": 2, "granularity": "per-channel-group", "group_size": 2})"}) {
    SCOPED_TRACE(opts);
    const Model m = clustered_mlp(nlohmann::json::parse(opts));
    ASSERT_EQ(test::count_op(m, "Gather"), 2);
    Model folded_by_pass = m;
    test::run_pipeline(folded_by_pass, R"([{"pass": "fold-constants"}])");
    Graph g = m.graph;
    auto names = fold_palette_weights(g, m.opset_imports, 2);
    ASSERT_TRUE(names.is_ok()) << names.status().message();
    EXPECT_EQ(names->size(), 2u);
    for (const Node& n : g.nodes) EXPECT_TRUE(n.op_type == "MatMul" || n.op_type == "Gemm") << n.op_type;
    for (const std::string& name : *names) {
      const Tensor* mine = g.find_initializer(name);
      const Tensor* theirs = folded_by_pass.graph.find_initializer(name);
      ASSERT_TRUE(mine && theirs) << name;
      EXPECT_TRUE(mine->same_content(*theirs)) << name;
    }
    // The executor folds at load: same outputs as the graph decoded by fold-constants.
    const NamedTensors feeds = {{"x", Tensor::from_vector<float>(test::random_values(5 * 8, 73), {5, 8}, "x")}};
    const auto a = test::run_model(m, feeds), b = test::run_model(folded_by_pass, feeds);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_TRUE(a[0].same_content(b[0]));
  }
}

TEST(PaletteFold, LeavesOtherGathersAlone) {
  // Indices computed at run time, and a decode whose output is a graph output.
  GraphBuilder g;
  g.input("i", DType::kI64, {3})
      .initializer("table", test::random_values(10, 1), {10})
      .initializer("u", std::vector<uint8_t>{1, 2}, {2})
      .node("Gather", {"table", "i"}, {"y"}, {test::attr_int("axis", 0)}, "lookup")
      .node("Cast", {"u"}, {"u32"}, {test::attr_int("to", 6)}, "cast")
      .node("Gather", {"table", "u32"}, {"z"}, {test::attr_int("axis", 0)}, "decode_out")
      .output("y", DType::kF32, {3})
      .output("z", DType::kF32, {2});
  Model m = g.model();
  Graph graph = m.graph;
  auto names = fold_palette_weights(graph, m.opset_imports, 1);
  ASSERT_TRUE(names.is_ok());
  EXPECT_TRUE(names->empty());
  EXPECT_EQ(graph.nodes.size(), 3u);
}

}  // namespace
}  // namespace bitsmith
