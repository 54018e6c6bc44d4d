// fold-constants: outputs with and without the pass must be bit-identical (the same kernels
// compute the same values, only earlier), then node counts, skip reasons, and a golden case.
#include <gtest/gtest.h>

#include "bitsmith/io/npy.h"
#include "bitsmith/io/onnx.h"
#include "bitsmith/passes/registry.h"
#include "passes/pass_test_util.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using nlohmann::json;
using test::GraphBuilder;

Attribute value_attr(Tensor t) { return test::tensor_attr("value", std::move(t)); }

// Runs fold-constants (with `options`, `scope`); expects every output to keep its exact bytes.
PassRecord fold_and_compare(Model& m, const NamedTensors& feeds, const json& options = json::object(),
                            const json& scope = json::object()) {
  const std::vector<Tensor> before = test::run_model(m, feeds);
  auto pm = PassManager::from_json(json::array({{{"pass", "fold-constants"}, {"options", options}, {"scope", scope}}}));
  EXPECT_TRUE(pm.is_ok()) << pm.status().message();
  if (!pm.is_ok()) return {};
  PassManagerOptions o;
  o.num_threads = 1;
  const Status s = pm->run(m, o);
  EXPECT_TRUE(s.is_ok()) << s.message();
  const std::vector<Tensor> after = test::run_model(m, feeds);
  EXPECT_EQ(before.size(), after.size());
  for (size_t i = 0; i < std::min(before.size(), after.size()); ++i)
    EXPECT_TRUE(before[i].same_content(after[i])) << "output " << i << " changed\n" << print_model(m);
  return pm->records()[0];
}

Tensor f32(std::vector<float> v, Shape shape) { return Tensor::from_vector<float>(v, std::move(shape)); }

// x [N, 3] + (c1 * c2), times ConstantOfShape(Shape(x)[1:]) (a static slice of a dynamic shape).
Model chain_model() {
  GraphBuilder b;
  b.input("x", DType::kF32, {"N", 3})
      .node("Constant", {}, {"c1"}, {value_attr(f32({1.f, 2.f, 3.f}, {3}))}, "c1")
      .node("Constant", {}, {"c2"}, {value_attr(Tensor::scalar<float>(2.f))}, "c2")
      .node("Mul", {"c1", "c2"}, {"m"}, {}, "mul_const")
      .node("Add", {"x", "m"}, {"a"}, {}, "add_x")
      .node("Shape", {"x"}, {"sx"}, {test::attr_int("start", 1)}, "shape_static")
      .node("ConstantOfShape", {"sx"}, {"ones"}, {value_attr(f32({0.5f}, {1}))}, "ones")
      .node("Mul", {"a", "ones"}, {"y"}, {}, "mul_x")
      .node("Shape", {"x"}, {"full"}, {}, "shape_dynamic")
      .output("y", DType::kF32, {"N", 3})
      .output("full", DType::kI64, {2});
  return b.model();
}

TEST(FoldConstants, FoldsChainsAndStaticShapeSlices) {
  Model m = chain_model();
  const PassRecord r = fold_and_compare(m, {{"x", f32({1, -2, 3, 0.25f, 5, -6}, {2, 3})}});
  // Left: the two ops on x and the Shape of the dynamic dim (which also produces an output).
  std::vector<std::string> left;
  for (const Node& n : m.graph.nodes) left.push_back(n.name);
  EXPECT_EQ(left, (std::vector<std::string>{"add_x", "mul_x", "shape_dynamic"}));
  EXPECT_EQ(r.counter("folded"), 4);        // c1, c2, mul_const, ones
  EXPECT_EQ(r.counter("shapes_folded"), 1);  // shape_static
  // Only the values still used survive as initializers.
  std::vector<std::string> inits;
  for (const Tensor& t : m.graph.initializers) inits.push_back(t.name());
  EXPECT_EQ(inits, (std::vector<std::string>{"m", "ones"}));
  EXPECT_EQ(r.counter("initializers_removed"), 3);  // c1, c2, sx
  EXPECT_TRUE(r.skipped.empty());
}

TEST(FoldConstants, IsIdempotent) {
  Model m = chain_model();
  test::run_pipeline(m, R"([{"pass": "fold-constants"}])");
  const std::string once = print_model(m);
  const PassManager pm = test::run_pipeline(m, R"([{"pass": "fold-constants"}])");
  EXPECT_EQ(print_model(m), once);
  EXPECT_EQ(pm.records()[0].counter("folded"), 0);
}

TEST(FoldConstants, FoldShapesCanBeTurnedOff) {
  Model m = chain_model();
  const PassRecord r = fold_and_compare(m, {{"x", f32({1, 2, 3, 4, 5, 6}, {2, 3})}}, json{{"fold_shapes", false}});
  EXPECT_EQ(r.counter("shapes_folded"), 0);
  EXPECT_EQ(test::count_op(m, "Shape"), 2);
  EXPECT_EQ(test::count_op(m, "ConstantOfShape"), 1);
}

TEST(FoldConstants, SizeLimitBeforeAndAfterEvaluation) {
  GraphBuilder b;
  b.input("x", DType::kF32, {1024, 1024})
      .initializer<int64_t>("big_shape", {1024, 1024}, {2})
      .node("ConstantOfShape", {"big_shape"}, {"big"}, {}, "big")
      .node("Add", {"x", "big"}, {"y"}, {}, "add")
      .initializer<float>("v", std::vector<float>(256, 1.f), {256})
      .node("Neg", {"v"}, {"nv"}, {}, "neg")
      .node("Add", {"nv", "nv"}, {"z"}, {}, "add2")
      .output("y", DType::kF32, {1024, 1024})
      .output("z", DType::kF32, {256});
  Model m = b.model();
  const std::string before = print_model(m);
  const PassManager pm =
      test::run_pipeline(m, R"([{"pass": "fold-constants", "options": {"max_output_bytes": 1000}}])");
  const PassRecord& r = pm.records()[0];
  ASSERT_EQ(r.skipped.size(), 2u);
  EXPECT_EQ(r.skipped[0].node, "big");
  EXPECT_EQ(r.skipped[0].reason,
            "output would be " + std::to_string(1024 * 1024 * 4) + " bytes, over max_output_bytes");
  EXPECT_EQ(r.skipped[1].node, "neg");
  EXPECT_EQ(r.skipped[1].reason, "output is 1024 bytes, over max_output_bytes");
  EXPECT_EQ(print_model(m), before);
}

TEST(FoldConstants, KeepsDequantizeLinearUnlessAsked) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2, 3})
      .initializer<int8_t>("wq", {1, -2, 3, -4, 5, -6}, {3, 2})
      .initializer<float>("ws", {0.5f}, {})
      .initializer<int8_t>("wz", {0}, {})
      .node("DequantizeLinear", {"wq", "ws", "wz"}, {"w"}, {}, "dq")
      .node("MatMul", {"x", "w"}, {"y"}, {}, "mm")
      .output("y", DType::kF32, {2, 3});
  const NamedTensors feeds = {{"x", f32({1, 2, 3, 4, 5, 6}, {2, 3})}};
  Model kept = b.model();
  const PassRecord r = fold_and_compare(kept, feeds);
  EXPECT_EQ(test::count_op(kept, "DequantizeLinear"), 1);
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0].reason, "listed in keep_ops");
  Model folded = b.model();
  const PassRecord r2 = fold_and_compare(folded, feeds, json{{"keep_ops", json::array()}});
  EXPECT_EQ(test::count_op(folded, "DequantizeLinear"), 0);
  EXPECT_EQ(folded.graph.find_initializer("w")->dtype(), DType::kF32);
  EXPECT_EQ(r2.counter("folded"), 1);
}

TEST(FoldConstants, SkipReasons) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2})
      .input("over", DType::kF32, {2})
      .initializer<float>("over", {1.f, 2.f}, {2})  // an initializer the caller may override
      .initializer<int64_t>("bad_shape", {5}, {1})
      .node("Constant", {}, {"k"}, {value_attr(f32({3.f, 4.f}, {2}))}, "const_out")
      .node("Neg", {"over"}, {"n"}, {}, "neg_override")
      .node("Reshape", {"k", "bad_shape"}, {"r"}, {}, "bad_reshape")
      .node("RandomNormal", {}, {"rnd"}, {test::ints("shape", {2})}, "random")
      .node("Add", {"x", "n"}, {"y"}, {}, "add")
      .output("k", DType::kF32, {2})
      .output("y", DType::kF32, {2})
      .output("r", DType::kF32, {5})
      .output("rnd", DType::kF32, {2});
  Model m = b.model();
  const std::string before = print_model(m);
  const PassManager pm = test::run_pipeline(m, R"([{"pass": "fold-constants"}])");
  EXPECT_EQ(print_model(m), before);
  std::map<std::string, std::string> why;
  for (const NodeSkip& s : pm.records()[0].skipped) why[s.node] = s.reason;
  // neg_override is not applicable at all (its input may change), so it is not listed.
  EXPECT_EQ(why.size(), 2u);
  EXPECT_EQ(why["const_out"], "produces graph output 'k'");
  EXPECT_EQ(why["random"], "random op: folding would freeze one draw");
  // const_out stays a node, so 'k' is not a constant and bad_reshape is not applicable.
  EXPECT_EQ(why.count("bad_reshape"), 0u);
}

TEST(FoldConstants, KernelFailureIsASkipNotAnError) {
  GraphBuilder b;
  b.input("x", DType::kF32, {5})
      .initializer<float>("k", {3.f, 4.f}, {2})
      .initializer<int64_t>("bad_shape", {5}, {1})
      .node("Reshape", {"k", "bad_shape"}, {"r"}, {}, "bad_reshape")
      .node("Add", {"x", "r"}, {"y"}, {}, "add")
      .output("y", DType::kF32, {5});
  Model m = b.model();
  const std::string before = print_model(m);
  const PassManager pm = test::run_pipeline(m, R"([{"pass": "fold-constants"}])");
  EXPECT_EQ(print_model(m), before);
  const PassRecord& r = pm.records()[0];
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0].node, "bad_reshape");
  EXPECT_EQ(r.skipped[0].reason.rfind("not evaluated: ", 0), 0u) << r.skipped[0].reason;
}

TEST(FoldConstants, ScopeLimitsFolding) {
  Model m = chain_model();
  const PassRecord r = fold_and_compare(m, {{"x", f32({1, 2, 3, 4, 5, 6}, {2, 3})}}, json::object(),
                                        json{{"exclude", {{"names", {"c2"}}}}});
  EXPECT_EQ(test::count_op(m, "Constant"), 1);
  EXPECT_EQ(r.counter("folded"), 2);  // c1 and ones; mul_const waits for c2
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0].node, "c2");
  EXPECT_EQ(r.skipped[0].reason, "outside the pass scope");
}

// models/gpt_tiny.onnx: 47 Constant nodes, an Identity of the causal mask, and
// Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains on the dynamic batch (which must stay).
TEST(FoldConstants, GptTinyModel) {
  auto loaded = read_onnx(test::repo_path("models/gpt_tiny.onnx"));
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  Model m = std::move(*loaded);
  auto input = read_npy(test::repo_path("models/gpt_tiny.input.npy"));
  ASSERT_TRUE(input.is_ok()) << input.status().message();
  const size_t nodes_before = m.graph.nodes.size();
  const int constants = test::count_op(m, "Constant"), shapes = test::count_op(m, "Shape");
  ASSERT_GT(constants, 0);
  const PassRecord r = fold_and_compare(m, {{"input_ids", *input}});
  EXPECT_EQ(test::count_op(m, "Constant"), 0);
  EXPECT_EQ(test::count_op(m, "Identity"), 0);
  EXPECT_EQ(test::count_op(m, "Shape"), shapes);  // the batch is dynamic: nothing to know yet
  EXPECT_LT(m.graph.nodes.size(), nodes_before);
  EXPECT_EQ(static_cast<int64_t>(nodes_before - m.graph.nodes.size()), r.counter("folded"));
  EXPECT_GE(r.counter("folded"), constants + 1);
  EXPECT_TRUE(verify(m).is_ok());
  // Still bit-identical at another batch size (nothing batch-dependent was frozen).
  Tensor one(DType::kI64, {1, input->dim(1)});
  std::copy(input->data<int64_t>(), input->data<int64_t>() + input->dim(1), one.mutable_data<int64_t>());
  auto original = read_onnx(test::repo_path("models/gpt_tiny.onnx"));
  ASSERT_TRUE(original.is_ok());
  const auto want = test::run_model(*original, {{"input_ids", one}});
  const auto got = test::run_model(m, {{"input_ids", one}});
  ASSERT_EQ(want.size(), 1u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(want[0].same_content(got[0]));
}

TEST(FoldConstants, Golden) { test::check_golden("fold_constants", chain_model()); }

}  // namespace
}  // namespace bitsmith
