// Executor float chain fusion (src/runtime/float_fusion.h): Conv [+ Add] [+ Relu] ->
// com.microsoft.FusedConv and MatMul + bias [+ GELU] [+ Add] -> bitsmith.FusedMatMul, each
// against the unfused graph (ExecutorOptions::fuse_float = false, the reference), byte for
// byte, at 1 and 2 threads; and the chains that must not fuse.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bitsmith/runtime/executor.h"
#include "runtime/fusion_test_util.h"
#include "support/graph_builder.h"

namespace bitsmith::test {
namespace {

std::vector<float> random_f32(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

Tensor random_tensor(const Shape& shape, uint32_t seed, std::string name = {}) {
  return Tensor::from_vector<float>(random_f32(static_cast<size_t>(shape_numel(shape)), seed), shape, std::move(name));
}

FusionRun run(const Model& model, const NamedTensors& feeds, bool fuse, int threads) {
  ExecutorOptions opt;
  opt.fuse_float = fuse;
  opt.num_threads = threads;
  opt.check_finite_inputs = false;  // NaN inputs on purpose
  return run_fused(model, feeds, opt);
}

// Runs unfused (1 thread) and fused (1 and 2 threads); returns the fused units.
std::vector<std::string> expect_fused_equals_unfused(const Model& model, const NamedTensors& feeds,
                                                     const std::string& what) {
  const FusionRun ref = run(model, feeds, false, 1);
  EXPECT_TRUE(ref.units.empty()) << what;
  std::vector<std::string> units;
  for (int threads : {1, 2}) {
    const FusionRun got = run(model, feeds, true, threads);
    EXPECT_EQ(got.outputs.size(), ref.outputs.size()) << what;
    for (size_t o = 0; o < std::min(got.outputs.size(), ref.outputs.size()); ++o)
      EXPECT_TRUE(same_bytes(got.outputs[o], ref.outputs[o])) << what << " output " << o << " threads=" << threads;
    units = got.units;
  }
  return units;
}

size_t count_containing(const std::vector<std::string>& units, const std::string& s) {
  size_t n = 0;
  for (const std::string& u : units) n += u.find(s) != std::string::npos;
  return n;
}

// x [N, C, H, W] -> conv1 -> Relu -> conv2 -> Add(., x) -> Relu -> conv3 (stride 2) -> Relu -> y
Model residual_block(int64_t c, int64_t h, int64_t w, uint32_t seed) {
  GraphBuilder b;
  b.input("x", DType::kF32, {"N", c, h, w});
  for (int i = 1; i <= 3; ++i) {
    b.initializer(random_tensor({c, c, 3, 3}, seed + i, "w" + std::to_string(i)));
    b.initializer(random_tensor({c}, seed + 10 + i, "b" + std::to_string(i)));
  }
  const Attribute pads = ints("pads", {1, 1, 1, 1});
  b.node("Conv", {"x", "w1", "b1"}, {"c1"}, {pads}, "conv1");
  b.node("Relu", {"c1"}, {"r1"}, {}, "relu1");
  b.node("Conv", {"r1", "w2", "b2"}, {"c2"}, {pads}, "conv2");
  b.node("Add", {"c2", "x"}, {"s2"}, {}, "add2");
  b.node("Relu", {"s2"}, {"r2"}, {}, "relu2");
  b.node("Conv", {"r2", "w3"}, {"c3"}, {pads, ints("strides", {2, 2})}, "conv3");
  b.node("Relu", {"c3"}, {"y"}, {}, "relu3");
  b.output("y", DType::kF32, {"N", c, (h + 1) / 2, (w + 1) / 2});
  return b.model(17);
}

TEST(FloatFusion, ResidualConvBlockMatchesUnfusedBitForBit) {
  uint32_t seed = 1;
  for (int64_t c : {1, 3, 8, 13})
    for (int64_t hw : {1, 5, 9, 17})
      for (int64_t batch : {1, 3}) {
        const Model model = residual_block(c, hw, hw, seed);
        Tensor x = random_tensor({batch, c, hw, hw}, seed++);
        float* xd = x.mutable_data<float>();
        xd[0] = std::numeric_limits<float>::quiet_NaN();  // Relu keeps NaN, as the unfused graph
        if (x.numel() > 1) xd[1] = -0.f;
        const std::string what = "c=" + std::to_string(c) + " hw=" + std::to_string(hw) + " N=" + std::to_string(batch);
        const std::vector<std::string> units = expect_fused_equals_unfused(model, {{"x", x}}, what);
        ASSERT_EQ(units.size(), 3u) << what;
        EXPECT_EQ(count_containing(units, "com.microsoft.FusedConv"), 3u);
        EXPECT_EQ(count_containing(units, "+ Add + Relu"), 1u) << units[1];
      }
}

TEST(FloatFusion, ResidualThatOnlyBroadcastsAtRunTimeIsAddedUnfused) {
  // z's dim 0 is unknown like x's, so the Add fuses; at run time z has 1 image, x has 3.
  GraphBuilder b;
  b.input("x", DType::kF32, {"N", 4, 6, 6});
  b.input("z", DType::kF32, {"M", 4, 6, 6});
  b.initializer(random_tensor({4, 4, 3, 3}, 5, "w"));
  b.node("Conv", {"x", "w"}, {"c"}, {ints("pads", {1, 1, 1, 1})}, "conv");
  b.node("Add", {"z", "c"}, {"s"}, {}, "add");
  b.node("Relu", {"s"}, {"y"}, {}, "relu");
  b.output("y", DType::kF32, {"N", 4, 6, 6});
  const std::vector<std::string> units = expect_fused_equals_unfused(
      b.model(17), {{"x", random_tensor({3, 4, 6, 6}, 6)}, {"z", random_tensor({1, 4, 6, 6}, 7)}}, "broadcast Z");
  EXPECT_EQ(count_containing(units, "+ Add + Relu"), 1u);
}

// x [N, T, D] -> MatMul(W1 [D, F]) -> Add(b1) -> GELU (as torch exports it) -> MatMul(W2 [F, D])
//   -> Add(b2) -> Add(x) -> y
Model ffn(int64_t t, int64_t d, int64_t f, uint32_t seed) {
  GraphBuilder b;
  b.input("x", DType::kF32, {"N", t, d});
  b.initializer(random_tensor({d, f}, seed + 1, "w1"));
  b.initializer(random_tensor({f}, seed + 2, "b1"));
  b.initializer(random_tensor({f, d}, seed + 3, "w2"));
  b.initializer(random_tensor({d}, seed + 4, "b2"));
  b.initializer("sqrt2", std::vector<float>{1.4142135381698608f}, {});
  b.initializer("one", std::vector<float>{1.f}, {});
  b.initializer("half", std::vector<float>{0.5f}, {});
  b.node("MatMul", {"x", "w1"}, {"m1"}, {}, "fc1");
  b.node("Add", {"b1", "m1"}, {"h"}, {}, "fc1_bias");
  b.node("Div", {"h", "sqrt2"}, {"d"}, {}, "gelu_div");
  b.node("Erf", {"d"}, {"e"}, {}, "gelu_erf");
  b.node("Add", {"e", "one"}, {"e1"}, {}, "gelu_add");
  b.node("Mul", {"h", "e1"}, {"p"}, {}, "gelu_mul");
  b.node("Mul", {"p", "half"}, {"g"}, {}, "gelu_half");
  b.node("MatMul", {"g", "w2"}, {"m2"}, {}, "fc2");
  b.node("Add", {"m2", "b2"}, {"o"}, {}, "fc2_bias");
  b.node("Add", {"x", "o"}, {"y"}, {}, "residual");
  b.output("y", DType::kF32, {"N", t, d});
  return b.model(17);
}

TEST(FloatFusion, FeedForwardWithGeluAndResidualMatchesUnfusedBitForBit) {
  uint32_t seed = 100;
  for (int64_t t : {1, 3, 13})
    for (int64_t d : {1, 8, 17})
      for (int64_t f : {3, 64, 127})
        for (int64_t batch : {1, 2}) {
          const Model model = ffn(t, d, f, seed);
          Tensor x = random_tensor({batch, t, d}, seed++);
          x.mutable_data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
          const std::string what = "t=" + std::to_string(t) + " d=" + std::to_string(d) + " f=" + std::to_string(f) +
                                   " N=" + std::to_string(batch);
          const std::vector<std::string> units = expect_fused_equals_unfused(model, {{"x", x}}, what);
          ASSERT_EQ(units.size(), 2u) << what;
          EXPECT_EQ(count_containing(units, "bitsmith.FusedMatMul"), 2u);
          EXPECT_EQ(count_containing(units, "GELU(erf)"), 1u) << units[0];
          EXPECT_EQ(count_containing(units, "Add(bias) + Add"), 1u) << units[1];
        }
}

TEST(FloatFusion, LargeRowCountSplitsIntoBlocksIdentically) {
  // Enough rows for several row blocks per thread (the kernel's L2-sized blocks).
  const Model model = ffn(300, 40, 1000, 7);
  const std::vector<std::string> units =
      expect_fused_equals_unfused(model, {{"x", random_tensor({2, 300, 40}, 8)}}, "600 rows");
  EXPECT_EQ(units.size(), 2u);
}

TEST(FloatFusion, ValuesThatAreGraphOutputsOrReadTwiceStayUnfused) {
  // c1 is a graph output (its Relu cannot be fused); m's bias Add result h is read by two nodes
  // that are not a GELU (the MatMul + bias still fuses, nothing after it does).
  GraphBuilder b;
  b.input("x", DType::kF32, {2, 3, 5, 5});
  b.input("v", DType::kF32, {4, 6});
  b.initializer(random_tensor({3, 3, 3, 3}, 1, "w"));
  b.initializer(random_tensor({6, 7}, 2, "wm"));
  b.initializer(random_tensor({7}, 3, "bm"));
  b.node("Conv", {"x", "w"}, {"c1"}, {ints("pads", {1, 1, 1, 1})}, "conv");
  b.node("Relu", {"c1"}, {"r1"}, {}, "relu");
  b.node("MatMul", {"v", "wm"}, {"m"}, {}, "mm");
  b.node("Add", {"m", "bm"}, {"h"}, {}, "bias");
  b.node("Relu", {"h"}, {"h1"}, {}, "relu_h");
  b.node("Sigmoid", {"h"}, {"h2"}, {}, "sig_h");
  b.output("c1", DType::kF32, {2, 3, 5, 5});
  b.output("r1", DType::kF32, {2, 3, 5, 5});
  b.output("h1", DType::kF32, {4, 7});
  b.output("h2", DType::kF32, {4, 7});
  const std::vector<std::string> units = expect_fused_equals_unfused(
      b.model(17), {{"x", random_tensor({2, 3, 5, 5}, 4)}, {"v", random_tensor({4, 6}, 5)}}, "guards");
  ASSERT_EQ(units.size(), 1u);
  EXPECT_NE(units[0].find("node 'mm' (MatMul) + Add(bias) -> bitsmith.FusedMatMul"), std::string::npos) << units[0];
}

TEST(FloatFusion, ObservedRunsSeeEveryValueWhenFusionIsOff) {
  const Model model = residual_block(3, 5, 5, 9);
  const NamedTensors feeds = {{"x", random_tensor({1, 3, 5, 5}, 10)}};
  for (bool fuse : {false, true}) {
    ExecutorOptions opt;
    opt.fuse_float = fuse;
    auto e = Executor::create(model, opt);
    ASSERT_TRUE(e.is_ok()) << e.status().message();
    std::vector<std::string> seen;
    auto out = (*e)->run_observed(feeds, [&](const Node&, const std::string& v, const Tensor&) {
      seen.push_back(v);
      return Status::ok();
    });
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    // Unfused: c1 r1 c2 s2 r2 c3 y; fused: one value per chain.
    EXPECT_EQ(seen.size(), fuse ? 3u : 7u);
  }
}

}  // namespace
}  // namespace bitsmith::test
