// Gemm, MatMul and the shared f32 GEMM: fast kernels against the scalar references on awkward
// shapes (1, 3, 13, 127, non-multiples of the 6x16 tile, K across several 256-blocks), at 1, 2
// and 3 threads (bytes identical). Tolerance 1e-5 * sqrt(K) * max|a| * max|b| (+ |beta*C|).
#include <gtest/gtest.h>

// Case tables list only the leading fields of each case struct.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <cmath>

#include "runtime/dense_kernel_harness.h"
#include "runtime/kernels/gemm_f32.h"
#include "runtime/kernels/ref/gemm_ref.h"
#include "runtime/kernels/ref/matmul_ref.h"

namespace bitsmith::test {
namespace {

double gemm_atol(int64_t k, const Tensor& a, const Tensor& b, double extra = 0) {
  return 1e-5 * std::sqrt(static_cast<double>(std::max<int64_t>(k, 1))) * max_abs(a) * max_abs(b) + extra + 1e-6;
}

struct GemmCase {
  int64_t m, n, k;
  bool trans_a, trans_b;
  float alpha, beta;
  Shape c_shape;  // empty vector + no_c = no C
  bool has_c;
};

TEST(DenseGemm, MatchesReference) {
  const std::vector<GemmCase> cases = {
      {1, 1, 1, false, false, 1.f, 1.f, {}, false},
      {3, 5, 7, true, false, 0.5f, 2.f, {3, 5}, true},
      {13, 127, 33, false, true, 1.f, 1.f, {127}, true},
      {13, 127, 33, true, true, -1.25f, 0.f, {13, 127}, true},
      {64, 3, 300, false, false, 1.f, 0.75f, {64, 1}, true},
      {7, 40, 600, false, true, 1.f, 1.f, {1}, true},
      {50, 70, 513, true, false, 2.f, -1.f, {}, true},  // scalar C
      {127, 1, 17, false, false, 1.f, 1.f, {1, 1}, true},
  };
  uint32_t seed = 1;
  for (const GemmCase& c : cases) {
    const Tensor a = random_tensor(c.trans_a ? Shape{c.k, c.m} : Shape{c.m, c.k}, seed++);
    const Tensor b = random_tensor(c.trans_b ? Shape{c.n, c.k} : Shape{c.k, c.n}, seed++);
    const Tensor cc = c.has_c ? random_tensor(c.c_shape, seed++) : Tensor();
    Tensor want(DType::kF32, {c.m, c.n});
    kernels::ref::gemm<float>(c.trans_a, c.trans_b, c.m, c.n, c.k, c.alpha, a.data<float>(), b.data<float>(), c.beta,
                              c.has_c ? cc.data<float>() : nullptr, c.c_shape, want.mutable_data<float>());
    const std::vector<Attribute> attrs = {Attribute::make_float("alpha", c.alpha), Attribute::make_float("beta", c.beta),
                                          Attribute::make_int("transA", c.trans_a), Attribute::make_int("transB", c.trans_b)};
    const double atol = gemm_atol(c.k, a, b) * std::fabs(c.alpha) + (c.has_c ? 1e-6 * std::fabs(c.beta) * max_abs(cc) : 0);
    for (bool constant_b : {false, true}) {
      const std::string what = "Gemm m" + std::to_string(c.m) + " n" + std::to_string(c.n) + " k" + std::to_string(c.k) +
                               " tA" + std::to_string(c.trans_a) + " tB" + std::to_string(c.trans_b) +
                               (constant_b ? " constant B" : "");
      const auto out = run_op_all_threads(OpRun{"Gemm", {a, b, cc}, attrs, {false, constant_b, false}}, what);
      if (!out.empty()) expect_close(out[0], want, atol, what);
    }
  }
}

struct MatMulCase {
  Shape a, b;
};

TEST(DenseMatMul, MatchesReferenceWithBroadcastAndVectors) {
  const std::vector<MatMulCase> cases = {
      {{7}, {7}},
      {{13}, {13, 5}},
      {{6, 11}, {11}},
      {{1, 1}, {1, 1}},
      {{2, 3, 13, 31}, {31, 17}},
      {{1, 3, 5, 300}, {2, 1, 300, 7}},
      {{4, 127, 64}, {4, 64, 127}},
      {{3, 1, 9}, {9, 129}},
      {{64, 256}, {256, 97}},
      {{2, 1, 33}, {1, 33, 18}},
  };
  uint32_t seed = 50;
  for (const MatMulCase& c : cases) {
    const Tensor a = random_tensor(c.a, seed++), b = random_tensor(c.b, seed++);
    auto plan = kernels::plan_matmul(c.a, c.b);
    ASSERT_TRUE(plan.is_ok()) << plan.status().message();
    Tensor want(DType::kF32, plan->out_shape);
    kernels::ref::matmul<float>(*plan, a.data<float>(), b.data<float>(), want.mutable_data<float>());
    for (bool constant_b : {false, true}) {
      const std::string what = "MatMul " + shape_str(c.a) + " x " + shape_str(c.b) + (constant_b ? " constant B" : "");
      const auto out = run_op_all_threads(OpRun{"MatMul", {a, b}, {}, {false, constant_b}}, what);
      if (!out.empty()) expect_close(out[0], want, gemm_atol(plan->k, a, b), what);
    }
  }
}

TEST(DenseMatMul, IntegerAndDoubleUseTheReference) {
  Tensor a = random_tensor<int32_t>({2, 3, 4}, 3, -20, 20), b = random_tensor<int32_t>({4, 5}, 4, -20, 20);
  auto out = run_op(OpRun{"MatMul", {a, b}}, 2);
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  const Tensor& y = (*out)[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 5}));
  for (int64_t bi = 0; bi < 2; ++bi)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        int32_t s = 0;
        for (int64_t q = 0; q < 4; ++q) s += a.data<int32_t>()[(bi * 3 + i) * 4 + q] * b.data<int32_t>()[q * 5 + j];
        EXPECT_EQ(y.data<int32_t>()[(bi * 3 + i) * 5 + j], s);
      }
  const Tensor ad = random_tensor<double>({3, 4}, 5), bd = random_tensor<double>({4, 2}, 6);
  auto outd = run_op(OpRun{"MatMul", {ad, bd}}, 1);
  ASSERT_TRUE(outd.is_ok()) << outd.status().message();
  EXPECT_EQ((*outd)[0].dtype(), DType::kF64);
}

TEST(DenseMatMul, MismatchedInnerDimsIsAnError) {
  auto out = run_op(OpRun{"MatMul", {random_tensor({3, 4}, 1), random_tensor({5, 2}, 2)}}, 1);
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("test_MatMul"), std::string::npos) << out.status().message();
}

// The GEMM's determinism contract directly: any split of M or N gives identical bytes, also
// with packed operands and with beta != 0.
TEST(DenseSgemm, SplitsGiveIdenticalBytes) {
  const int64_t m = 31, n = 53, k = 700;
  const Tensor a = random_tensor({m, k}, 11), b = random_tensor({k, n}, 12), c0 = random_tensor({m, n}, 13);
  using namespace kernels;
  Tensor whole = c0.clone();
  sgemm_st(m, n, k, 0.5f, GemmA{MatView{a.data<float>(), k, false}}, GemmB{MatView{b.data<float>(), n, false}}, 1.5f,
           whole.mutable_data<float>(), n);
  const PackedA pa(MatView{a.data<float>(), k, false}, m, k);
  const PackedB pb(MatView{b.data<float>(), n, false}, k, n);
  for (int64_t split_m : {6, 12, 30}) {
    Tensor parts = c0.clone();
    float* c = parts.mutable_data<float>();
    for (int64_t i0 = 0; i0 < m; i0 += split_m)
      sgemm_st(std::min(split_m, m - i0), n, k, 0.5f, GemmA{{}, &pa, i0}, GemmB{MatView{b.data<float>(), n, false}}, 1.5f,
               c + i0 * n, n);
    EXPECT_TRUE(parts.same_content(whole)) << "split M by " << split_m;
  }
  // Row blocks of 1..5 rows take the few-row paths (B streamed in place, R-row micro-kernels).
  for (int64_t split_m : {1, 4, 5}) {
    Tensor parts = c0.clone();
    float* c = parts.mutable_data<float>();
    for (int64_t i0 = 0; i0 < m; i0 += split_m)
      sgemm_st(std::min(split_m, m - i0), n, k, 0.5f, GemmA{MatView{a.data<float>() + i0 * k, k, false}},
               GemmB{MatView{b.data<float>(), n, false}}, 1.5f, c + i0 * n, n);
    EXPECT_TRUE(parts.same_content(whole)) << "split M by " << split_m << " (raw A)";
  }
  for (int64_t split_n : {16, 32, 48}) {
    Tensor parts = c0.clone();
    float* c = parts.mutable_data<float>();
    for (int64_t j0 = 0; j0 < n; j0 += split_n)
      sgemm_st(m, std::min(split_n, n - j0), k, 0.5f, GemmA{MatView{a.data<float>(), k, false}}, GemmB{{}, &pb, j0},
               1.5f, c + j0, n);
    EXPECT_TRUE(parts.same_content(whole)) << "split N by " << split_n;
  }
}

}  // namespace
}  // namespace bitsmith::test
