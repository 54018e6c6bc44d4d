// Static shape inference (ir/shape_inference.h): agreement with what the executor actually
// produces on real models (every intermediate value), symbolic dims, value tracking through
// shape arithmetic, and the contradictions it must refuse at load.
#include "bitsmith/ir/shape_inference.h"

#include <gtest/gtest.h>

#include <string>

#include "bitsmith/io/npy.h"
#include "bitsmith/io/onnx.h"
#include "bitsmith/runtime/executor.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using test::GraphBuilder;

std::string dims_text(const TypeInfo& t) {
  if (!t.has_shape) return "unranked";
  std::string s;
  for (const Dim& d : t.dims) s += (s.empty() ? "" : ",") + (d.has_value() ? std::to_string(d.value) : d.param + "?");
  return "[" + s + "]";
}

// Runs `model` on `feeds`, and checks every value the inference claims to know (dtype, rank,
// each known dim) against the tensor the executor produced. Returns the number of node
// outputs checked; fails when the inference left any of them not fully static.
void expect_inference_matches_run(const Model& model, const NamedTensors& feeds, const std::string& what) {
  ShapeInferenceOptions opt;
  for (const auto& [name, t] : feeds) opt.input_shapes.emplace_back(name, t.shape());
  auto inferred = infer_shapes(model, opt);
  ASSERT_TRUE(inferred.is_ok()) << what << ": " << inferred.status().message();
  EXPECT_TRUE(inferred->unknown_ops.empty()) << what << ": unknown op " << inferred->unknown_ops.front();
  EXPECT_EQ(inferred->nodes_fully_static, inferred->nodes_total) << what << ": some outputs left unknown";

  auto exec = Executor::create(model);
  ASSERT_TRUE(exec.is_ok()) << exec.status().message();
  int64_t checked = 0;
  auto outs = (*exec)->run_observed(feeds, [&](const Node& node, const std::string& name, const Tensor& value) {
    auto it = inferred->types.find(name);
    if (it == inferred->types.end()) {
      ADD_FAILURE() << what << ": no inferred type for " << name;
      return Status::ok();
    }
    const TypeInfo& t = it->second;
    EXPECT_EQ(t.elem_type, value.dtype()) << what << ": " << node.describe() << " output " << name;
    auto shape = t.static_shape();
    EXPECT_TRUE(shape && *shape == value.shape())
        << what << ": " << node.describe() << " output " << name << " inferred " << dims_text(t) << ", ran "
        << shape_str(value.shape());
    ++checked;
    return Status::ok();
  });
  ASSERT_TRUE(outs.is_ok()) << outs.status().message();
  EXPECT_GT(checked, 10) << what;
}

Tensor load_npy(const std::string& path) {
  auto t = read_npy(path);
  EXPECT_TRUE(t.is_ok()) << t.status().message();
  return t.is_ok() ? *t : Tensor();
}

TEST(ShapeInference, MatchesEveryValueOfTheProjectModels) {
  for (const std::string name : {"cnn_small", "gpt_tiny"}) {
    const std::string base = std::string(BITSMITH_SOURCE_DIR) + "/models/" + name;
    auto model = read_onnx(base + ".onnx");
    ASSERT_TRUE(model.is_ok()) << model.status().message();
    Tensor x = load_npy(base + ".input.npy");
    expect_inference_matches_run(*model, {{model->graph.runtime_inputs()[0]->name, x}}, name);
  }
}

TEST(ShapeInference, MatchesEveryValueOfMnist8) {
  const std::string path = std::string(BITSMITH_SOURCE_DIR) + "/../shared/data/onnx-mnist-cntk/mnist-8.onnx";
  auto model = read_onnx(path);
  if (!model.is_ok()) GTEST_SKIP() << "shared data missing: " << model.status().message();
  Tensor x(DType::kF32, {1, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i) x.mutable_data<float>()[i] = static_cast<float>(i % 255);
  expect_inference_matches_run(*model, {{model->graph.runtime_inputs()[0]->name, x}}, "mnist-8");
}

TEST(ShapeInference, CarriesSymbolicBatchAndResolvesShapeArithmetic) {
  // x [N, 4, 6] -> Shape -> Gather(0) -> Unsqueeze -> Concat([n, 24]) -> Reshape: [N, 24]
  GraphBuilder b;
  b.input("x", DType::kF32, {"N", 4, 6})
      .initializer(Tensor::scalar<int64_t>(0, "zero"))
      .initializer(Tensor::from_vector<int64_t>({0}, {1}, "axes0"))
      .initializer(Tensor::from_vector<int64_t>({24}, {1}, "c24"))
      .node("Shape", {"x"}, {"s"})
      .node("Gather", {"s", "zero"}, {"n"})
      .node("Unsqueeze", {"n", "axes0"}, {"n1"})
      .node("Concat", {"n1", "c24"}, {"target"}, {test::attr_int("axis", 0)})
      .node("Reshape", {"x", "target"}, {"y"})
      .node("Relu", {"x"}, {"r"})
      .output("y", DType::kF32, {"N", 24})
      .output("r", DType::kF32, {"N", 4, 6});
  Model m = b.model();
  auto symbolic = infer_shapes(m);
  ASSERT_TRUE(symbolic.is_ok()) << symbolic.status().message();
  EXPECT_EQ(dims_text(symbolic->types.at("r")), "[N?,4,6]");
  EXPECT_FALSE(symbolic->types.at("y").dims[0].has_value());  // N is not a number yet
  EXPECT_EQ(symbolic->types.at("y").dims[1].value, 24);

  ShapeInferenceOptions opt;
  opt.input_shapes = {{"x", {5, 4, 6}}};
  auto concrete = infer_shapes(m, opt);
  ASSERT_TRUE(concrete.is_ok()) << concrete.status().message();
  EXPECT_EQ(concrete->static_shape("y"), (Shape{5, 24}));
  EXPECT_EQ(concrete->static_shape("target"), (Shape{2}));
}

// Each contradiction must be refused with kInvalidModel naming the node.
struct Contradiction {
  const char* what;
  Model model;
  const char* node;
};

TEST(ShapeInference, RefusesContradictionsNamingTheNode) {
  std::vector<Contradiction> cases;
  {
    GraphBuilder b;
    b.input("a", DType::kF32, {2, 3}).input("b", DType::kF32, {4, 5}).node("MatMul", {"a", "b"}, {"y"}, {}, "mm");
    cases.push_back({"MatMul inner dims", b.model(), "mm"});
  }
  {
    GraphBuilder b;
    b.input("x", DType::kF32, {1, 3, 8, 8})
        .initializer(Tensor(DType::kF32, {4, 2, 3, 3}, "w"))
        .node("Conv", {"x", "w"}, {"y"}, {}, "conv7");
    cases.push_back({"Conv channels", b.model(), "conv7"});
  }
  {
    GraphBuilder b;
    b.input("a", DType::kF32, {2, 3}).input("b", DType::kF32, {4, 3}).node("Add", {"a", "b"}, {"y"}, {}, "add1");
    cases.push_back({"broadcast", b.model(), "add1"});
  }
  {
    GraphBuilder b;
    b.input("x", DType::kF32, {2, 3})
        .initializer(Tensor::from_vector<int64_t>({4, 2}, {2}, "shape"))
        .node("Reshape", {"x", "shape"}, {"y"}, {}, "rs");
    cases.push_back({"Reshape element count", b.model(), "rs"});
  }
  {
    GraphBuilder b;
    b.input("a", DType::kF32, {2, 3})
        .input("b", DType::kF32, {2, 4})
        .node("Concat", {"a", "b"}, {"y"}, {test::attr_int("axis", 0)}, "cat");
    cases.push_back({"Concat off-axis dim", b.model(), "cat"});
  }
  {
    GraphBuilder b;
    b.input("a", DType::kF32, {2, 3})
        .initializer(Tensor(DType::kF32, {4, 5}, "w"))
        .node("Gemm", {"a", "w"}, {"y"}, {}, "fc");
    cases.push_back({"Gemm inner dims", b.model(), "fc"});
  }
  for (Contradiction& c : cases) {
    auto r = infer_shapes(c.model);
    ASSERT_FALSE(r.is_ok()) << c.what << " was accepted";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidModel) << c.what;
    EXPECT_NE(r.status().message().find(c.node), std::string::npos) << c.what << ": " << r.status().message();
    // The executor refuses the model at load with the same message.
    auto exec = Executor::create(c.model);
    ASSERT_FALSE(exec.is_ok()) << c.what;
    EXPECT_NE(exec.status().message().find("shape inference"), std::string::npos) << exec.status().message();
  }
}

TEST(ShapeInference, ConvAndPoolGeometry) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2, 3, 17, 13})
      .initializer(Tensor(DType::kF32, {8, 3, 3, 3}, "w"))
      .node("Conv", {"x", "w"}, {"c"}, {test::ints("strides", {2, 2}), test::ints("pads", {1, 1, 1, 1})})
      .node("MaxPool", {"c"}, {"p"},
            {test::ints("kernel_shape", {3, 3}), test::ints("strides", {2, 2}), test::attr_int("ceil_mode", 1)})
      .node("Conv", {"x", "w"}, {"s"}, {test::attr_string("auto_pad", "SAME_UPPER"), test::ints("strides", {3, 3})})
      .node("GlobalAveragePool", {"p"}, {"g"});
  Model m = b.model();
  auto r = infer_shapes(m);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  // Independent arithmetic: floor((17 + 2 - 3) / 2) + 1 = 9, floor((13 + 2 - 3) / 2) + 1 = 7;
  // ceil-mode pool: ceil((9 - 3) / 2) + 1 = 4, ceil((7 - 3) / 2) + 1 = 3; SAME: ceil(17/3), ceil(13/3).
  EXPECT_EQ(r->static_shape("c"), (Shape{2, 8, 9, 7}));
  EXPECT_EQ(r->static_shape("p"), (Shape{2, 8, 4, 3}));
  EXPECT_EQ(r->static_shape("s"), (Shape{2, 8, 6, 5}));
  EXPECT_EQ(r->static_shape("g"), (Shape{2, 8, 1, 1}));
}

TEST(ShapeInference, UnknownOpsAreNotErrors) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2, 3}).node("Relu", {"x"}, {"r"});
  Model m = b.model();
  m.graph.nodes.push_back(Node{});
  Node& custom = m.graph.nodes.back();
  custom.op_type = "Mystery";
  custom.domain = "com.example";
  custom.inputs = {"r"};
  custom.outputs = {"z"};
  auto r = infer_shapes(m);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->unknown_ops.size(), 1u);
  EXPECT_EQ(r->unknown_ops[0], "com.example.Mystery");
  EXPECT_FALSE(r->types.at("z").has_shape);
  EXPECT_EQ(r->static_shape("r"), (Shape{2, 3}));
}

}  // namespace
}  // namespace bitsmith
