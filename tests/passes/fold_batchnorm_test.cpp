// fold-batchnorm: outputs with and without the pass (ORT's harness habit), then op counts,
// skip reasons, the untouched-graph guarantee, models/cnn_small.onnx and a golden case.
#include <gtest/gtest.h>

#include <cmath>

#include "bitsmith/io/npy.h"
#include "bitsmith/io/onnx.h"
#include "bitsmith/passes/registry.h"
#include "passes/pass_test_util.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using nlohmann::json;
using test::GraphBuilder;

constexpr double kU = 1.0 / (1 << 24);  // f32 unit roundoff

struct BnParams {
  std::vector<float> scale, b, mean, var;
};

// BN parameters far from identity: scale in [0.5, 1.5], B and mean in [-1, 1], var in [0.5, 2].
BnParams add_bn(GraphBuilder& b, const std::string& p, int64_t channels, uint32_t seed) {
  const auto n = static_cast<size_t>(channels);
  BnParams bn{test::random_values(n, seed, 0.5f, 1.5f), test::random_values(n, seed + 1),
              test::random_values(n, seed + 2), test::random_values(n, seed + 3, 0.5f, 2.f)};
  b.initializer<float>(p + "_scale", bn.scale, {channels})
      .initializer<float>(p + "_b", bn.b, {channels})
      .initializer<float>(p + "_mean", bn.mean, {channels})
      .initializer<float>(p + "_var", bn.var, {channels});
  return bn;
}

void bn_node(GraphBuilder& b, const std::string& p, const std::string& in, const std::string& out) {
  b.node("BatchNormalization", {in, p + "_scale", p + "_b", p + "_mean", p + "_var"}, {out},
         {test::attr_float("epsilon", 1e-3f)}, p);
}

Tensor random_tensor(Shape shape, uint32_t seed, const std::string& name = {}) {
  Tensor t(DType::kF32, shape, name);
  const auto v = test::random_values(static_cast<size_t>(t.numel()), seed);
  std::copy(v.begin(), v.end(), t.mutable_data<float>());
  return t;
}

// A rigorous bound on |folded - unfolded| for one weighted op (K products per output, weights
// and inputs bounded by 1, |bias| <= 1) followed by BN: each path computes a dot product of
// K + 1 terms plus <= 4 affine ops, so each is within gamma(K + 6) * S of the exact value,
// S = max_c |s_c| * (K + 1) + max_c |shift_c| (Higham, Accuracy and Stability, 3.1).
double fold_tolerance(const BnParams& bn, int64_t k) {
  double s_max = 0, shift_max = 0;
  for (size_t c = 0; c < bn.scale.size(); ++c) {
    const double s = bn.scale[c] / std::sqrt(static_cast<double>(bn.var[c]) + 1e-3);
    s_max = std::max(s_max, std::fabs(s));
    shift_max = std::max(shift_max, std::fabs(bn.b[c] - s * bn.mean[c]));
  }
  const double s_sum = s_max * static_cast<double>(k + 1) + shift_max;
  return 2 * static_cast<double>(k + 6) * kU * s_sum;
}

// Runs fold-batchnorm on `m` and checks outputs against the unfolded model on `feeds`.
PassRecord fold_and_compare(Model& m, const NamedTensors& feeds, double tolerance,
                            const json& options = json::object()) {
  const std::vector<Tensor> before = test::run_model(m, feeds);
  PassManager pm;
  EXPECT_TRUE(pm.add("fold-batchnorm", options).is_ok());
  PassManagerOptions o;
  o.num_threads = 1;
  const Status s = pm.run(m, o);
  EXPECT_TRUE(s.is_ok()) << s.message();
  const std::vector<Tensor> after = test::run_model(m, feeds);
  EXPECT_EQ(before.size(), after.size());
  for (size_t i = 0; i < std::min(before.size(), after.size()); ++i) {
    const double d = test::max_abs_diff(before[i], after[i]);
    EXPECT_LE(d, tolerance) << "output " << i << " shape " << shape_str(before[i].shape()) << " vs "
                            << shape_str(after[i].shape()) << "\n" << print_model(m);
  }
  return pm.records().empty() ? PassRecord{} : pm.records()[0];
}

void expect_folded(const Model& m, const PassRecord& r, int64_t folded) {
  EXPECT_EQ(test::count_op(m, "BatchNormalization"), 0);
  EXPECT_EQ(r.counter("folded"), folded);
  EXPECT_TRUE(verify(m).is_ok());
  // Every BN parameter is gone (nothing else used them).
  for (const Tensor& t : m.graph.initializers) EXPECT_NE(t.name().rfind("bn", 0), 0u) << t.name();
}

TEST(FoldBatchNorm, ConvWithoutBias) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2, 3, 5, 7}).initializer(random_tensor({4, 3, 3, 3}, 1, "w"));
  const BnParams bn = add_bn(b, "bn", 4, 10);
  b.node("Conv", {"x", "w"}, {"c"}, {test::ints("pads", {1, 1, 1, 1})}, "conv");
  bn_node(b, "bn", "c", "y");
  b.output("y", DType::kF32, {2, 4, 5, 7});
  Model m = b.model();
  const PassRecord r = fold_and_compare(m, {{"x", random_tensor({2, 3, 5, 7}, 2)}}, fold_tolerance(bn, 27));
  expect_folded(m, r, 1);
  EXPECT_EQ(r.counter("biases_created"), 1);
  ASSERT_EQ(m.graph.nodes.size(), 1u);
  EXPECT_EQ(m.graph.nodes[0].inputs, (std::vector<std::string>{"x", "w", "w_bias"}));
  EXPECT_EQ(m.graph.nodes[0].outputs, (std::vector<std::string>{"y"}));
  ASSERT_EQ(r.touched.size(), 1u);
  EXPECT_EQ(r.touched[0].action, "folded into 'conv' (Conv)");
}

TEST(FoldBatchNorm, DepthwiseConvWithBias) {
  GraphBuilder b;
  b.input("x", DType::kF32, {1, 3, 6, 5})
      .initializer(random_tensor({3, 1, 3, 3}, 3, "dw.weight"))
      .initializer(random_tensor({3}, 4, "dw.bias"));
  const BnParams bn = add_bn(b, "bn", 3, 20);
  b.node("Conv", {"x", "dw.weight", "dw.bias"}, {"c"}, {test::attr_int("group", 3)}, "dw");
  bn_node(b, "bn", "c", "bn_out");
  b.node("Relu", {"bn_out"}, {"y"}, {}, "relu").output("y", DType::kF32, {1, 3, 4, 3});
  Model m = b.model();
  const PassRecord r = fold_and_compare(m, {{"x", random_tensor({1, 3, 6, 5}, 5)}}, fold_tolerance(bn, 9));
  expect_folded(m, r, 1);
  EXPECT_EQ(r.counter("biases_created"), 0);
  EXPECT_EQ(m.graph.nodes[0].inputs, (std::vector<std::string>{"x", "dw.weight", "dw.bias"}));
}

TEST(FoldBatchNorm, GroupedConvTranspose) {
  // W [C=4, M/group=3, 3, 3] with group 2: output channel m = g*3 + j.
  GraphBuilder b;
  b.input("x", DType::kF32, {1, 4, 5, 4}).initializer(random_tensor({4, 3, 3, 3}, 6, "wt"));
  const BnParams bn = add_bn(b, "bn", 6, 30);
  b.node("ConvTranspose", {"x", "wt"}, {"c"}, {test::attr_int("group", 2), test::ints("strides", {2, 2})}, "deconv");
  bn_node(b, "bn", "c", "y");
  b.output("y", DType::kF32, {1, 6, 11, 9});
  Model m = b.model();
  const PassRecord r = fold_and_compare(m, {{"x", random_tensor({1, 4, 5, 4}, 7)}}, fold_tolerance(bn, 2 * 9));
  expect_folded(m, r, 1);
}

TEST(FoldBatchNorm, GemmWithTransposedWeightAlphaBeta) {
  GraphBuilder b;
  b.input("a", DType::kF32, {5, 7})
      .initializer(random_tensor({6, 7}, 8, "gw"))
      .initializer(random_tensor({6}, 9, "gc"));
  const BnParams bn = add_bn(b, "bn", 6, 40);
  b.node("Gemm", {"a", "gw", "gc"}, {"g"},
         {test::attr_int("transB", 1), test::attr_float("alpha", 0.5f), test::attr_float("beta", 2.f)}, "fc");
  bn_node(b, "bn", "g", "y");
  b.output("y", DType::kF32, {5, 6});
  Model m = b.model();
  // alpha <= 1 and beta = 2 fit the bound with one more unit of bias.
  const PassRecord r = fold_and_compare(m, {{"a", random_tensor({5, 7}, 10)}}, fold_tolerance(bn, 7 + 1));
  expect_folded(m, r, 1);
  EXPECT_EQ(m.graph.nodes[0].attr_float("beta", 0.f), 1.f);
  EXPECT_EQ(m.graph.nodes[0].attr_float("alpha", 0.f), 0.5f);
}

TEST(FoldBatchNorm, GemmWithScalarBias) {
  GraphBuilder b;
  b.input("a", DType::kF32, {3, 7})
      .initializer(random_tensor({7, 6}, 11, "gw"))
      .initializer(random_tensor({1}, 12, "gc"));
  const BnParams bn = add_bn(b, "bn", 6, 50);
  b.node("Gemm", {"a", "gw", "gc"}, {"g"}, {}, "fc");
  bn_node(b, "bn", "g", "y");
  b.output("y", DType::kF32, {3, 6});
  Model m = b.model();
  const PassRecord r = fold_and_compare(m, {{"a", random_tensor({3, 7}, 13)}}, fold_tolerance(bn, 7));
  expect_folded(m, r, 1);
  EXPECT_EQ(m.graph.find_initializer("gc")->shape(), Shape{6});
}

TEST(FoldBatchNorm, RankTwoMatMulBecomesGemm) {
  GraphBuilder b;
  b.input("a", DType::kF32, {"N", 7}).initializer(random_tensor({7, 6}, 14, "mw"));
  const BnParams bn = add_bn(b, "bn", 6, 60);
  b.node("MatMul", {"a", "mw"}, {"mm"}, {}, "mm");
  bn_node(b, "bn", "mm", "y");
  b.output("y", DType::kF32, {"N", 6});
  Model m = b.model();
  const PassRecord r = fold_and_compare(m, {{"a", random_tensor({4, 7}, 15)}}, fold_tolerance(bn, 7));
  expect_folded(m, r, 1);
  EXPECT_EQ(r.counter("matmul_to_gemm"), 1);
  EXPECT_EQ(test::count_op(m, "Gemm"), 1);
  EXPECT_EQ(test::count_op(m, "MatMul"), 0);
}

TEST(FoldBatchNorm, SharedWeightGetsNewNames) {
  // Two convs share one weight; each BN scales it differently, so each gets its own copy.
  GraphBuilder b;
  b.input("x", DType::kF32, {1, 2, 4, 4}).initializer(random_tensor({2, 2, 1, 1}, 16, "w"));
  const BnParams bn1 = add_bn(b, "bn1", 2, 70);
  const BnParams bn2 = add_bn(b, "bn2", 2, 80);
  b.node("Conv", {"x", "w"}, {"c1"}, {}, "conv1").node("Conv", {"x", "w"}, {"c2"}, {}, "conv2");
  bn_node(b, "bn1", "c1", "y1");
  bn_node(b, "bn2", "c2", "y2");
  b.output("y1", DType::kF32, {1, 2, 4, 4}).output("y2", DType::kF32, {1, 2, 4, 4});
  Model m = b.model();
  const PassRecord r = fold_and_compare(m, {{"x", random_tensor({1, 2, 4, 4}, 17)}},
                                        std::max(fold_tolerance(bn1, 2), fold_tolerance(bn2, 2)));
  expect_folded(m, r, 2);
  EXPECT_EQ(m.graph.find_initializer("w"), nullptr);  // the original is no longer used
  EXPECT_EQ(m.graph.nodes[0].inputs[1], "w_bnfold");
  EXPECT_EQ(m.graph.nodes[1].inputs[1], "w_bnfold_1");
}

// Cases where the rewrite does not apply: the pass records why and leaves the model as it was.
struct SkipCase {
  std::string name;
  std::function<void(GraphBuilder&)> build;  // builds on top of x, w, bn params
  std::string reason;
  json options = json::object();
  json scope = json::object();
};

Model skip_model(const SkipCase& c) {
  GraphBuilder b;
  b.input("x", DType::kF32, {1, 2, 3, 3}).initializer(random_tensor({2, 2, 1, 1}, 18, "w"));
  add_bn(b, "bn", 2, 90);
  c.build(b);
  return b.model();
}

// Cases about the graph around the BatchNormalization.
std::vector<SkipCase> structural_skip_cases() {
  return {
      {"two consumers",
       [](GraphBuilder& b) {
         b.node("Conv", {"x", "w"}, {"c"}, {}, "conv").node("Relu", {"c"}, {"r"}, {}, "relu");
         bn_node(b, "bn", "c", "y");
         b.output("y", DType::kF32, {1, 2, 3, 3}).output("r", DType::kF32, {1, 2, 3, 3});
       },
       "input 'c' has 2 uses (consumers or graph outputs), folding needs 1"},
      {"producer output is a graph output",
       [](GraphBuilder& b) {
         b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
         bn_node(b, "bn", "c", "y");
         b.output("y", DType::kF32, {1, 2, 3, 3}).output("c", DType::kF32, {1, 2, 3, 3});
       },
       "input 'c' has 2 uses (consumers or graph outputs), folding needs 1"},
      {"weight not constant",
       [](GraphBuilder& b) {
         b.input("w2", DType::kF32, {2, 2, 1, 1}).node("Conv", {"x", "w2"}, {"c"}, {}, "conv");
         bn_node(b, "bn", "c", "y");
         b.output("y", DType::kF32, {1, 2, 3, 3});
       },
       "weight 'w2' is not a constant initializer"},
      {"bn parameter overridable",
       [](GraphBuilder& b) {
         b.input("bn_mean", DType::kF32, {2}).node("Conv", {"x", "w"}, {"c"}, {}, "conv");
         bn_node(b, "bn", "c", "y");
         b.output("y", DType::kF32, {1, 2, 3, 3});
       },
       "mean 'bn_mean' is not a constant initializer (it is also a graph input)"},
      {"training outputs",
       [](GraphBuilder& b) {
         b.node("Conv", {"x", "w"}, {"c"}, {}, "conv")
             .node("BatchNormalization", {"c", "bn_scale", "bn_b", "bn_mean", "bn_var"}, {"y", "rm", "rv"},
                   {test::attr_int("training_mode", 1)}, "bn");
         b.output("y", DType::kF32, {1, 2, 3, 3});
       },
       "computes running statistics (training-mode outputs)"},
      {"not after a weighted op",
       [](GraphBuilder& b) {
         b.node("Relu", {"x"}, {"r"}, {}, "relu");
         bn_node(b, "bn", "r", "y");
         b.output("y", DType::kF32, {1, 2, 3, 3});
       },
       "input comes from Relu, not one of [Conv, ConvTranspose, Gemm, MatMul]"},
  };
}

// Cases about the options, the scope and the MatMul rank.
std::vector<SkipCase> configured_skip_cases() {
  return {
      {"producer not allowed by options",
       [](GraphBuilder& b) {
         b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
         bn_node(b, "bn", "c", "y");
         b.output("y", DType::kF32, {1, 2, 3, 3});
       },
       "input comes from Conv, not one of [Gemm]", json{{"producers", {"Gemm"}}}},
      {"bn outside scope",
       [](GraphBuilder& b) {
         b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
         bn_node(b, "bn", "c", "y");
         b.output("y", DType::kF32, {1, 2, 3, 3});
       },
       "outside the pass scope", json::object(), json{{"exclude", {{"names", {"b?"}}}}}},
      {"producer outside scope",
       [](GraphBuilder& b) {
         b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
         bn_node(b, "bn", "c", "y");
         b.output("y", DType::kF32, {1, 2, 3, 3});
       },
       "producer 'conv' is outside the pass scope", json::object(), json{{"exclude", {{"first_weighted", true}}}}},
      {"matmul of unknown rank",
       [](GraphBuilder& b) {
         b.initializer(random_tensor({3, 2}, 19, "mw"))
             .node("Relu", {"x"}, {"r"}, {}, "relu")
             .node("MatMul", {"r", "mw"}, {"c"}, {}, "mm");
         bn_node(b, "bn", "c", "y");
         b.output("y", DType::kF32, {1, 2, 3, 2});
       },
       "rank of input 'r' is unknown (only a rank-2 MatMul has its output channels on BatchNormalization's axis 1)"},
  };
}

TEST(FoldBatchNorm, SkipsWithReasonsAndLeavesTheGraph) {
  std::vector<SkipCase> cases = structural_skip_cases();
  for (SkipCase& c : configured_skip_cases()) cases.push_back(std::move(c));
  for (const SkipCase& c : cases) {
    SCOPED_TRACE(c.name);
    Model m = skip_model(c);
    ASSERT_TRUE(verify(m).is_ok()) << verify(m).message();
    const std::string before = print_model(m);
    const json step = {{"pass", "fold-batchnorm"}, {"options", c.options}, {"scope", c.scope}};
    auto pm = PassManager::from_json(json::array({step}));
    ASSERT_TRUE(pm.is_ok()) << pm.status().message();
    ASSERT_TRUE(pm->run(m).is_ok());
    EXPECT_EQ(print_model(m), before);
    const PassRecord& r = pm->records()[0];
    ASSERT_EQ(r.skipped.size(), 1u);
    EXPECT_EQ(r.skipped[0].node, "bn");
    EXPECT_EQ(r.skipped[0].reason, c.reason);
    EXPECT_EQ(r.counter("folded"), 0);
  }
}

// models/cnn_small.onnx: 5 Conv -> BatchNormalization pairs (random, far-from-identity
// statistics). Tolerance 1e-4, the bar the executor meets against PyTorch on this model
// (tests/runtime/torch_models_test.cpp): folding only changes the rounding of each product by
// about one f32 ulp (relative 6e-8) over 5 layers of <= 144-term dot products, orders of
// magnitude below it, while a wrong channel or a lost bias moves logits by O(0.1).
TEST(FoldBatchNorm, CnnSmallModel) {
  auto loaded = read_onnx(test::repo_path("models/cnn_small.onnx"));
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  Model m = std::move(*loaded);
  auto input = read_npy(test::repo_path("models/cnn_small.input.npy"));
  ASSERT_TRUE(input.is_ok()) << input.status().message();
  ASSERT_EQ(test::count_op(m, "BatchNormalization"), 5);
  const size_t nodes_before = m.graph.nodes.size(), inits_before = m.graph.initializers.size();
  const PassRecord r = fold_and_compare(m, {{"input", *input}}, 1e-4);
  EXPECT_EQ(test::count_op(m, "BatchNormalization"), 0);
  EXPECT_EQ(test::count_op(m, "Conv"), 5);
  EXPECT_EQ(r.counter("folded"), 5);
  EXPECT_EQ(m.graph.nodes.size(), nodes_before - 5);
  // 4 parameters per BN removed, one bias per bias-free Conv added.
  EXPECT_EQ(m.graph.initializers.size(), inits_before - 5 * 4 + 5);
  EXPECT_TRUE(r.skipped.empty());
  EXPECT_TRUE(verify(m).is_ok());
  // The folded model still matches PyTorch's output.
  auto torch_out = read_npy(test::repo_path("models/cnn_small.torch_out.npy"));
  ASSERT_TRUE(torch_out.is_ok());
  const std::vector<Tensor> after = test::run_model(m, {{"input", *input}});
  ASSERT_EQ(after.size(), 1u);
  EXPECT_LE(test::max_abs_diff(after[0], *torch_out), 1e-4);
}

// Golden: exactly representable values (s = 3/sqrt(3+1) = 1.5 and 1/sqrt(0+1) = 1, epsilon 1),
// so the folded weights' hashes do not depend on the compiler. One BN folds, one is skipped.
TEST(FoldBatchNorm, Golden) {
  GraphBuilder b;
  b.input("x", DType::kF32, {1, 2, 2, 2})
      .initializer<float>("w", {1.f, 0.5f, -2.f, 0.25f}, {2, 2, 1, 1})
      .initializer<float>("bn_scale", {3.f, 1.f}, {2})
      .initializer<float>("bn_b", {0.5f, -1.f}, {2})
      .initializer<float>("bn_mean", {1.f, 2.f}, {2})
      .initializer<float>("bn_var", {3.f, 0.f}, {2})
      .node("Conv", {"x", "w"}, {"c"}, {}, "conv")
      .node("BatchNormalization", {"c", "bn_scale", "bn_b", "bn_mean", "bn_var"}, {"bn_out"},
            {test::attr_float("epsilon", 1.f)}, "bn")
      .node("Conv", {"bn_out", "w"}, {"c2"}, {}, "conv2")
      .node("BatchNormalization", {"c2", "bn_scale", "bn_b", "bn_mean", "bn_var"}, {"y"},
            {test::attr_float("epsilon", 1.f)}, "bn2")
      .node("Relu", {"c2"}, {"z"}, {}, "relu")
      .output("y", DType::kF32, {1, 2, 2, 2})
      .output("z", DType::kF32, {1, 2, 2, 2});
  const Model m = b.model();
  test::check_golden("fold_batchnorm", m);
  // The golden's folded values, checked against the formula in double.
  Model folded = m;
  test::run_pipeline(folded, R"([{"pass": "fold-batchnorm"}])");
  const Tensor* w = folded.graph.find_initializer(folded.graph.nodes[0].inputs[1]);
  const Tensor* bias = folded.graph.find_initializer(folded.graph.nodes[0].inputs[2]);
  ASSERT_TRUE(w && bias);
  const float w0[] = {1.f, 0.5f, -2.f, 0.25f}, scale[] = {3, 1}, shift[] = {0.5f, -1}, mean[] = {1, 2}, var[] = {3, 0};
  for (int m_out = 0; m_out < 2; ++m_out) {
    const double s = scale[m_out] / std::sqrt(var[m_out] + 1.0);
    EXPECT_EQ(bias->data<float>()[m_out], static_cast<float>(shift[m_out] - s * mean[m_out]));
    for (int k = 0; k < 2; ++k)
      EXPECT_EQ(w->data<float>()[m_out * 2 + k], static_cast<float>(w0[m_out * 2 + k] * s));
  }
}

}  // namespace
}  // namespace bitsmith
