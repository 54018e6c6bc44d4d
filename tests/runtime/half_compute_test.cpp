// The executor on float16 / bfloat16 graphs: each small f32 graph is rewritten by
// convert-float16 (and convert-bfloat16 with compute "bf16", at opset 22 where ONNX allows
// bfloat16 for Conv and pooling) with an empty block list, so every node computes in the low
// type, and its output is compared with the f32 run. The kernels compute in f32 and round their
// outputs, so the error is that of rounding weights, inputs and intermediates: well under 1e-2
// of the output's magnitude for f16 (11-bit significand) and 4e-2 for bf16 (8-bit).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "passes/pass_test_util.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using test::GraphBuilder;

struct Case {
  std::string name;
  GraphBuilder graph;  // input "x" f32, output "y" f32
  NamedTensors feeds;
};

Tensor random_tensor(Shape shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  const auto v = test::random_values(static_cast<size_t>(shape_numel(shape)), seed, lo, hi);
  return Tensor::from_vector<float>(v, std::move(shape));
}

Tensor random_init(const std::string& name, Shape shape, uint32_t seed) {
  Tensor t = random_tensor(std::move(shape), seed);
  t.set_name(name);
  return t;
}

// One-node (or few-node) graphs over x [2, 4, 6, 6] (images) or x [2, 5, 8] (sequences).
std::vector<Case> cases() {
  std::vector<Case> out;
  auto image = [&](const std::string& name, auto&& build, Shape x_shape = {2, 4, 6, 6}) {
    Case c{name, GraphBuilder(name), {}};
    std::vector<test::DimArg> dims(x_shape.begin(), x_shape.end());
    c.graph.input("x", DType::kF32, dims);
    build(c.graph);
    c.graph.output_unranked("y", DType::kF32);
    c.feeds = {{"x", random_tensor(x_shape, 7)}};
    out.push_back(std::move(c));
  };
  image("Conv", [](GraphBuilder& b) {
    b.initializer(random_init("w", {3, 4, 3, 3}, 1)).initializer(random_init("bias", {3}, 2));
    b.node("Conv", {"x", "w", "bias"}, {"y"}, {test::ints("pads", {1, 1, 1, 1})});
  });
  image("ConvTranspose", [](GraphBuilder& b) {
    b.initializer(random_init("w", {4, 2, 3, 3}, 3));
    b.node("ConvTranspose", {"x", "w"}, {"y"}, {test::ints("strides", {2, 2})});
  });
  image("MaxPool+AveragePool", [](GraphBuilder& b) {
    b.node("MaxPool", {"x"}, {"p"}, {test::ints("kernel_shape", {2, 2})});
    b.node("AveragePool", {"p"}, {"y"}, {test::ints("kernel_shape", {2, 2})});
  });
  image("GlobalAveragePool+Flatten+Gemm", [](GraphBuilder& b) {
    b.initializer(random_init("w", {5, 4}, 4)).initializer(random_init("c", {5}, 5));
    b.node("GlobalAveragePool", {"x"}, {"g"}).node("Flatten", {"g"}, {"f"});
    b.node("Gemm", {"f", "w", "c"}, {"y"}, {test::attr_int("transB", 1)});
  });
  image("BatchNormalization+Relu", [](GraphBuilder& b) {
    b.initializer(random_init("s", {4}, 6)).initializer(random_init("bb", {4}, 7));
    b.initializer(random_init("m", {4}, 8)).initializer("v", std::vector<float>{0.5f, 1.f, 2.f, 0.25f}, {4});
    b.node("BatchNormalization", {"x", "s", "bb", "m", "v"}, {"n"}).node("Relu", {"n"}, {"y"});
  });
  image("Resize", [](GraphBuilder& b) {
    b.initializer("scales", std::vector<float>{1.f, 1.f, 2.f, 2.f}, {4});
    b.node("Resize", {"x", "", "scales"}, {"y"}, {test::attr_string("mode", "linear")});
  });
  image("Concat+Transpose+Reshape", [](GraphBuilder& b) {
    b.initializer("shape", std::vector<int64_t>{2, -1}, {2});
    b.node("Sigmoid", {"x"}, {"s"}).node("Concat", {"x", "s"}, {"c"}, {test::attr_int("axis", 1)});
    b.node("Transpose", {"c"}, {"t"}, {test::ints("perm", {0, 2, 3, 1})}).node("Reshape", {"t", "shape"}, {"y"});
  });
  image("Pad+Slice+Clip", [](GraphBuilder& b) {
    b.initializer("pads", std::vector<int64_t>{0, 0, 1, 1, 0, 0, 1, 1}, {8});
    b.initializer("starts", std::vector<int64_t>{1}, {1}).initializer("ends", std::vector<int64_t>{7}, {1});
    b.initializer("axes", std::vector<int64_t>{3}, {1});
    b.initializer("lo", std::vector<float>{-0.5f}, {}).initializer("hi", std::vector<float>{0.5f}, {});
    b.node("Pad", {"x", "pads"}, {"p"}).node("Slice", {"p", "starts", "ends", "axes"}, {"s"});
    b.node("Clip", {"s", "lo", "hi"}, {"y"});
  });
  image("MatMul+Add+LayerNormalization+Softmax", [](GraphBuilder& b) {
    b.initializer(random_init("w", {8, 8}, 9)).initializer(random_init("bias", {8}, 10));
    b.initializer(random_init("g", {8}, 11)).initializer(random_init("beta", {8}, 12));
    b.node("MatMul", {"x", "w"}, {"mm"}).node("Add", {"mm", "bias"}, {"a"});
    b.node("LayerNormalization", {"a", "g", "beta"}, {"ln"}, {test::attr_int("axis", -1)});
    b.node("Softmax", {"ln"}, {"y"}, {test::attr_int("axis", -1)});
  }, {2, 5, 8});
  image("Mul+Div+Sub+Tanh+Erf+Sqrt+ReduceMean", [](GraphBuilder& b) {
    b.initializer("two", std::vector<float>{2.f}, {}).initializer("axes", std::vector<int64_t>{-1}, {1});
    b.node("Mul", {"x", "x"}, {"sq"}).node("Sqrt", {"sq"}, {"abs"}).node("Div", {"x", "two"}, {"h"});
    b.node("Tanh", {"h"}, {"t"}).node("Erf", {"t"}, {"e"}).node("Sub", {"e", "abs"}, {"d"});
    b.node("ReduceMean", {"d", "axes"}, {"y"});
  }, {2, 5, 8});
  return out;
}

void check(const std::string& pipeline, int64_t opset, double tolerance, DType low) {
  for (Case& c : cases()) {
    SCOPED_TRACE(c.name + " " + pipeline);
    const Model f32 = c.graph.model(opset);
    Model m = f32;
    const PassManager pm = test::run_pipeline(m, pipeline);
    ASSERT_FALSE(pm.records().empty());
    // Every node computes in the low type (nothing kept f32 with an empty block list).
    EXPECT_EQ(pm.records()[0].counter("nodes_kept_f32"), 0);
    // Float weights are stored in the low type (Resize scales stay f32: ONNX types them float).
    for (const Tensor& t : m.graph.initializers) {
      if (t.dtype() == DType::kI64) continue;
      EXPECT_EQ(t.dtype(), t.name() == "scales" ? DType::kF32 : low) << t.name();
    }
    for (int threads : {1, 2}) {
      ExecutorOptions o;
      o.num_threads = threads;
      auto ref_exec = Executor::create(f32, o);
      auto low_exec = Executor::create(m, o);
      ASSERT_TRUE(ref_exec.is_ok()) << ref_exec.status().message();
      ASSERT_TRUE(low_exec.is_ok()) << low_exec.status().message();
      auto want = (*ref_exec)->run(c.feeds);
      auto got = (*low_exec)->run(c.feeds);
      ASSERT_TRUE(want.is_ok()) << want.status().message();
      ASSERT_TRUE(got.is_ok()) << got.status().message();
      const double err = test::max_abs_diff((*got)[0], (*want)[0]) / std::max(test::max_abs((*want)[0]), 1e-12);
      EXPECT_LT(err, tolerance);
    }
  }
}

TEST(HalfCompute, Float16GraphsMatchFloat32) {
  check(R"([{"pass": "convert-float16", "options": {"block_ops": []}}])", 17, 1e-2, DType::kF16);
}

TEST(HalfCompute, Bfloat16GraphsMatchFloat32) {
  check(R"([{"pass": "convert-bfloat16", "options": {"block_ops": [], "compute": "bf16"}}])", 22, 4e-2,
        DType::kBF16);
}

}  // namespace
}  // namespace bitsmith
