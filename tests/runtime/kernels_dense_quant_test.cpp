// Quantized ops: registered kernels against the scalar references (ref/quantized_ref.h), exact
// (integer accumulation is exact; requantization uses the same float formula), at 1, 2 and 3
// threads. Extreme 8-bit values with K over several 256-blocks check the exactness argument of
// the f32-based integer GEMM.
#include <gtest/gtest.h>

// Case tables list only the leading fields of each case struct.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <cmath>

#include "runtime/dense_kernel_harness.h"
#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/quantized_common.h"
#include "runtime/kernels/ref/quantized_ref.h"

namespace bitsmith::test {
namespace {

using kernels::QuantLayout;

std::vector<int32_t> as_int32(const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t.dtype()) {
      case DType::kU8: v[i] = t.data<uint8_t>()[i]; break;
      case DType::kI8: v[i] = t.data<int8_t>()[i]; break;
      case DType::kI32: v[i] = t.data<int32_t>()[i]; break;
      case DType::kI4:
      case DType::kU4: {
        const uint8_t byte = static_cast<uint8_t>(t.bytes()[i / 2]);
        const int nib = i % 2 ? byte >> 4 : byte & 0xf;
        v[i] = t.dtype() == DType::kI4 && nib >= 8 ? nib - 16 : nib;
        break;
      }
      default: ADD_FAILURE() << "unexpected dtype";
    }
  }
  return v;
}

Tensor random_q(DType t, const Shape& shape, uint32_t seed) {
  return t == DType::kU8 ? random_tensor<uint8_t>(shape, seed, 0, 255) : random_tensor<int8_t>(shape, seed, -128, 127);
}

// Worst case for the integer GEMM: every shifted value at its extreme.
Tensor extreme_q(DType t, const Shape& shape) {
  Tensor x(t, shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (t == DType::kU8) x.mutable_data<uint8_t>()[i] = 255;
    else x.mutable_data<int8_t>()[i] = -128;
  }
  return x;
}

TEST(DenseQuant, QuantizeLinearPerTensorAxisAndBlocked) {
  const Tensor x = random_tensor({2, 6, 5}, 1, -3, 3);
  struct Case {
    std::string name;
    Tensor scale, zp;
    int64_t axis, block, opset;
    QuantLayout layout;
  };
  Tensor zp_axis(DType::kI8, {6});
  for (int i = 0; i < 6; ++i) zp_axis.mutable_data<int8_t>()[i] = static_cast<int8_t>(i * 7 - 20);
  Tensor zp_i4(DType::kI4, {2, 2, 5});  // zero points 0 (packed zeros)
  const std::vector<Case> cases = {
      {"per-tensor u8", Tensor::scalar<float>(0.02f), Tensor::scalar<uint8_t>(128), 1, 0, 13, {1, 1, 60, true, 0}},
      {"per-tensor default u8", Tensor::scalar<float>(0.05f), Tensor(), 1, 0, 10, {1, 1, 60, true, 0}},
      {"per-axis i8", random_tensor({6}, 2, 0.01, 0.05), zp_axis, 1, 0, 13, {2, 6, 5, false, 0}},
      {"per-axis last", random_tensor({5}, 3, 0.01, 0.05), Tensor::from_vector<int8_t>({0, 1, -1, 3, 9}, {5}), -1, 0, 13,
       {12, 5, 1, false, 0}},
      {"blocked i4", random_tensor({2, 2, 5}, 4, 0.2, 0.6), zp_i4, 1, 4, 21, {2, 6, 5, false, 4}},
  };
  for (const Case& c : cases) {
    const auto out = run_op_all_threads(
        OpRun{"QuantizeLinear", {x, c.scale, c.zp}, {Attribute::make_int("axis", c.axis), Attribute::make_int("block_size", c.block)},
              {}, 1, c.opset},
        c.name);
    if (out.empty()) continue;
    const DType qt = c.zp.defined() ? c.zp.dtype() : DType::kU8;
    int32_t qmin = 0, qmax = 0;
    ASSERT_TRUE(kernels::quant_range(qt, qmin, qmax));
    std::vector<int32_t> want(static_cast<size_t>(x.numel()));
    const std::vector<int32_t> zp = c.zp.defined() ? as_int32(c.zp) : std::vector<int32_t>();
    kernels::ref::quantize_linear(c.layout, x.data<float>(), c.scale.data<float>(), zp.empty() ? nullptr : zp.data(),
                                  qmin, qmax, want.data());
    EXPECT_EQ(out[0].dtype(), qt) << c.name;
    EXPECT_EQ(as_int32(out[0]), want) << c.name;
  }
}

// ONNX: round half to even, then saturate.
TEST(DenseQuant, QuantizeRoundsHalfToEvenAndSaturates) {
  const Tensor x = Tensor::from_vector<float>({0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 300.f, -300.f}, {8});
  auto out = run_op(OpRun{"QuantizeLinear", {x, Tensor::scalar<float>(1.f), Tensor::scalar<int8_t>(0)}}, 1);
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_EQ(as_int32((*out)[0]), (std::vector<int32_t>{0, 2, 2, 0, -2, -2, 127, -128}));
}

// The per-tensor 8-bit fast path (8 values per vector, blocks over threads) against the scalar
// reference on awkward sizes, with ties, NaN, infinities and out-of-range values mixed in.
TEST(DenseQuant, QuantizePerTensor8BitFastPathMatchesReference) {
  for (int64_t n : {1, 3, 13, 127, 200003}) {
    Tensor x = random_tensor({n}, static_cast<uint32_t>(n), -40, 40);
    float* xd = x.mutable_data<float>();
    const float specials[] = {0.5f, -0.5f, 2.5f, -3.5f, std::nanf(""), INFINITY, -INFINITY, 1e30f, -0.f};
    for (int64_t i = 0; i < n; i += 7) xd[i] = specials[(i / 7) % 9] * (i % 2 ? 0.1f : 1.f);
    for (const DType qt : {DType::kU8, DType::kI8}) {
      const Tensor zp = qt == DType::kU8 ? Tensor::scalar<uint8_t>(121) : Tensor::scalar<int8_t>(-7);
      const Tensor scale = Tensor::scalar<float>(0.1f);
      const auto out = run_op_all_threads(OpRun{"QuantizeLinear", {x, scale, zp}, {}, {}, 1, 13},
                                          "quantize n=" + std::to_string(n));
      if (out.empty()) continue;
      int32_t qmin = 0, qmax = 0;
      ASSERT_TRUE(kernels::quant_range(qt, qmin, qmax));
      const int32_t z = as_int32(zp)[0];
      std::vector<int32_t> want(static_cast<size_t>(n));
      kernels::ref::quantize_linear(QuantLayout{1, 1, n, true, 0}, xd, scale.data<float>(), &z, qmin, qmax, want.data());
      EXPECT_EQ(as_int32(out[0]), want) << "n=" << n << " " << dtype_name(qt);
    }
  }
}

TEST(DenseQuant, DequantizeLinearPerTensorAxisBlockedAndInt4) {
  const Tensor q8 = random_q(DType::kI8, {3, 4, 5}, 10);
  const Tensor s_axis = random_tensor({4}, 11, 0.01, 0.1);
  const Tensor z_axis = random_q(DType::kI8, {4}, 12);
  Tensor q4(DType::kU4, {3, 4, 5});
  for (size_t i = 0; i < q4.nbytes(); ++i) q4.mutable_bytes()[i] = static_cast<std::byte>((i * 37 + 11) & 0xff);
  const Tensor s_blk = random_tensor({3, 2, 5}, 13, 0.01, 0.1);
  Tensor z_blk(DType::kU4, {3, 2, 5});
  for (size_t i = 0; i < z_blk.nbytes(); ++i) z_blk.mutable_bytes()[i] = static_cast<std::byte>(0x78);
  const Tensor q32 = random_tensor<int32_t>({3, 4, 5}, 14, -100000, 100000);
  struct Case {
    std::string name;
    Tensor q, scale, zp;
    int64_t axis, block, opset;
    QuantLayout layout;
  };
  const std::vector<Case> cases = {
      {"per-tensor i8", q8, Tensor::scalar<float>(0.1f), Tensor::scalar<int8_t>(-3), 1, 0, 13, {1, 1, 60, true, 0}},
      {"per-axis i8", q8, s_axis, z_axis, 1, 0, 13, {3, 4, 5, false, 0}},
      {"blocked u4", q4, s_blk, z_blk, 1, 3, 21, {3, 4, 5, false, 3}},
      {"int32 no zp", q32, Tensor::scalar<float>(1e-4f), Tensor(), 1, 0, 13, {1, 1, 60, true, 0}},
  };
  for (const Case& c : cases) {
    const auto out = run_op_all_threads(
        OpRun{"DequantizeLinear", {c.q, c.scale, c.zp}, {Attribute::make_int("axis", c.axis), Attribute::make_int("block_size", c.block)},
              {}, 1, c.opset},
        c.name);
    if (out.empty()) continue;
    const std::vector<int32_t> q = as_int32(c.q);
    const std::vector<int32_t> zp = c.zp.defined() ? as_int32(c.zp) : std::vector<int32_t>();
    Tensor want(DType::kF32, c.q.shape());
    kernels::ref::dequantize_linear(c.layout, q.data(), c.scale.data<float>(), zp.empty() ? nullptr : zp.data(),
                                    want.mutable_data<float>());
    expect_close(out[0], want, 0.0, c.name);
  }
}

TEST(DenseQuant, DynamicQuantizeLinearMatchesReference) {
  for (const Tensor& x : {random_tensor({3, 7}, 20, -2, 5), random_tensor({13}, 21, 0.5, 4), Tensor(DType::kF32, {4})}) {
    const auto out = run_op_all_threads(OpRun{"DynamicQuantizeLinear", {x}, {}, {}, 3, 11}, "DynamicQuantizeLinear");
    ASSERT_EQ(out.size(), 3u);
    Tensor y(DType::kU8, x.shape());
    float scale = 0;
    uint8_t zp = 0;
    kernels::ref::dynamic_quantize_linear(x.numel(), x.data<float>(), y.mutable_data<uint8_t>(), &scale, &zp);
    EXPECT_TRUE(out[0].same_content(y));
    EXPECT_EQ(out[1].data<float>()[0], scale);
    EXPECT_EQ(out[2].data<uint8_t>()[0], zp);
  }
}

struct QMatCase {
  Shape a, b;
  DType ta, tb;
  bool per_column_zp, extreme;
};

// acc = ref::matmul_integer for the case (zero points: a scalar, b scalar or per column).
void check_qmatmul(const QMatCase& c, uint32_t seed) {
  const Tensor a = c.extreme ? extreme_q(c.ta, c.a) : random_q(c.ta, c.a, seed);
  const Tensor b = c.extreme ? extreme_q(c.tb, c.b) : random_q(c.tb, c.b, seed + 1);
  auto plan = kernels::plan_matmul(c.a, c.b);
  ASSERT_TRUE(plan.is_ok());
  const Tensor a_zp = c.extreme ? Tensor(c.ta, {}) : random_q(c.ta, {}, seed + 2);
  const Tensor b_zp = c.per_column_zp ? random_q(c.tb, {plan->n}, seed + 3) : (c.extreme ? Tensor(c.tb, {}) : random_q(c.tb, {}, seed + 3));
  std::vector<int32_t> want(static_cast<size_t>(shape_numel(plan->out_shape)));
  const auto run_ref = [&](auto* ad, auto* bd) {
    kernels::ref::matmul_integer(*plan, ad, as_int32(a_zp), bd, as_int32(b_zp), want.data());
  };
  if (c.ta == DType::kU8 && c.tb == DType::kU8) run_ref(a.data<uint8_t>(), b.data<uint8_t>());
  else if (c.ta == DType::kU8) run_ref(a.data<uint8_t>(), b.data<int8_t>());
  else if (c.tb == DType::kU8) run_ref(a.data<int8_t>(), b.data<uint8_t>());
  else run_ref(a.data<int8_t>(), b.data<int8_t>());
  const std::string what = "MatMulInteger " + shape_str(c.a) + " " + std::string(dtype_name(c.ta)) + " x " +
                           shape_str(c.b) + " " + std::string(dtype_name(c.tb));
  for (bool constant_b : {false, true}) {
    const auto out = run_op_all_threads(OpRun{"MatMulInteger", {a, b, a_zp, b_zp}, {}, {false, constant_b, false, constant_b}},
                                        what + (constant_b ? " constant B" : ""));
    if (!out.empty()) {
      EXPECT_EQ(as_int32(out[0]), want) << what;
    }
  }
  // QLinearMatMul: the same accumulators requantized (per-column b_scale when per-column zp).
  const Tensor a_scale = Tensor::scalar<float>(0.03f), y_scale = Tensor::scalar<float>(c.extreme ? 5000.f : 7.5f);
  const Tensor b_scale = c.per_column_zp ? random_tensor({plan->n}, seed + 4, 0.01, 0.05) : Tensor::scalar<float>(0.02f);
  const Tensor y_zp = random_q(c.ta, {}, seed + 5);
  const int32_t yz = as_int32(y_zp)[0];
  int32_t qmin = 0, qmax = 0;
  kernels::quant_range(c.ta, qmin, qmax);
  std::vector<int32_t> want_q(want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const float bs = b_scale.numel() == 1 ? b_scale.data<float>()[0] : b_scale.data<float>()[i % plan->n];
    want_q[i] = kernels::requantize_value(want[i], kernels::requant_multiplier(0.03f, bs, y_scale.data<float>()[0]), yz, qmin, qmax);
  }
  const auto out = run_op_all_threads(OpRun{"QLinearMatMul", {a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp}, {}, {false, false, false, true, true, true}},
                                      "QLinear" + what);
  if (!out.empty()) {
      EXPECT_EQ(as_int32(out[0]), want_q) << "QLinear" << what;
    }
}

TEST(DenseQuant, MatMulIntegerAndQLinearMatMulExact) {
  const std::vector<QMatCase> cases = {
      {{3, 7}, {7, 5}, DType::kU8, DType::kU8, false, false},
      {{13, 300}, {300, 17}, DType::kU8, DType::kI8, true, false},
      {{2, 5, 33}, {33, 127}, DType::kI8, DType::kU8, false, false},
      {{2, 3, 9, 40}, {2, 1, 40, 6}, DType::kI8, DType::kI8, true, false},
      {{7, 700}, {700, 19}, DType::kU8, DType::kU8, false, true},
      {{5, 900}, {900, 3}, DType::kI8, DType::kI8, false, true},
      {{11}, {11, 4}, DType::kU8, DType::kI8, false, false},
  };
  uint32_t seed = 300;
  for (const QMatCase& c : cases) check_qmatmul(c, seed += 10);
}

struct QConvCase {
  std::string name;
  Shape x, w;
  std::vector<int64_t> strides, pads;
  int64_t group;
  DType tx, tw;
};

TEST(DenseQuant, ConvIntegerAndQLinearConvExact) {
  const std::vector<QConvCase> cases = {
      {"3x3 pad1 u8u8", {1, 3, 9, 8}, {5, 3, 3, 3}, {}, {1, 1, 1, 1}, 1, DType::kU8, DType::kU8},
      {"stride2 asym u8i8", {2, 4, 7, 9}, {6, 4, 3, 2}, {2, 2}, {0, 1, 2, 0}, 1, DType::kU8, DType::kI8},
      {"group2 i8i8", {1, 6, 6, 5}, {4, 3, 3, 3}, {}, {1, 1, 1, 1}, 2, DType::kI8, DType::kI8},
      {"depthwise i8u8", {1, 5, 8, 7}, {5, 1, 3, 3}, {2, 1}, {1, 1, 1, 1}, 5, DType::kI8, DType::kU8},
      {"pointwise deep", {1, 300, 4, 5}, {7, 300, 1, 1}, {}, {}, 1, DType::kU8, DType::kI8},
  };
  uint32_t seed = 700;
  for (const QConvCase& c : cases) {
    seed += 10;
    const Tensor x = random_q(c.tx, c.x, seed), w = random_q(c.tw, c.w, seed + 1);
    const Tensor x_zp = random_q(c.tx, {}, seed + 2), w_zp = random_q(c.tw, {c.w[0]}, seed + 3);
    std::vector<Attribute> attrs;
    if (!c.strides.empty()) attrs.push_back(Attribute::make_ints("strides", c.strides));
    if (!c.pads.empty()) attrs.push_back(Attribute::make_ints("pads", c.pads));
    if (c.group != 1) attrs.push_back(Attribute::make_int("group", c.group));
    Node node;
    node.attributes = attrs;
    auto wa = kernels::parse_window_attrs(node);
    auto g = kernels::conv_geometry(*wa, c.x, c.w, node);
    ASSERT_TRUE(g.is_ok()) << g.status().message();
    const Tensor bias = random_tensor<int32_t>({c.w[0]}, seed + 4, -5000, 5000);
    std::vector<int32_t> acc(static_cast<size_t>(shape_numel(g->out_shape()))), acc_b(acc.size());
    const auto run_ref = [&](auto* xd, auto* wd) {
      kernels::ref::conv_integer(*g, xd, as_int32(x_zp)[0], wd, as_int32(w_zp), nullptr, acc.data());
      kernels::ref::conv_integer(*g, xd, as_int32(x_zp)[0], wd, as_int32(w_zp), bias.data<int32_t>(), acc_b.data());
    };
    if (c.tx == DType::kU8 && c.tw == DType::kU8) run_ref(x.data<uint8_t>(), w.data<uint8_t>());
    else if (c.tx == DType::kU8) run_ref(x.data<uint8_t>(), w.data<int8_t>());
    else if (c.tw == DType::kU8) run_ref(x.data<int8_t>(), w.data<uint8_t>());
    else run_ref(x.data<int8_t>(), w.data<int8_t>());
    for (bool constant_w : {false, true}) {
      const std::string what = "ConvInteger " + c.name + (constant_w ? " constant W" : "");
      const auto out = run_op_all_threads(OpRun{"ConvInteger", {x, w, x_zp, w_zp}, attrs, {false, constant_w, false, constant_w}}, what);
      if (!out.empty()) {
      EXPECT_EQ(as_int32(out[0]), acc) << what;
    }
    }
    const Tensor x_scale = Tensor::scalar<float>(0.05f), y_scale = Tensor::scalar<float>(3.f);
    const Tensor w_scale = random_tensor({c.w[0]}, seed + 5, 0.01, 0.04);
    const Tensor y_zp = random_q(c.tx, {}, seed + 6);
    int32_t qmin = 0, qmax = 0;
    kernels::quant_range(c.tx, qmin, qmax);
    std::vector<int32_t> want(acc.size());
    const int64_t out_size = g->out_size();
    for (size_t i = 0; i < want.size(); ++i) {
      const int64_t m = (static_cast<int64_t>(i) / out_size) % c.w[0];
      want[i] = kernels::requantize_value(acc_b[i], kernels::requant_multiplier(0.05f, w_scale.data<float>()[m], 3.f),
                                          as_int32(y_zp)[0], qmin, qmax);
    }
    const std::string what = "QLinearConv " + c.name;
    const auto out = run_op_all_threads(
        OpRun{"QLinearConv", {x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias}, attrs, {false, false, false, true, true, true}},
        what);
    if (!out.empty()) {
      EXPECT_EQ(as_int32(out[0]), want) << what;
    }
  }
}

}  // namespace
}  // namespace bitsmith::test
