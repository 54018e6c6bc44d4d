// Weight-only low-bit MatMul: the engine (matmul_nbits.h) against its scalar reference twin bit
// for bit on awkward shapes at 1 and 2 threads; the com.microsoft MatMulNBits kernel; and the
// executor fusion of blocked int4 / uint4 DequantizeLinear -> MatMul against the unfused graph.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitsmith/runtime/executor.h"
#include "runtime/kernels/matmul_nbits.h"
#include "support/graph_builder.h"

namespace bitsmith::test {
namespace {

using kernels::NBitsWeights;

struct NBitsData {
  std::vector<uint8_t> b, zp;
  std::vector<float> scales;
  NBitsWeights w;
};

NBitsData make_nbits(int64_t n, int64_t k, int64_t bits, int64_t block, bool with_zp, uint32_t seed) {
  std::mt19937 rng(seed);
  NBitsData d;
  d.w.n = n, d.w.k = k, d.w.bits = bits, d.w.block_size = block;
  d.b.resize(static_cast<size_t>(n * d.w.k_blocks() * d.w.blob()));
  for (auto& v : d.b) v = static_cast<uint8_t>(rng() % 256);
  d.scales.resize(static_cast<size_t>(n * d.w.k_blocks()));
  for (auto& s : d.scales) s = 0.001f + 0.01f * static_cast<float>(rng() % 1000) / 1000.f;
  if (with_zp) {
    d.zp.resize(static_cast<size_t>(n * d.w.zp_row_bytes()));
    for (auto& v : d.zp) v = static_cast<uint8_t>(rng() % 256);
  }
  d.w.b = d.b.data();
  d.w.scales = d.scales.data();
  d.w.zp = with_zp ? d.zp.data() : nullptr;
  return d;
}

TEST(MatMulNBits, EngineMatchesReferenceBitForBit) {
  uint32_t seed = 1;
  for (int64_t m : {1, 3, 13})
    for (int64_t n : {1, 3, 13, 40})
      for (int64_t k : {1, 7, 13, 127, 300})
        for (int64_t bits : {2, 4, 8})
          for (bool zp : {false, true}) {
            const int64_t block = bits == 2 ? 16 : 32;
            const NBitsData d = make_nbits(n, k, bits, block, zp, seed++);
            std::mt19937 rng(seed);
            std::vector<float> a(static_cast<size_t>(m * k)), bias(static_cast<size_t>(n));
            for (float& v : a) v = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 700.f;
            for (float& v : bias) v = static_cast<float>(rng() % 100) / 50.f;
            std::vector<float> want(static_cast<size_t>(m * n));
            kernels::ref::matmul_nbits(m, a.data(), d.w, bias.data(), want.data());
            for (int threads : {1, 2}) {
              std::vector<float> got(want.size(), -1.f);
              kernels::matmul_nbits_f32(m, a.data(), d.w, bias.data(), got.data(), threads);
              EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * 4))
                  << "m=" << m << " n=" << n << " k=" << k << " bits=" << bits << " zp=" << zp << " threads=" << threads;
            }
          }
}

TEST(MatMulNBits, ReferenceUnpacksLowBitsFirst) {
  // One row, K = 4, 4-bit codes 1, 2, 3, 4 in bytes 0x21 0x43, zero point 8 (absent), scale 1.
  const std::vector<uint8_t> b = {0x21, 0x43};
  const std::vector<float> scales = {1.f};
  NBitsWeights w;
  w.n = 1, w.k = 4, w.bits = 4, w.block_size = 4, w.b = b.data(), w.scales = scales.data();
  EXPECT_EQ(w.weight(0, 0), -7.f);
  EXPECT_EQ(w.weight(0, 3), -4.f);
  const std::vector<float> a = {1, 1, 1, 1};
  float y = 0;
  kernels::ref::matmul_nbits(1, a.data(), w, nullptr, &y);
  EXPECT_EQ(y, -7.f - 6.f - 5.f - 4.f);
}

// x [M, K] f32 -> MatMul(x, DQ(W int4/uint4 [K, N], axis 0, block_size)) -> y
Model int4_matmul_model(int64_t m, int64_t k, int64_t n, int64_t block, DType wt, bool zp, uint32_t seed) {
  std::mt19937 rng(seed);
  GraphBuilder b;
  b.input("x", DType::kF32, {m, k});
  Tensor w(wt, {k, n}, "wq");
  const int64_t kb = (k + block - 1) / block;
  for (size_t i = 0; i < w.nbytes(); ++i) w.mutable_bytes()[i] = static_cast<std::byte>(rng() % 256);
  b.initializer(w);
  std::vector<float> s(static_cast<size_t>(kb * n));
  for (float& v : s) v = 0.01f + 0.02f * static_cast<float>(rng() % 100) / 100.f;
  b.initializer("ws", s, {kb, n});
  std::vector<std::string> dq_in = {"wq", "ws"};
  if (zp) {
    Tensor z(wt, {kb, n}, "wz");
    for (size_t i = 0; i < z.nbytes(); ++i) z.mutable_bytes()[i] = static_cast<std::byte>(rng() % 256);
    b.initializer(z);
    dq_in.push_back("wz");
  }
  b.node("DequantizeLinear", dq_in, {"w"}, {attr_int("axis", 0), attr_int("block_size", block)});
  b.node("MatMul", {"x", "w"}, {"y"}, {}, "mm");
  b.output("y", DType::kF32, {m, n});
  return b.model(21);
}

std::vector<float> run_model(const Model& model, const Tensor& x, bool fuse, int threads, std::vector<std::string>* units) {
  ExecutorOptions opt;
  opt.fuse_qdq = fuse;
  opt.num_threads = threads;
  auto e = Executor::create(model, opt);
  EXPECT_TRUE(e.is_ok()) << e.status().message();
  if (!e.is_ok()) return {};
  if (units) *units = (*e)->fused_units();
  auto out = (*e)->run({{"x", x}});
  EXPECT_TRUE(out.is_ok()) << out.status().message();
  if (!out.is_ok()) return {};
  return std::vector<float>((*out)[0].data<float>(), (*out)[0].data<float>() + (*out)[0].numel());
}

TEST(MatMulNBits, BlockedInt4DequantizeMatMulIsFused) {
  uint32_t seed = 50;
  for (DType wt : {DType::kI4, DType::kU4})
    for (bool zp : {false, true})
      for (auto [m, k, n, block] : std::vector<std::array<int64_t, 4>>{{1, 64, 9}, {5, 70, 33}, {3, 128, 16}}) {
        (void)block;
        const int64_t bs = k == 128 ? 64 : 32;
        const Model model = int4_matmul_model(m, k, n, bs, wt, zp, ++seed);
        std::vector<float> xv(static_cast<size_t>(m * k));
        std::mt19937 rng(seed);
        for (float& v : xv) v = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 1000.f;
        const Tensor x = Tensor::from_vector<float>(xv, {m, k});
        std::vector<std::string> units;
        const std::vector<float> ref = run_model(model, x, false, 1, nullptr);
        const std::vector<float> f1 = run_model(model, x, true, 1, &units);
        const std::vector<float> f2 = run_model(model, x, true, 2, nullptr);
        const std::string what = std::string(wt == DType::kI4 ? "int4" : "uint4") + (zp ? " zp" : "") + " m=" +
                                 std::to_string(m) + " k=" + std::to_string(k);
        ASSERT_EQ(units.size(), 1u) << what;
        EXPECT_NE(units[0].find("MatMulNBits"), std::string::npos) << units[0];
        EXPECT_EQ(f1, f2) << what;
        ASSERT_EQ(ref.size(), f1.size());
        double scale = 0;
        for (float v : ref) scale = std::max(scale, std::fabs(static_cast<double>(v)));
        for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(f1[i], ref[i], 1e-5 * std::max(1.0, scale)) << what << " at " << i;
      }
}

TEST(MatMulNBits, KernelRejectsBadShapes) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2, 32});
  b.initializer("B", std::vector<uint8_t>(4 * 1 * 8, 0), {4, 1, 8});
  b.initializer("S", std::vector<float>(3, 1.f), {3});
  b.node("MatMulNBits", {"x", "B", "S"}, {"y"},
         {attr_int("K", 32), attr_int("N", 4), attr_int("bits", 4), attr_int("block_size", 16)}, "nb", "com.microsoft");
  b.output("y", DType::kF32, {2, 4});
  auto e = Executor::create(b.model(17, {{"com.microsoft", 1}}));
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  auto out = (*e)->run({{"x", Tensor(DType::kF32, {2, 32})}});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("'nb'"), std::string::npos) << out.status().message();
  EXPECT_NE(out.status().message().find("B has shape"), std::string::npos) << out.status().message();
}

}  // namespace
}  // namespace bitsmith::test
