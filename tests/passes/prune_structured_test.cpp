// prune, pattern "structured": channel counts shrink by floor(s * C), the channels with the
// lowest norms go (ties: lower index), and the pruned model computes exactly what the original
// computes with those channels' weights zeroed (producer rows and consumer inputs); depthwise
// Convs, BatchNorm, per-channel Mul and Flatten are followed; residual Adds and graph outputs
// are skipped with the reason; bad options.
#include <gtest/gtest.h>

#include <numeric>

#include "bitsmith/passes/registry.h"
#include "passes/pass_test_util.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using nlohmann::json;
using test::GraphBuilder;

PassRecord prune(Model& m, const json& options, Status* status = nullptr, CalibrationData data = {}) {
  PassManager pm;
  Status s = pm.add("prune", options);
  PassManagerOptions o;
  o.num_threads = 1;
  o.calibration = std::move(data);
  if (s) s = pm.run(m, o);
  if (status) *status = s;
  else EXPECT_TRUE(s.is_ok()) << s.message();
  return pm.records().empty() ? PassRecord{} : pm.records().back();
}

const Tensor& weight(const Model& m, const std::string& name) { return *m.graph.find_initializer(name); }

// Per-channel norm along `axis` (L1 or L2).
std::vector<double> norms(const Tensor& w, int axis, bool l2) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= w.dim(d);
  for (int d = axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
  std::vector<double> n(static_cast<size_t>(w.dim(axis)), 0.0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < w.dim(axis); ++j)
      for (int64_t i = 0; i < inner; ++i) {
        const double x = w.data<float>()[(o * w.dim(axis) + j) * inner + i];
        n[j] += l2 ? x * x : std::fabs(x);
      }
  return n;  // sqrt is monotone: ranks as the L2 norm
}

// The k channels with the lowest norm (ties: lower index), as flags.
std::vector<char> lowest(const std::vector<double>& n, int64_t k) {
  std::vector<size_t> idx(n.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return n[a] < n[b]; });
  std::vector<char> r(n.size(), 0);
  for (int64_t i = 0; i < k; ++i) r[idx[i]] = 1;
  return r;
}

// A copy of initializer `name` with the entries of flagged channels along `axis` (blocks of
// `block`) set to zero, or removed.
Tensor edit(const Model& m, const std::string& name, int axis, const std::vector<char>& flags, bool remove,
            int64_t block = 1) {
  const Tensor& t = weight(m, name);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= t.dim(d);
  for (int d = axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
  const int64_t n = t.dim(axis);
  std::vector<float> out;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < inner; ++i) {
        const bool hit = flags[j / block] != 0;
        if (hit && remove) continue;
        out.push_back(hit ? 0.f : t.data<float>()[(o * n + j) * inner + i]);
      }
  Shape shape = t.shape();
  if (remove) shape[axis] = static_cast<int64_t>(out.size()) / (outer * inner);
  return Tensor::from_vector<float>(out, shape, name);
}

// Replaces the initializer named t.name().
void replace(Model& m, Tensor t) {
  for (Tensor& x : m.graph.initializers)
    if (x.name() == t.name()) x = t;
}

void zero(Model& m, const std::string& name, int axis, const std::vector<char>& flags, int64_t block = 1) {
  replace(m, edit(m, name, axis, flags, false, block));
}

void expect_same_outputs(const Model& pruned, const Model& reference, const NamedTensors& feeds) {
  ASSERT_TRUE(verify(pruned).is_ok()) << verify(pruned).message();
  const std::vector<Tensor> a = test::run_model(pruned, feeds), b = test::run_model(reference, feeds);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].shape(), b[i].shape());
    EXPECT_LE(test::max_abs_diff(a[i], b[i]), 1e-5 * (1 + test::max_abs(b[i]))) << i;
  }
}

// x [N,3,6,6] -> Conv c1 (w1 [8,3,3,3], b1) -> BN -> Relu -> Conv c2 (w2 [6,8,3,3]) ->
// GlobalAveragePool -> Flatten -> Gemm (fc [4,6] transB=1, bias) -> y
Model conv_bn_conv_gap_gemm() {
  GraphBuilder g;
  std::vector<float> var = test::random_values(8, 5, 0.5f, 2.f);
  g.input("x", DType::kF32, {"N", 3, 6, 6})
      .initializer("w1", test::random_values(8 * 27, 1), {8, 3, 3, 3})
      .initializer("b1", test::random_values(8, 2), {8})
      .initializer("bn_s", test::random_values(8, 3, 0.5f, 1.5f), {8})
      .initializer("bn_b", test::random_values(8, 4), {8})
      .initializer("bn_m", test::random_values(8, 6), {8})
      .initializer("bn_v", var, {8})
      .initializer("w2", test::random_values(6 * 8 * 9, 7), {6, 8, 3, 3})
      .initializer("fc", test::random_values(4 * 6, 8), {4, 6})
      .initializer("fc_b", test::random_values(4, 9), {4})
      .node("Conv", {"x", "w1", "b1"}, {"c1"}, {test::ints("pads", {1, 1, 1, 1})}, "conv1")
      .node("BatchNormalization", {"c1", "bn_s", "bn_b", "bn_m", "bn_v"}, {"bn"}, {}, "bn")
      .node("Relu", {"bn"}, {"r"}, {}, "relu")
      .node("Conv", {"r", "w2"}, {"c2"}, {test::ints("pads", {1, 1, 1, 1})}, "conv2")
      .node("GlobalAveragePool", {"c2"}, {"gap"}, {}, "gap")
      .node("Flatten", {"gap"}, {"flat"}, {}, "flatten")
      .node("Gemm", {"flat", "fc", "fc_b"}, {"y"}, {test::attr_int("transB", 1)}, "fc")
      .value_info("c1", DType::kF32, {"N", 8, 6, 6})
      .value_info("flat", DType::kF32, {"N", 6})
      .output("y", DType::kF32, {"N", 4});
  return g.model();
}

NamedTensors feeds_for(const std::string& name, const Shape& shape, uint32_t seed) {
  return {{name, Tensor::from_vector<float>(test::random_values(static_cast<size_t>(shape_numel(shape)), seed), shape,
                                            name)}};
}

TEST(PruneStructured, ConvBnConvGapGemmShrinksAndMatchesZeroedReference) {
  const Model orig = conv_bn_conv_gap_gemm();
  Model m = orig;
  const PassRecord r = prune(m, {{"pattern", "structured"}, {"sparsity", 0.3}});

  // conv1: floor(0.3 * 8) = 2 channels, lowest L1 norms of w1.
  const std::vector<char> rm1 = lowest(norms(weight(orig, "w1"), 0, false), 2);
  // conv2's norms are taken without the input channels conv1 lost: floor(0.3 * 6) = 1.
  const Tensor w2_zeroed = edit(orig, "w2", 1, rm1, false);
  const std::vector<char> rm2 = lowest(norms(w2_zeroed, 0, false), 1);

  EXPECT_EQ(weight(m, "w1").shape(), (Shape{6, 3, 3, 3}));
  EXPECT_EQ(weight(m, "b1").shape(), (Shape{6}));
  for (const char* bn : {"bn_s", "bn_b", "bn_m", "bn_v"}) EXPECT_EQ(weight(m, bn).shape(), (Shape{6})) << bn;
  EXPECT_EQ(weight(m, "w2").shape(), (Shape{5, 6, 3, 3}));
  EXPECT_EQ(weight(m, "fc").shape(), (Shape{4, 5}));
  EXPECT_EQ(weight(m, "fc_b").shape(), (Shape{4}));
  // The right channels: what is left equals the original without them.
  EXPECT_TRUE(weight(m, "w1").same_content(edit(orig, "w1", 0, rm1, true)));
  EXPECT_TRUE(weight(m, "bn_v").same_content(edit(orig, "bn_v", 0, rm1, true)));
  Model tmp = orig;
  replace(tmp, edit(orig, "w2", 1, rm1, true));
  EXPECT_TRUE(weight(m, "w2").same_content(edit(tmp, "w2", 0, rm2, true)));
  EXPECT_TRUE(weight(m, "fc").same_content(edit(orig, "fc", 1, rm2, true)));

  // Reference: the original with those channels zeroed in producers and consumers.
  Model ref = orig;
  zero(ref, "w1", 0, rm1);
  zero(ref, "b1", 0, rm1);
  zero(ref, "w2", 1, rm1);
  zero(ref, "w2", 0, rm2);
  zero(ref, "fc", 1, rm2);
  expect_same_outputs(m, ref, feeds_for("x", {2, 3, 6, 6}, 21));
  // Stale value_info is gone (or fits); the executor loaded the model above.
  for (const ValueInfo& v : m.graph.value_info) EXPECT_NE(v.name, "c1");

  EXPECT_EQ(r.counter("layers_pruned"), 2);
  EXPECT_EQ(r.counter("channels_removed"), 3);
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0].node, "fc");
  EXPECT_NE(r.skipped[0].reason.find("graph output"), std::string::npos) << r.skipped[0].reason;
  ASSERT_FALSE(r.tensors.empty());
  EXPECT_EQ(r.tensors[0].tensor, "w1");
  EXPECT_EQ(r.tensors[0].how, "removed 2 of 8 output channels (l1)");
  EXPECT_EQ(r.tensors[0].bytes_before, 8 * 27 * 4);
  EXPECT_EQ(r.tensors[0].bytes_after, 6 * 27 * 4);
  EXPECT_TRUE(std::isnan(r.tensors[0].sqnr_db));
  bool consumer_recorded = false;
  for (const TensorChange& t : r.tensors)
    consumer_recorded = consumer_recorded || (t.tensor == "w2" && t.how.rfind("removed 2 input channels", 0) == 0);
  EXPECT_TRUE(consumer_recorded);
}

// x [N,2,5,5] -> Conv (w [4,2,2,2], b) -> Mul (s [4,1,1]) -> Relu -> Flatten -> Gemm (fc [64,3]) -> y
Model conv_relu_flatten_gemm(std::vector<float> w, std::vector<float> b = test::random_values(4, 32)) {
  GraphBuilder g;
  g.input("x", DType::kF32, {"N", 2, 5, 5})
      .initializer("w", w, {4, 2, 2, 2})
      .initializer("b", b, {4})
      .initializer("s", test::random_values(4, 33, 0.5f, 2.f), {4, 1, 1})
      .initializer("fc", test::random_values(64 * 3, 34), {64, 3})
      .node("Conv", {"x", "w", "b"}, {"c"}, {}, "conv")
      .node("Mul", {"c", "s"}, {"cs"}, {}, "mul")
      .node("Relu", {"cs"}, {"r"}, {}, "relu")
      .node("Flatten", {"r"}, {"f"}, {}, "flatten")
      .node("Gemm", {"f", "fc"}, {"y"}, {}, "fc")
      .value_info("f", DType::kF32, {"N", 64})
      .output("y", DType::kF32, {"N", 3});
  return g.model();
}

TEST(PruneStructured, FlattenMapsChannelsToSpatialBlocksAndTiesGoToLowerIndex) {
  std::vector<float> w = test::random_values(32, 31);
  // Channel 3 is channel 1 permuted (same L1 and L2 norms) and both are the smallest.
  for (int i = 0; i < 8; ++i) w[8 + i] *= 0.01f;
  for (int i = 0; i < 8; ++i) w[24 + i] = w[8 + 7 - i];
  const Model orig = conv_relu_flatten_gemm(w);
  for (const char* crit : {"l1", "l2"}) {
    Model m = orig;
    const PassRecord r = prune(m, {{"pattern", "structured"}, {"sparsity", 0.25}, {"criterion", crit}});
    const std::vector<char> rm = {0, 1, 0, 0};  // the tie goes to channel 1
    EXPECT_EQ(lowest(norms(weight(orig, "w"), 0, std::string(crit) == "l2"), 1), rm);
    EXPECT_TRUE(weight(m, "w").same_content(edit(orig, "w", 0, rm, true))) << crit;
    EXPECT_EQ(weight(m, "s").shape(), (Shape{3, 1, 1}));
    EXPECT_EQ(weight(m, "fc").shape(), (Shape{48, 3}));  // 16 rows (4 x 4) per channel
    EXPECT_TRUE(weight(m, "fc").same_content(edit(orig, "fc", 0, rm, true, 16)));
    Model ref = orig;
    zero(ref, "w", 0, rm);
    zero(ref, "b", 0, rm);
    zero(ref, "fc", 0, rm, 16);
    expect_same_outputs(m, ref, feeds_for("x", {3, 2, 5, 5}, 35));
    EXPECT_EQ(r.tensors[0].how, std::string("removed 1 of 4 output channels (") + crit + ")");
  }
  // Half of them, L2: the two lowest norms.
  Model m = orig;
  prune(m, {{"pattern", "structured"}, {"sparsity", 0.5}, {"criterion", "l2"}});
  const std::vector<char> rm = lowest(norms(weight(orig, "w"), 0, true), 2);
  Model ref = orig;
  zero(ref, "w", 0, rm);
  zero(ref, "b", 0, rm);
  zero(ref, "fc", 0, rm, 16);
  EXPECT_EQ(weight(m, "fc").shape(), (Shape{32, 3}));
  expect_same_outputs(m, ref, feeds_for("x", {2, 2, 5, 5}, 36));
}

TEST(PruneStructured, ActivationAwareKeepsASmallChannelWithLargeOutputs) {
  std::vector<float> w = test::random_values(32, 61), b = test::random_values(4, 62);
  for (int i = 0; i < 8; ++i) w[i] *= 0.01f;  // channel 0: the lowest norm ...
  b[0] = 1000.f;                              // ... but by far the largest outputs
  const Model orig = conv_relu_flatten_gemm(w, b);
  const NamedTensors batch = feeds_for("x", {4, 2, 5, 5}, 63);
  CalibrationData data = [&](const BatchVisitor& visit) { return visit(batch); };
  // Mean |y| per channel of the Conv's output after the per-channel Mul that follows it, from
  // the original model with that value exposed.
  Model probe = orig;
  probe.graph.outputs.push_back(ValueInfo{"cs", test::tensor_type(DType::kF32, {"N", 4, 4, 4}), {}, {}, {}});
  const std::vector<Tensor> outs = test::run_model(probe, batch);
  ASSERT_EQ(outs.size(), 2u);
  std::vector<double> score = norms(weight(orig, "w"), 0, false);
  for (int c = 0; c < 4; ++c) {
    double sum = 0;
    for (int64_t n = 0; n < 4; ++n)
      for (int i = 0; i < 16; ++i) sum += std::fabs(outs[1].data<float>()[(n * 4 + c) * 16 + i]);
    score[c] *= sum / 64;
  }
  const std::vector<char> rm = lowest(score, 1);
  EXPECT_EQ(rm[0], 0);
  Model plain = orig, aware = orig;
  prune(plain, {{"pattern", "structured"}, {"sparsity", 0.25}});
  EXPECT_TRUE(weight(plain, "w").same_content(edit(orig, "w", 0, {1, 0, 0, 0}, true)));
  const PassRecord r = prune(aware, {{"pattern", "structured"}, {"sparsity", 0.25}, {"activation_aware", true}}, nullptr, data);
  EXPECT_TRUE(weight(aware, "w").same_content(edit(orig, "w", 0, rm, true)));
  EXPECT_EQ(r.tensors.at(0).how, "removed 1 of 4 output channels (l1 x mean |activation|)");
  // Without calibration data: a clear error, the model unchanged.
  Model none = orig;
  Status s;
  prune(none, {{"pattern", "structured"}, {"activation_aware", true}}, &s);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("activation_aware needs calibration data"), std::string::npos) << s.message();
  EXPECT_TRUE(weight(none, "w").same_content(weight(orig, "w")));
}

TEST(PruneStructured, DepthwiseConvIsFollowed) {
  // x -> Conv a (w [6,2,1,1]) -> Relu -> depthwise Conv (d [6,1,3,3], bias, group 6) -> Relu ->
  // Conv p (w [5,6,1,1]) -> y
  GraphBuilder g;
  g.input("x", DType::kF32, {"N", 2, 5, 5})
      .initializer("a", test::random_values(12, 41), {6, 2, 1, 1})
      .initializer("d", test::random_values(54, 42), {6, 1, 3, 3})
      .initializer("db", test::random_values(6, 43), {6})
      .initializer("p", test::random_values(30, 44), {5, 6, 1, 1})
      .node("Conv", {"x", "a"}, {"h"}, {}, "a")
      .node("Relu", {"h"}, {"hr"})
      .node("Conv", {"hr", "d", "db"}, {"dw"}, {test::attr_int("group", 6), test::ints("pads", {1, 1, 1, 1})}, "dw")
      .node("Relu", {"dw"}, {"dr"})
      .node("Conv", {"dr", "p"}, {"y"}, {}, "p")
      .output("y", DType::kF32, {"N", 5, 5, 5});
  const Model orig = g.model();
  Model m = orig;
  const PassRecord r = prune(m, {{"pattern", "structured"}, {"sparsity", 0.5}});
  const std::vector<char> rm = lowest(norms(weight(orig, "a"), 0, false), 3);
  EXPECT_EQ(weight(m, "a").shape(), (Shape{3, 2, 1, 1}));
  EXPECT_EQ(weight(m, "d").shape(), (Shape{3, 1, 3, 3}));
  EXPECT_EQ(weight(m, "db").shape(), (Shape{3}));
  EXPECT_EQ(weight(m, "p").shape(), (Shape{5, 3, 1, 1}));
  EXPECT_EQ(m.graph.nodes[2].attr_int("group", 0), 3);
  // Reference: zeroing the depthwise channels' weights and bias and p's inputs.
  Model ref = orig;
  zero(ref, "a", 0, rm);
  zero(ref, "d", 0, rm);
  zero(ref, "db", 0, rm);
  zero(ref, "p", 1, rm);
  expect_same_outputs(m, ref, feeds_for("x", {2, 2, 5, 5}, 45));
  EXPECT_EQ(r.counter("layers_pruned"), 1);
  // The depthwise Conv itself is not a producer (grouped), and p feeds the graph output.
  ASSERT_EQ(r.skipped.size(), 2u);
  EXPECT_NE(r.skipped[0].reason.find("group 3 (grouped Convs are not pruned themselves"), std::string::npos) << r.skipped[0].reason;
  EXPECT_NE(r.skipped[1].reason.find("graph output"), std::string::npos) << r.skipped[1].reason;
}

TEST(PruneStructured, ResidualAddAndGraphOutputAreSkippedUnchanged) {
  // x -> Conv a -> Relu r -> Conv b -> Add(r, b) -> y: a's channels meet a residual Add, b's too.
  GraphBuilder g;
  g.input("x", DType::kF32, {"N", 4, 5, 5})
      .initializer("a", test::random_values(4 * 4 * 9, 51), {4, 4, 3, 3})
      .initializer("b", test::random_values(4 * 4 * 9, 52), {4, 4, 3, 3})
      .node("Conv", {"x", "a"}, {"ha"}, {test::ints("pads", {1, 1, 1, 1})}, "conv_a")
      .node("Relu", {"ha"}, {"r"}, {}, "relu")
      .node("Conv", {"r", "b"}, {"hb"}, {test::ints("pads", {1, 1, 1, 1})}, "conv_b")
      .node("Add", {"r", "hb"}, {"y"}, {}, "add")
      .output("y", DType::kF32, {"N", 4, 5, 5});
  const Model orig = g.model();
  Model m = orig;
  const PassRecord r = prune(m, {{"pattern", "structured"}, {"sparsity", 0.5}});
  EXPECT_EQ(r.counter("layers_pruned"), 0);
  ASSERT_EQ(r.skipped.size(), 2u);
  EXPECT_EQ(r.skipped[0].node, "conv_a");
  EXPECT_EQ(r.skipped[0].reason,
            "output channels not removed: value 'r' reaches node 'add' (Add) whose other input 'hb' is not a "
            "constant (e.g. a residual branch)");
  EXPECT_EQ(r.skipped[1].node, "conv_b");
  EXPECT_NE(r.skipped[1].reason.find("residual"), std::string::npos) << r.skipped[1].reason;
  EXPECT_TRUE(r.tensors.empty());
  for (const char* w : {"a", "b"}) EXPECT_TRUE(weight(m, w).same_content(weight(orig, w))) << w;

  // A Conv producing the graph output directly.
  GraphBuilder o;
  o.input("x", DType::kF32, {"N", 4, 5, 5})
      .initializer("a", test::random_values(4 * 4 * 9, 51), {4, 4, 3, 3})
      .node("Conv", {"x", "a"}, {"y"}, {}, "conv")
      .output("y", DType::kF32, {"N", 4, 3, 3});
  Model single = o.model();
  const PassRecord r2 = prune(single, {{"pattern", "structured"}, {"sparsity", 0.5}});
  ASSERT_EQ(r2.skipped.size(), 1u);
  EXPECT_EQ(r2.skipped[0].reason, "output channels not removed: value 'y' is a graph output");
  EXPECT_EQ(weight(single, "a").shape(), (Shape{4, 4, 3, 3}));
}

TEST(PruneStructured, BadOptions) {
  auto error = [](const json& o) {
    auto p = create_pass("prune", o, "/pipeline/0/options");
    return p.is_ok() ? std::string() : p.status().message();
  };
  EXPECT_EQ(error({{"pattern", "structured"}, {"sparsity", 0.3}, {"criterion", "l2"}}), "");
  EXPECT_NE(error({{"pattern", "structured"}, {"method", "wanda"}}).find("/pipeline/0/options/method"),
            std::string::npos);
  EXPECT_NE(error({{"pattern", "structured"}, {"threshold", "global"}}).find("/pipeline/0/options/threshold"),
            std::string::npos);
  EXPECT_NE(error({{"pattern", "structured"}, {"criterion", "l3"}}).find("/pipeline/0/options/criterion"),
            std::string::npos);
  EXPECT_NE(error({{"activation_aware", true}}).find("/pipeline/0/options/activation_aware"), std::string::npos);
  EXPECT_EQ(error({{"pattern", "structured"}, {"sparsity", 1.0}}),
            "/pipeline/0/options/sparsity: 1.0 is out of range [0, 1)");
}

}  // namespace
}  // namespace bitsmith
