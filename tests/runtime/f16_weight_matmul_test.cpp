// float16 weights through the f32 GEMM: the engine with a float16 B (GemmB::f16) against the
// same GEMM on the widened f32 B, byte for byte; and the executor fusion of Cast(f16 initializer,
// to=FLOAT) -> MatMul / Gemm (src/runtime/f16_weight_fusion.h) against the unfused graph (the
// reference), byte for byte, on awkward shapes at 1 and 2 threads.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitsmith/core/half.h"
#include "bitsmith/runtime/executor.h"
#include "passes/pass_test_util.h"
#include "runtime/fusion_test_util.h"
#include "runtime/kernels/gemm_f32.h"
#include "support/graph_builder.h"

namespace bitsmith::test {
namespace {

constexpr int64_t kDims[] = {1, 3, 13, 127, 300};
constexpr int64_t kRows[] = {1, 3, 13};

// Random float16 bits: mostly normal values in about [-4, 4], with some subnormals and zeros of
// either sign mixed in.
std::vector<uint16_t> random_f16(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint16_t> h(count);
  for (uint16_t& v : h) {
    const uint32_t r = rng() % 100;
    if (r == 0) v = static_cast<uint16_t>(rng() % 0x400 | (rng() % 2) << 15);  // subnormal / zero
    else v = f32_to_f16(static_cast<float>(static_cast<int>(rng() % 20001) - 10000) / 2500.f);
  }
  return h;
}

std::vector<float> random_f32(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> v(count);
  for (float& x : v) x = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 700.f;
  return v;
}

Tensor f16_tensor(const std::vector<uint16_t>& h, Shape shape, std::string name) {
  Tensor t(DType::kF16, std::move(shape), std::move(name));
  std::memcpy(t.mutable_bytes(), h.data(), h.size() * 2);
  return t;
}

TEST(F16WeightGemm, EngineMatchesWidenedF32BitForBit) {
  uint32_t seed = 1;
  for (bool trans_b : {false, true})
    for (int64_t m : kRows)
      for (int64_t k : kDims)
        for (int64_t n : kDims) {
          const std::vector<uint16_t> bh = random_f16(static_cast<size_t>(k * n), seed++);
          std::vector<float> bf(bh.size());
          for (size_t i = 0; i < bh.size(); ++i) bf[i] = f16_to_f32(bh[i]);
          const std::vector<float> a = random_f32(static_cast<size_t>(m * k), seed++);
          const int64_t ldb = trans_b ? k : n;
          for (int threads : {1, 2}) {
            std::vector<float> want(static_cast<size_t>(m * n), -1.f), got(want.size(), -2.f);
            kernels::sgemm(false, trans_b, m, n, k, 1.f, a.data(), k, bf.data(), ldb, 0.f, want.data(), n, threads);
            kernels::GemmB gb{kernels::MatView{nullptr, ldb, trans_b}};
            gb.f16 = bh.data();
            kernels::sgemm(m, n, k, 1.f, kernels::GemmA{kernels::MatView{a.data(), k, false}}, gb, 0.f, got.data(), n,
                           threads);
            ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * 4))
                << "m=" << m << " k=" << k << " n=" << n << " transB=" << trans_b << " threads=" << threads;
          }
        }
}

// x [M, K] -> Cast(W f16 [K, N]) -> MatMul -> y, or Gemm(x, Cast(W), C) with the given attributes.
Model f16_weight_model(const std::string& op, int64_t m, int64_t k, int64_t n, bool trans_b, uint32_t seed) {
  GraphBuilder b;
  b.input("x", DType::kF32, {m, k});
  const Shape ws = trans_b ? Shape{n, k} : Shape{k, n};
  b.initializer(f16_tensor(random_f16(static_cast<size_t>(k * n), seed), ws, "wh"));
  b.node("Cast", {"wh"}, {"w"}, {attr_int("to", 1)}, "cast_w");
  if (op == "MatMul") {
    b.node("MatMul", {"x", "w"}, {"y"}, {}, "mm");
  } else {
    b.initializer("c", random_f32(static_cast<size_t>(n), seed + 7), {n});
    b.node("Gemm", {"x", "w", "c"}, {"y"},
           {attr_int("transB", trans_b ? 1 : 0), attr_float("alpha", 0.75f), attr_float("beta", 1.5f)}, "gm");
  }
  b.output("y", DType::kF32, {m, n});
  return b.model(17);
}

// The first output of `model`, run with or without the float16-weight fusion.
FusionRun run(const Model& model, const NamedTensors& feeds, bool fuse, int threads) {
  ExecutorOptions opt;
  opt.fuse_f16_weights = fuse;
  opt.num_threads = threads;
  return run_fused(model, feeds, opt);
}

const std::vector<float>& first_output(const FusionRun& r) {
  static const std::vector<float> kNone;
  return r.outputs.empty() ? kNone : r.outputs[0];
}

void expect_fused_equals_unfused(const Model& model, const NamedTensors& feeds, const std::string& fused_op,
                                 const std::string& what) {
  const FusionRun ref = run(model, feeds, false, 1);
  EXPECT_TRUE(ref.units.empty()) << what;
  for (int threads : {1, 2}) {
    const FusionRun got = run(model, feeds, true, threads);
    ASSERT_EQ(got.units.size(), 1u) << what;
    EXPECT_NE(got.units[0].find("bitsmith." + fused_op), std::string::npos) << got.units[0];
    EXPECT_TRUE(same_bytes(first_output(got), first_output(ref))) << what << " threads=" << threads;
  }
}

TEST(F16WeightGemm, FusedMatMulEqualsCastMatMul) {
  uint32_t seed = 100;
  for (int64_t m : kRows)
    for (int64_t k : kDims)
      for (int64_t n : kDims) {
        const Model model = f16_weight_model("MatMul", m, k, n, false, ++seed);
        const Tensor x = Tensor::from_vector<float>(random_f32(static_cast<size_t>(m * k), seed), {m, k});
        expect_fused_equals_unfused(model, {{"x", x}}, "MatMulF16Weight",
                                    "m=" + std::to_string(m) + " k=" + std::to_string(k) + " n=" + std::to_string(n));
      }
}

TEST(F16WeightGemm, FusedGemmEqualsCastGemm) {
  uint32_t seed = 500;
  for (bool trans_b : {false, true})
    for (int64_t m : kRows)
      for (int64_t k : {1, 13, 300})
        for (int64_t n : {3, 127, 300}) {
          const Model model = f16_weight_model("Gemm", m, k, n, trans_b, ++seed);
          const Tensor x = Tensor::from_vector<float>(random_f32(static_cast<size_t>(m * k), seed), {m, k});
          expect_fused_equals_unfused(model, {{"x", x}}, "GemmF16Weight",
                                      "m=" + std::to_string(m) + " k=" + std::to_string(k) + " n=" +
                                          std::to_string(n) + " transB=" + std::to_string(trans_b));
        }
}

TEST(F16WeightGemm, FusedRunHoldsNoF32CopyOfTheWeight) {
  const int64_t m = 3, k = 300, n = 127;
  const Model model = f16_weight_model("MatMul", m, k, n, false, 77);
  const NamedTensors feeds = {{"x", Tensor::from_vector<float>(random_f32(static_cast<size_t>(m * k), 1), {m, k})}};
  int64_t peak[2] = {0, 0};
  for (bool fuse : {false, true}) {
    ExecutorOptions opt;
    opt.fuse_f16_weights = fuse;
    auto e = Executor::create(model, opt);
    ASSERT_TRUE(e.is_ok()) << e.status().message();
    ASSERT_TRUE((*e)->run(feeds).is_ok());
    peak[fuse] = (*e)->last_run_stats().peak_live_bytes;
  }
  // Unfused, the Cast's f32 copy of W (k * n floats) is live next to x and y; fused it never is.
  EXPECT_GE(peak[0] - peak[1], k * n * 4) << "unfused " << peak[0] << " fused " << peak[1];
}

TEST(F16WeightGemm, BatchedAAnd1DAFuse) {
  for (const Shape& xs : {Shape{2, 5, 13}, Shape{13}}) {
    GraphBuilder b;
    std::vector<DimArg> dims(xs.begin(), xs.end());
    b.input("x", DType::kF32, dims);
    b.initializer(f16_tensor(random_f16(13 * 20, 9), {13, 20}, "wh"));
    b.node("Cast", {"wh"}, {"w"}, {attr_int("to", 1)}, "cast_w");
    b.node("MatMul", {"x", "w"}, {"y"}, {}, "mm");
    Shape ys = xs;
    ys.back() = 20;
    b.output("y", DType::kF32, std::vector<DimArg>(ys.begin(), ys.end()));
    const Tensor x = Tensor::from_vector<float>(random_f32(static_cast<size_t>(shape_numel(xs)), 3), xs);
    expect_fused_equals_unfused(b.model(17), {{"x", x}}, "MatMulF16Weight", "x " + shape_str(xs));
  }
}

TEST(F16WeightGemm, CastKeptWhileSomethingElseReadsIt) {
  // The Cast output feeds a fused MatMul and an Add: the Cast stays, both outputs match.
  GraphBuilder b;
  b.input("x", DType::kF32, {3, 13});
  b.input("z", DType::kF32, {13, 5});
  b.initializer(f16_tensor(random_f16(13 * 5, 4), {13, 5}, "wh"));
  b.node("Cast", {"wh"}, {"w"}, {attr_int("to", 1)}, "cast_w");
  b.node("MatMul", {"x", "w"}, {"y"}, {}, "mm");
  b.node("Add", {"z", "w"}, {"s"}, {}, "add");
  b.output("y", DType::kF32, {3, 5});
  b.output("s", DType::kF32, {13, 5});
  const Model model = b.model(17);
  const NamedTensors feeds = {{"x", Tensor::from_vector<float>(random_f32(39, 1), {3, 13})},
                              {"z", Tensor::from_vector<float>(random_f32(65, 2), {13, 5})}};
  for (bool fuse : {false, true}) {
    ExecutorOptions opt;
    opt.fuse_f16_weights = fuse;
    auto e = Executor::create(model, opt);
    ASSERT_TRUE(e.is_ok()) << e.status().message();
    EXPECT_EQ((*e)->fused_units().size(), fuse ? 1u : 0u);
  }
  expect_fused_equals_unfused(model, feeds, "MatMulF16Weight", "shared cast");
}

TEST(F16WeightGemm, NotFusedWhenCastIsAGraphOutputOrWeightNot2D) {
  {
    GraphBuilder b;
    b.input("x", DType::kF32, {2, 4});
    b.initializer(f16_tensor(random_f16(12, 5), {4, 3}, "wh"));
    b.node("Cast", {"wh"}, {"w"}, {attr_int("to", 1)}, "cast_w");
    b.node("MatMul", {"x", "w"}, {"y"}, {}, "mm");
    b.output("y", DType::kF32, {2, 3});
    b.output("w", DType::kF32, {4, 3});
    auto e = Executor::create(b.model(17));
    ASSERT_TRUE(e.is_ok()) << e.status().message();
    EXPECT_TRUE((*e)->fused_units().empty());
  }
  {
    GraphBuilder b;
    b.input("x", DType::kF32, {2, 2, 4});
    b.initializer(f16_tensor(random_f16(24, 6), {2, 4, 3}, "wh"));
    b.node("Cast", {"wh"}, {"w"}, {attr_int("to", 1)}, "cast_w");
    b.node("MatMul", {"x", "w"}, {"y"}, {}, "mm");
    b.output("y", DType::kF32, {2, 2, 3});
    auto e = Executor::create(b.model(17));
    ASSERT_TRUE(e.is_ok()) << e.status().message();
    EXPECT_TRUE((*e)->fused_units().empty());
  }
}

TEST(F16WeightGemm, ConvertFloat16WeightOnlyModelRunsFusedBitForBit) {
  // A small MLP through convert-float16 {"compute": "f32"}: every weight Cast feeding a MatMul or
  // Gemm is fused, and the outputs equal the unfused run byte for byte.
  GraphBuilder b;
  b.input("x", DType::kF32, {"N", 24});
  b.initializer("w1", random_f32(24 * 40, 11), {24, 40});
  b.initializer("b1", random_f32(40, 12), {40});
  b.initializer("w2", random_f32(7 * 40, 13), {7, 40});
  b.initializer("b2", random_f32(7, 14), {7});
  b.node("MatMul", {"x", "w1"}, {"h"}, {}, "fc1");
  b.node("Add", {"h", "b1"}, {"hb"}, {}, "bias1");
  b.node("Relu", {"hb"}, {"r"}, {}, "relu");
  b.node("Gemm", {"r", "w2", "b2"}, {"y"}, {attr_int("transB", 1)}, "fc2");
  b.output("y", DType::kF32, {"N", 7});
  Model model = b.model(17);
  run_pipeline(model, R"([{"pass": "convert-float16", "options": {"compute": "f32"}}])");
  const NamedTensors feeds = {{"x", Tensor::from_vector<float>(random_f32(5 * 24, 15), {5, 24})}};
  const FusionRun ref = run(model, feeds, false, 1);
  for (int threads : {1, 2}) {
    const FusionRun got = run(model, feeds, true, threads);
    EXPECT_EQ(got.units.size(), 2u);
    EXPECT_TRUE(same_bytes(first_output(got), first_output(ref))) << "threads=" << threads;
  }
}

TEST(F16WeightGemm, KernelRejectsNonF16Weight) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2, 4});
  b.initializer("w", random_f32(12, 1), {4, 3});
  b.node("MatMulF16Weight", {"x", "w"}, {"y"}, {}, "mmh", "bitsmith");
  b.output("y", DType::kF32, {2, 3});
  auto e = Executor::create(b.model(17, {{"bitsmith", 1}}));
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  auto out = (*e)->run({{"x", Tensor::from_vector<float>(random_f32(8, 2), {2, 4})}});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("'mmh'"), std::string::npos) << out.status().message();
  EXPECT_NE(out.status().message().find("expected f16"), std::string::npos) << out.status().message();
}

}  // namespace
}  // namespace bitsmith::test
