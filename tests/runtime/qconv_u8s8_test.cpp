// The u8 x s8 paths of ConvInteger / QLinearConv / QGemm against the scalar references
// (ref::conv_integer + requantize_value, ref::qgemm_u8s8), exact, at 1, 2 and 3 threads: dilated,
// 1-D, pointwise with channels not a multiple of 4 (the direct channels-last path), grouped with
// 8+ channels per group, u8 weights with non-zero zero points (row-sum correction) and s8
// activations; windows read in place (implicit im2col) and the 16 x 16 channels-last transpose
// with channel / pixel tails.
#include <gtest/gtest.h>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <string>
#include <vector>

#include "runtime/dense_kernel_harness.h"
#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/gemm_u8s8.h"
#include "runtime/kernels/quantized_common.h"
#include "runtime/kernels/ref/quantized_ref.h"

namespace bitsmith::test {
namespace {

std::vector<int32_t> ints_of(const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = t.dtype() == DType::kU8 ? t.data<uint8_t>()[i] : t.dtype() == DType::kI8 ? t.data<int8_t>()[i] : t.data<int32_t>()[i];
  return v;
}

Tensor rand_q(DType t, const Shape& s, uint32_t seed) {
  return t == DType::kU8 ? random_tensor<uint8_t>(s, seed, 0, 255) : random_tensor<int8_t>(s, seed, -128, 127);
}

struct Case {
  std::string name;
  Shape x, w;
  std::vector<int64_t> strides, pads, dilations;
  int64_t group;
  DType tx, tw;
  bool zero_w_zp;  // every w zero point 0 (s8 weights: no row-sum correction)
};

TEST(QConvU8S8, MatchesReferenceExactly) {
  const std::vector<Case> cases = {
      {"dilated", {1, 5, 11, 10}, {17, 5, 3, 3}, {1, 2}, {2, 2, 2, 1}, {2, 2}, 1, DType::kU8, DType::kI8},
      {"1-D", {2, 6, 23}, {19, 6, 5}, {2}, {2, 1}, {}, 1, DType::kI8, DType::kI8},
      {"pointwise c6", {2, 6, 5, 7}, {20, 6, 1, 1}, {}, {}, {}, 1, DType::kU8, DType::kU8},
      {"group2 mg8", {1, 6, 9, 9}, {16, 3, 3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 2, DType::kU8, DType::kU8},
      {"deep", {1, 70, 6, 6}, {33, 70, 3, 3}, {}, {1, 1, 1, 1}, {}, 1, DType::kI8, DType::kU8},
      // Implicit im2col (windows read in place from the channels-last copy): kernel rows of
      // whole 4-byte groups (kw * cg % 4 == 0), or per tap (cg % 4 == 0) when dilated.
      {"3x3 c8 s2", {2, 8, 9, 11}, {21, 8, 3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 1, DType::kU8, DType::kI8},
      {"3x3 c8 zp0", {1, 8, 13, 9}, {35, 8, 3, 3}, {1, 2}, {1, 0, 1, 2}, {}, 1, DType::kU8, DType::kI8, true},
      {"k4 c3", {1, 3, 10, 9}, {18, 3, 4, 4}, {1, 1}, {2, 1, 1, 2}, {}, 1, DType::kI8, DType::kU8},
      {"dilated c4", {1, 4, 12, 10}, {17, 4, 3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 3}, 1, DType::kU8, DType::kU8},
      {"group2 c4 mg16", {1, 8, 7, 7}, {32, 4, 3, 3}, {}, {1, 1, 1, 1}, {}, 2, DType::kI8, DType::kI8, true},
      {"1-D c4", {2, 4, 19}, {33, 4, 3}, {1}, {1, 1}, {}, 1, DType::kU8, DType::kI8, true},
      {"chunks c16", {1, 16, 21, 23}, {16, 16, 3, 3}, {}, {1, 1, 1, 1}, {}, 1, DType::kU8, DType::kI8, true},
      {"c20 s8 x", {1, 20, 6, 34}, {24, 20, 3, 3}, {1, 1}, {1, 1, 1, 1}, {}, 1, DType::kI8, DType::kI8, true},
  };
  uint32_t seed = 900;
  for (const Case& c : cases) {
    seed += 10;
    const Tensor x = rand_q(c.tx, c.x, seed), w = rand_q(c.tw, c.w, seed + 1);
    const Tensor x_zp = rand_q(c.tx, {}, seed + 2);
    const Tensor w_zp = c.zero_w_zp ? Tensor(c.tw, {c.w[0]}) : rand_q(c.tw, {c.w[0]}, seed + 3);
    std::vector<Attribute> attrs;
    if (!c.strides.empty()) attrs.push_back(Attribute::make_ints("strides", c.strides));
    if (!c.pads.empty()) attrs.push_back(Attribute::make_ints("pads", c.pads));
    if (!c.dilations.empty()) attrs.push_back(Attribute::make_ints("dilations", c.dilations));
    if (c.group != 1) attrs.push_back(Attribute::make_int("group", c.group));
    Node node;
    node.attributes = attrs;
    auto wa = kernels::parse_window_attrs(node);
    ASSERT_TRUE(wa.is_ok());
    auto g = kernels::conv_geometry(*wa, c.x, c.w, node);
    ASSERT_TRUE(g.is_ok()) << g.status().message();
    const Tensor bias = random_tensor<int32_t>({c.w[0]}, seed + 4, -5000, 5000);
    std::vector<int32_t> acc(static_cast<size_t>(shape_numel(g->out_shape())));
    const auto run_ref = [&](auto* xd, auto* wd) {
      kernels::ref::conv_integer(*g, xd, ints_of(x_zp)[0], wd, ints_of(w_zp), bias.data<int32_t>(), acc.data());
    };
    if (c.tx == DType::kU8 && c.tw == DType::kU8) run_ref(x.data<uint8_t>(), w.data<uint8_t>());
    else if (c.tx == DType::kU8) run_ref(x.data<uint8_t>(), w.data<int8_t>());
    else if (c.tw == DType::kU8) run_ref(x.data<int8_t>(), w.data<uint8_t>());
    else run_ref(x.data<int8_t>(), w.data<int8_t>());
    const Tensor x_scale = Tensor::scalar<float>(0.03f), y_scale = Tensor::scalar<float>(2.5f);
    const Tensor w_scale = random_tensor({c.w[0]}, seed + 5, 0.01, 0.04);
    const Tensor y_zp = rand_q(c.tx, {}, seed + 6);
    int32_t qmin = 0, qmax = 0;
    kernels::quant_range(c.tx, qmin, qmax);
    std::vector<int32_t> want(acc.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const int64_t m = (static_cast<int64_t>(i) / g->out_size()) % c.w[0];
      want[i] = kernels::requantize_value(acc[i], kernels::requant_multiplier(0.03f, w_scale.data<float>()[m], 2.5f),
                                          ints_of(y_zp)[0], qmin, qmax);
    }
    for (bool constant_w : {false, true}) {
      const std::string what = "QLinearConv " + c.name + (constant_w ? " constant W" : "");
      const auto out = run_op_all_threads(OpRun{"QLinearConv", {x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias},
                                                attrs, {false, false, false, constant_w, true, constant_w}},
                                          what);
      if (!out.empty()) {
        EXPECT_EQ(ints_of(out[0]), want) << what;
      }
    }
  }
}

TEST(QConvU8S8, QGemmMatchesReference) {
  for (bool trans_b : {false, true})
    for (DType tb : {DType::kI8, DType::kU8}) {
      const int64_t m = 7, k = 45, n = 21;
      const Tensor a = rand_q(DType::kU8, {m, k}, 1), b = rand_q(tb, trans_b ? Shape{n, k} : Shape{k, n}, 2);
      const Tensor a_zp = rand_q(DType::kU8, {}, 3), b_zp = rand_q(tb, {n}, 4);
      const Tensor c = random_tensor<int32_t>({n}, 5, -3000, 3000);
      const Tensor a_scale = Tensor::scalar<float>(0.02f), b_scale = random_tensor({n}, 6, 0.01, 0.03);
      // Reference: B as s8 [k, n] with zero points shifted alike (u8 -> s8 by -128).
      std::vector<int8_t> bs(static_cast<size_t>(k * n));
      std::vector<int32_t> bz(static_cast<size_t>(n));
      const std::vector<int32_t> bi = ints_of(b), bzi = ints_of(b_zp);
      const int32_t shift = tb == DType::kU8 ? 128 : 0;
      for (int64_t kk = 0; kk < k; ++kk)
        for (int64_t j = 0; j < n; ++j) bs[kk * n + j] = static_cast<int8_t>((trans_b ? bi[j * k + kk] : bi[kk * n + j]) - shift);
      for (int64_t j = 0; j < n; ++j) bz[j] = bzi[j] - shift;
      std::vector<float> scale(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j) scale[j] = 0.02f * b_scale.data<float>()[j];
      std::vector<float> want(static_cast<size_t>(m * n));
      kernels::QEpilogue ep;
      ep.kind = kernels::QEpilogue::Kind::kFloat;
      ep.a_zp = ints_of(a_zp)[0];
      ep.b_zp = bz.data();
      ep.bias = c.data<int32_t>();
      ep.scale = scale.data();
      ep.out = want.data();
      ep.ld_row = n;
      kernels::ref::qgemm_u8s8(m, n, k, a.data<uint8_t>(), k, bs.data(), ep);
      const std::string what = std::string("QGemm float transB=") + (trans_b ? "1" : "0") + " " + std::string(dtype_name(tb));
      const auto out = run_op_all_threads(
          OpRun{"QGemm", {a, a_scale, a_zp, b, b_scale, b_zp, c}, {Attribute::make_int("transB", trans_b)},
                {false, true, true, true, true, true, true}, 1, 1, "com.microsoft"},
          what);
      if (!out.empty()) {
        ASSERT_EQ(out[0].numel(), m * n);
        EXPECT_EQ(std::vector<float>(out[0].data<float>(), out[0].data<float>() + m * n), want) << what;
      }
    }
}

}  // namespace
}  // namespace bitsmith::test
