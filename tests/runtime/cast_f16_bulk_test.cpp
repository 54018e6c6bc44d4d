// Cast f16 <-> f32 takes half.h's bulk (F16C) path in chunks over threads; it must give the
// same bits as the element-wise scalar conversion, on sizes that are not multiples of the
// vector width or of the chunk, including NaN, infinities, subnormals and rounding ties.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "bitsmith/core/half.h"
#include "bitsmith/runtime/executor.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

Tensor run_cast(const Tensor& x, DType to, int threads) {
  test::GraphBuilder b;
  b.input("x", x.dtype(), {x.numel()})
      .node("Cast", {"x"}, {"y"}, {test::attr_int("to", dtype_to_onnx(to))})
      .output("y", to, {x.numel()});
  ExecutorOptions opt;
  opt.num_threads = threads;
  opt.check_finite_inputs = false;
  auto exec = Executor::create(b.model(), opt);
  EXPECT_TRUE(exec.is_ok()) << exec.status().message();
  auto out = (*exec)->run({{"x", x}});
  EXPECT_TRUE(out.is_ok()) << out.status().message();
  return (*out)[0];
}

TEST(CastF16Bulk, WidenMatchesScalarBitForBit) {
  for (int64_t n : {1, 7, 13, 16385, 40003}) {
    Tensor x(DType::kF16, {n});
    auto* h = reinterpret_cast<uint16_t*>(x.mutable_bytes());
    for (int64_t i = 0; i < n; ++i) h[i] = static_cast<uint16_t>((i * 2654435761u) >> 7);  // every class of bits
    for (int threads : {1, 2}) {
      Tensor y = run_cast(x, DType::kF32, threads);
      for (int64_t i = 0; i < n; ++i) {
        const float want = f16_to_f32(h[i]);
        ASSERT_EQ(std::memcmp(&want, y.data<float>() + i, 4), 0) << "n " << n << " i " << i << " bits " << h[i];
      }
    }
  }
}

TEST(CastF16Bulk, NarrowMatchesScalarBitForBit) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  for (int64_t n : {1, 9, 16384, 33001}) {
    Tensor x(DType::kF32, {n});
    float* f = x.mutable_data<float>();
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t u = bits(rng);
      std::memcpy(&f[i], &u, 4);
    }
    const float specials[] = {0.f, -0.f, 65504.f, 65520.f, 1e-8f, 5.9604645e-8f, 2.9802322e-8f, 1.0009765625f,
                              std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                              std::numeric_limits<float>::quiet_NaN()};
    for (size_t k = 0; k < std::size(specials) && static_cast<int64_t>(k) < n; ++k) f[k] = specials[k];
    for (int threads : {1, 2}) {
      Tensor y = run_cast(x, DType::kF16, threads);
      const auto* got = reinterpret_cast<const uint16_t*>(y.bytes());
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], f32_to_f16(f[i])) << "n " << n << " i " << i << " value " << f[i];
    }
  }
}

}  // namespace
}  // namespace bitsmith
