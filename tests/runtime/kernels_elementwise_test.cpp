// Elementwise kernels (unary.cpp, activation.cpp, binary.cpp, compare_logic.cpp, variadic.cpp):
// fast paths against the scalar references on awkward shapes, bit-identical results at 1 and 2
// threads, the vector maths' error budgets, dtype handling and opset-dependent behaviour.
// ONNX's own cases (tests/conformance) check the values against onnx's reference outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/eltwise_simd.h"
#include "runtime/kernels/ref/eltwise_ref.h"
#include "elt_test_util.h"

namespace bitsmith {
namespace {

using elt_test::run_op;
using namespace kernels::elt;
using kernels::convert_float;
using kernels::narrow_from_f32;
using kernels::widen_to_f32;

const std::vector<int64_t> kAwkwardSizes = {1, 3, 13, 127, 1000, 40001};

// Inputs for a unary op: uniform values in the op's domain, then special values.
struct UnaryCase {
  const char* name;
  UnaryOp op;
  float lo, hi;
  double rtol, atol;  // fast vs reference budget
  UnaryParams p{};
};

std::vector<UnaryCase> unary_cases() {
  const double kFloatRound = 1.2e-7;  // one rounding of a float result (1 ulp relative)
  return {
      {"Abs", UnaryOp::kAbs, -10, 10, 0, 0},
      {"Neg", UnaryOp::kNeg, -10, 10, 0, 0},
      {"Sign", UnaryOp::kSign, -10, 10, 0, 0},
      {"Sqrt", UnaryOp::kSqrt, 0, 100, 0, 0},
      {"Reciprocal", UnaryOp::kReciprocal, -10, 10, 0, 0},
      {"Log", UnaryOp::kLog, 1e-3f, 100, 0, 0},
      {"Floor", UnaryOp::kFloor, -10, 10, 0, 0},
      {"Ceil", UnaryOp::kCeil, -10, 10, 0, 0},
      {"Round", UnaryOp::kRound, -10, 10, 0, 0},
      {"Sin", UnaryOp::kSin, -10, 10, 0, 0},
      {"Acosh", UnaryOp::kAcosh, 1, 100, 0, 0},
      {"Atanh", UnaryOp::kAtanh, -0.99f, 0.99f, 0, 0},
      {"Relu", UnaryOp::kRelu, -10, 10, 0, 0},
      // parameters are float attributes, so they are float-representable
      {"LeakyRelu", UnaryOp::kLeakyRelu, -10, 10, 0, 0, {double(0.1f), 0, 0}},
      {"ThresholdedRelu", UnaryOp::kThresholdedRelu, -3, 3, 0, 0, {1.0, 0, 0}},
      // float arithmetic rounds twice where the reference rounds once
      {"HardSigmoid", UnaryOp::kHardSigmoid, -10, 10, 2 * kFloatRound, 1e-7, {double(0.2f), 0.5, 0}},
      {"HardSwish", UnaryOp::kHardSwish, -10, 10, 3 * kFloatRound, 1e-7},
      {"Softsign", UnaryOp::kSoftsign, -10, 10, 2 * kFloatRound, 0},
      {"Elu", UnaryOp::kElu, -10, 10, 0, 0, {1.0, 0, 0}},
      {"Selu", UnaryOp::kSelu, -10, 10, 0, 0, {double(1.6732632f), 0, double(1.0507010f)}},
      {"Softplus", UnaryOp::kSoftplus, -30, 30, 0, 0},
      {"Shrink", UnaryOp::kShrink, -3, 3, 0, 0, {0.5, 0.25, 0}},
      // vector maths (eltwise_simd.h budgets)
      {"Exp", UnaryOp::kExp, -100, 88, 2 * kFloatRound, 1e-44},
      {"Sigmoid", UnaryOp::kSigmoid, -100, 100, 4 * kFloatRound, 1e-44},
      {"Tanh", UnaryOp::kTanh, -12, 12, 2 * kFloatRound, 0},
      {"Erf", UnaryOp::kErf, -6, 6, 3 * kFloatRound, 0},
      // the erfc tail's error grows with x^2 (float rounding of x^2 inside exp)
      {"GeluErf", UnaryOp::kGeluErf, -14, 14, 3e-5, 1e-40},
      {"GeluTanh", UnaryOp::kGeluTanh, -14, 14, 3e-5, 1e-40},
  };
}

std::vector<float> special_values() {
  const float inf = std::numeric_limits<float>::infinity();
  return {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), 1e-30f, -1e-30f, 50.0f, -50.0f, 0.5f,
          -0.5f, 0.625f, -0.625f};
}

TEST(EltUnary, FastMatchesReferenceOnAwkwardSizes) {
  for (const UnaryCase& c : unary_cases()) {
    for (int64_t n : kAwkwardSizes) {
      std::vector<float> x = elt_test::random_floats(static_cast<size_t>(n), c.lo, c.hi, 7);
      std::vector<float> fast(x.size()), ref(x.size());
      unary_f32_fast(c.op, c.p, x.data(), fast.data(), n);
      unary_ref(c.op, c.p, x.data(), ref.data(), n);
      EXPECT_TRUE(elt_test::values_close(fast.data(), ref.data(), n, c.rtol, c.atol,
                                         std::string(c.name) + " n=" + std::to_string(n)));
    }
    std::vector<float> s = special_values();
    std::vector<float> fast(s.size()), ref(s.size());
    unary_f32_fast(c.op, c.p, s.data(), fast.data(), static_cast<int64_t>(s.size()));
    unary_ref(c.op, c.p, s.data(), ref.data(), static_cast<int64_t>(s.size()));
    EXPECT_TRUE(elt_test::values_close(fast.data(), ref.data(), static_cast<int64_t>(s.size()), c.rtol, c.atol,
                                       std::string(c.name) + " special values"));
  }
}

// Every element goes through the same 8-lane code, so where a range is cut does not matter.
TEST(EltUnary, SimdResultsDoNotDependOnRangeSplit) {
  const std::vector<float> x = elt_test::random_floats(1000, -20, 20, 3);
  using Fn = void (*)(const float*, float*, int64_t);
  for (Fn f : {simd::exp_f32, simd::sigmoid_f32, simd::tanh_f32, simd::erf_f32, simd::gelu_erf_f32}) {
    std::vector<float> whole(x.size()), pieces(x.size());
    f(x.data(), whole.data(), 1000);
    for (int64_t b = 0; b < 1000; b += 13) f(x.data() + b, pieces.data() + b, std::min<int64_t>(13, 1000 - b));
    EXPECT_EQ(whole, pieces);
  }
}

TEST(EltUnary, KernelIsBitIdenticalAcrossThreadsAndMatchesFastLoop) {
  const Tensor x = elt_test::f32_tensor({127, 331}, -8, 8, 11);  // crosses several blocks
  const std::pair<const char*, UnaryOp> ops[] = {{"Sigmoid", UnaryOp::kSigmoid}, {"Tanh", UnaryOp::kTanh},
                                                 {"Exp", UnaryOp::kExp},         {"Relu", UnaryOp::kRelu},
                                                 {"Erf", UnaryOp::kErf},         {"Softplus", UnaryOp::kSoftplus}};
  for (const auto& [op, uop] : ops) {
    elt_test::OpRun a = run_op(op, {x}, {}, 17, 1);
    elt_test::OpRun b = run_op(op, {x}, {}, 17, 2);
    ASSERT_TRUE(a.status.is_ok()) << a.status.message();
    ASSERT_TRUE(b.status.is_ok()) << b.status.message();
    EXPECT_TRUE(elt_test::same_bytes(a.outputs[0], b.outputs[0], op));
    Tensor whole(DType::kF32, x.shape());
    unary_f32_fast(uop, UnaryParams{}, x.data<float>(), whole.mutable_data<float>(), x.numel());
    EXPECT_TRUE(elt_test::same_bytes(a.outputs[0], whole, std::string(op) + " blocks vs one call"));
  }
}

TEST(EltUnary, Float16IsComputedInF32AndRoundedBack) {
  const Tensor x32 = elt_test::f32_tensor({5, 13}, -4, 4, 5);
  const Tensor x16 = narrow_from_f32(x32, DType::kF16);
  for (const char* op : {"Sigmoid", "Relu", "Neg", "Tanh"}) {
    elt_test::OpRun r16 = run_op(op, {x16});
    elt_test::OpRun r32 = run_op(op, {widen_to_f32(x16)});
    ASSERT_TRUE(r16.status.is_ok()) << r16.status.message();
    ASSERT_EQ(r16.outputs[0].dtype(), DType::kF16);
    EXPECT_TRUE(elt_test::same_bytes(r16.outputs[0], narrow_from_f32(r32.outputs[0], DType::kF16), op));
  }
}

TEST(EltUnary, IntegerOpsAreExactAndWrap) {
  const std::vector<int8_t> v = {-128, -5, -1, 0, 1, 7, 127};
  const Tensor x = Tensor::from_vector<int8_t>(v, {7});
  elt_test::OpRun abs = run_op("Abs", {x});
  elt_test::OpRun neg = run_op("Neg", {x});
  elt_test::OpRun relu = run_op("Relu", {x});
  ASSERT_TRUE(abs.status.is_ok() && neg.status.is_ok() && relu.status.is_ok());
  for (size_t i = 0; i < v.size(); ++i) {
    const int wide = v[i];
    EXPECT_EQ(abs.outputs[0].data<int8_t>()[i], static_cast<int8_t>(static_cast<uint8_t>(std::abs(wide))));
    EXPECT_EQ(neg.outputs[0].data<int8_t>()[i], static_cast<int8_t>(static_cast<uint8_t>(-wide)));
    EXPECT_EQ(relu.outputs[0].data<int8_t>()[i], std::max<int8_t>(v[i], 0));
  }
}

TEST(EltUnary, FloatOnlyOpRejectsIntegers) {
  elt_test::OpRun r = run_op("Sigmoid", {Tensor::from_vector<int32_t>({1, 2}, {2})});
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status.message().find("node 'n0' (Sigmoid)"), std::string::npos) << r.status.message();
}

// ---- vector maths error budgets against double precision, on a dense sweep ----

TEST(EltSimd, ErrorBudgetsHoldOnDenseSweep) {
  std::vector<float> x;
  for (double v = -30; v <= 30; v += 0.00037) x.push_back(static_cast<float>(v));
  for (double v = -1e-3; v <= 1e-3; v += 3.1e-7) x.push_back(static_cast<float>(v));
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(x.size());
  struct Budget {
    const char* name;
    void (*fn)(const float*, float*, int64_t);
    UnaryOp op;
    double rtol, atol;
  };
  const Budget budgets[] = {
      {"exp", simd::exp_f32, UnaryOp::kExp, 2.5e-7, 0},
      {"sigmoid", simd::sigmoid_f32, UnaryOp::kSigmoid, 4e-7, 1e-44},
      {"tanh", simd::tanh_f32, UnaryOp::kTanh, 2e-7, 0},
      {"erf", simd::erf_f32, UnaryOp::kErf, 3.5e-7, 0},
      {"gelu", simd::gelu_erf_f32, UnaryOp::kGeluErf, 2e-5, 1e-40},
      {"gelu_tanh", simd::gelu_tanh_f32, UnaryOp::kGeluTanh, 3e-5, 1e-40},
  };
  for (const Budget& b : budgets) {
    b.fn(x.data(), y.data(), n);
    std::vector<double> want(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = unary_double(b.op, x[i], UnaryParams{});
    EXPECT_TRUE(elt_test::values_close(y.data(), want.data(), n, b.rtol, b.atol, b.name));
  }
}

TEST(EltSimd, ReductionsStayWithinFloatSummationBounds) {
  for (int64_t n : kAwkwardSizes) {
    const std::vector<float> x = elt_test::random_floats(static_cast<size_t>(n), -3, 3, 9);
    double sum = 0, abs_sum = 0, sq = 0;
    float mx = -std::numeric_limits<float>::infinity();
    for (float v : x) {
      sum += v;
      abs_sum += std::fabs(v);
      mx = std::max(mx, v);
    }
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    for (float v : x) sq += (static_cast<double>(v) - mean) * (static_cast<double>(v) - mean);
    EXPECT_EQ(simd::max_f32(x.data(), n), mx);
    // 8 lanes of n/8 additions each, then 8 more: error <= (n/8 + 8) * eps * sum|x| (eps = 2^-24).
    const double depth = static_cast<double>(n) / 8.0 + 8.0;
    EXPECT_NEAR(simd::sum_f32(x.data(), n), sum, depth * 6e-8 * abs_sum) << "n=" << n;
    EXPECT_NEAR(simd::sum_sq_dev_f32(x.data(), n, mean), sq, (depth + 2) * 6e-8 * sq) << "n=" << n;
  }
}

// ---- binary ----

struct ShapePair {
  Shape a, b;
};
const std::vector<ShapePair> kBroadcastShapes = {
    {{13, 127}, {13, 127}}, {{13, 127}, {}},        {{}, {13, 127}},      {{13, 127}, {127}},
    {{127}, {13, 127}},     {{13, 127}, {13, 1}},   {{3, 13, 127}, {1, 13, 1}}, {{3, 1, 5}, {1, 7, 1}},
    {{}, {}},               {{0, 3}, {3}},          {{2, 3, 1, 129}, {3, 131, 1}}, {{1}, {40001}},
    {{1, 40001}, {40001}},
};

template <class F>
void check_binary_f32(const char* name, F f, float lo = -5, float hi = 5) {
  for (const ShapePair& sp : kBroadcastShapes) {
    const Tensor a = elt_test::f32_tensor(sp.a, lo, hi, 1);
    const Tensor b = elt_test::f32_tensor(sp.b, lo, hi, 2);
    const Shape y_shape = *kernels::broadcast_shapes({sp.a, sp.b});
    Tensor ref(DType::kF32, y_shape), fast1(DType::kF32, y_shape), fast2(DType::kF32, y_shape);
    binary_ref(a.data<float>(), sp.a, b.data<float>(), sp.b, ref.mutable_data<float>(), y_shape, f);
    binary_fast(a.data<float>(), sp.a, b.data<float>(), sp.b, fast1.mutable_data<float>(), y_shape, f, 1);
    binary_fast(a.data<float>(), sp.a, b.data<float>(), sp.b, fast2.mutable_data<float>(), y_shape, f, 2);
    const std::string what = std::string(name) + " " + shape_str(sp.a) + " x " + shape_str(sp.b);
    EXPECT_TRUE(elt_test::same_bytes(fast1, ref, what + " (1 thread)"));
    EXPECT_TRUE(elt_test::same_bytes(fast2, ref, what + " (2 threads)"));
  }
}

TEST(EltBinary, FastMatchesReferenceBitwise) {
  check_binary_f32("Add", AddOp{});
  check_binary_f32("Sub", SubOp{});
  check_binary_f32("Mul", MulOp{});
  check_binary_f32("Div", DivOp{});
  check_binary_f32("Max", MaxOp{});
  check_binary_f32("Min", MinOp{});
  check_binary_f32("PRelu", PReluOp{});
  check_binary_f32("Mod", ModOp{true});
}

TEST(EltBinary, BroadcastPlanCoalescesDims) {
  // [B, C, H, W] + [C, 1, 1]: three runs levels become [B, C, H*W] with the bias broadcast inside.
  const BroadcastPlan p = make_broadcast_plan({{2, 3, 4, 5}, {3, 1, 1}}, {2, 3, 4, 5});
  EXPECT_EQ(p.dims, (Shape{2, 3, 20}));
  EXPECT_EQ(p.strides[0], (std::vector<int64_t>{60, 20, 1}));
  EXPECT_EQ(p.strides[1], (std::vector<int64_t>{0, 1, 0}));
  const BroadcastPlan same = make_broadcast_plan({{2, 3, 4}, {2, 3, 4}}, {2, 3, 4});
  EXPECT_EQ(same.dims, (Shape{24}));
}

TEST(EltBinary, KernelThreadsAndIntegerTypes) {
  const Tensor a = Tensor::from_vector<int32_t>(elt_test::random_ints<int32_t>(13 * 127, -1000, 1000, 1), {13, 127});
  const Tensor b = Tensor::from_vector<int32_t>(elt_test::random_ints<int32_t>(127, 1, 50, 2), {127});
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    elt_test::OpRun r1 = run_op(op, {a, b}, {}, 14, 1);
    elt_test::OpRun r2 = run_op(op, {a, b}, {}, 14, 2);
    ASSERT_TRUE(r1.status.is_ok()) << r1.status.message();
    EXPECT_TRUE(elt_test::same_bytes(r1.outputs[0], r2.outputs[0], op));
  }
  // Integer Div truncates toward zero.
  elt_test::OpRun d = run_op("Div", {a, b}, {}, 14);
  for (int64_t i = 0; i < a.numel(); ++i) {
    const int32_t x = a.data<int32_t>()[i], y = b.data<int32_t>()[i % 127];
    ASSERT_EQ(d.outputs[0].data<int32_t>()[i], x / y) << "index " << i;
  }
}

TEST(EltBinary, IntegerDivisionByZeroIsAnError) {
  const Tensor a = Tensor::from_vector<int64_t>({4, 5}, {2});
  const Tensor b = Tensor::from_vector<int64_t>({1, 0}, {2});
  for (const char* op : {"Div", "Mod"}) {
    elt_test::OpRun r = run_op(op, {a, b});
    EXPECT_FALSE(r.status.is_ok()) << op;
    EXPECT_NE(r.status.message().find("division by zero"), std::string::npos) << r.status.message();
  }
}

TEST(EltBinary, ModSignRules) {
  const std::vector<int32_t> xs = elt_test::random_ints<int32_t>(200, -50, 50, 4);
  std::vector<int32_t> ys = elt_test::random_ints<int32_t>(200, -9, 9, 5);
  for (int32_t& y : ys) y = y == 0 ? 3 : y;
  const Tensor x = Tensor::from_vector<int32_t>(xs, {200});
  const Tensor y = Tensor::from_vector<int32_t>(ys, {200});
  for (int fmod : {0, 1}) {
    elt_test::OpRun r = run_op("Mod", {x, y}, {Attribute::make_int("fmod", fmod)});
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    for (size_t i = 0; i < xs.size(); ++i) {
      const int32_t m = r.outputs[0].data<int32_t>()[i];
      EXPECT_EQ((xs[i] - m) % ys[i], 0);
      EXPECT_LT(std::abs(m), std::abs(ys[i]));
      // fmod: sign of the dividend; otherwise sign of the divisor.
      const int32_t sign_from = fmod ? xs[i] : ys[i];
      if (m != 0) {
        EXPECT_EQ(m < 0, sign_from < 0) << xs[i] << " mod " << ys[i] << " fmod=" << fmod;
      }
    }
  }
}

TEST(EltBinary, LegacyBroadcastAlignsAtAxis) {
  const Tensor a = elt_test::f32_tensor({2, 3, 4, 5}, -1, 1, 1);
  const Tensor b = elt_test::f32_tensor({3, 4}, -1, 1, 2);
  elt_test::OpRun r = run_op("Add", {a, b}, {Attribute::make_int("broadcast", 1), Attribute::make_int("axis", 1)}, 6);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  Tensor want(DType::kF32, a.shape());
  binary_ref(a.data<float>(), a.shape(), b.data<float>(), Shape{3, 4, 1}, want.mutable_data<float>(), a.shape(),
             AddOp{});
  EXPECT_TRUE(elt_test::same_bytes(r.outputs[0], want, "Add opset 6 axis 1"));
  // Without axis, B aligns with A's trailing dims.
  const Tensor c = elt_test::f32_tensor({4, 5}, -1, 1, 3);
  elt_test::OpRun s = run_op("Mul", {a, c}, {Attribute::make_int("broadcast", 1)}, 6);
  ASSERT_TRUE(s.status.is_ok()) << s.status.message();
  EXPECT_EQ(s.outputs[0].shape(), a.shape());
  // A shape that does not fit is an error naming the shapes.
  elt_test::OpRun bad = run_op("Add", {a, c}, {Attribute::make_int("broadcast", 1), Attribute::make_int("axis", 0)}, 6);
  EXPECT_FALSE(bad.status.is_ok());
  EXPECT_NE(bad.status.message().find("[2, 3, 4, 5]"), std::string::npos) << bad.status.message();
}

TEST(EltBinary, IncompatibleShapesAndDtypes) {
  elt_test::OpRun r = run_op("Add", {elt_test::f32_tensor({2, 3}, 0, 1, 1), elt_test::f32_tensor({4}, 0, 1, 2)});
  EXPECT_FALSE(r.status.is_ok());
  EXPECT_NE(r.status.message().find("[2, 3] and [4]"), std::string::npos) << r.status.message();
  elt_test::OpRun d = run_op("Add", {elt_test::f32_tensor({2}, 0, 1, 1), Tensor::from_vector<double>({1, 2}, {2})});
  EXPECT_FALSE(d.status.is_ok());
}

TEST(EltBinary, PowMixedDtypesWriteTheBaseDtype) {
  const Tensor base = Tensor::from_vector<int32_t>({2, 3, -4, 5}, {4});
  const Tensor expo = Tensor::from_vector<float>({0.5f, 2.0f, 3.0f, -1.0f}, {4});
  elt_test::OpRun r = run_op("Pow", {base, expo}, {}, 15);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  ASSERT_EQ(r.outputs[0].dtype(), DType::kI32);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(r.outputs[0].data<int32_t>()[i],
              static_cast<int32_t>(std::trunc(std::pow(double(base.data<int32_t>()[i]), double(expo.data<float>()[i])))));
  const Tensor fb = elt_test::f32_tensor({3, 7}, 0.1f, 3, 6);
  const Tensor fe = Tensor::from_vector<int64_t>({2}, {1});
  elt_test::OpRun s = run_op("Pow", {fb, fe}, {}, 15);
  ASSERT_TRUE(s.status.is_ok()) << s.status.message();
  for (int64_t i = 0; i < fb.numel(); ++i) {
    const double v = fb.data<float>()[i];
    EXPECT_EQ(s.outputs[0].data<float>()[i], static_cast<float>(v * v));
  }
}

TEST(EltBinary, BitShift) {
  const Tensor x = Tensor::from_vector<uint8_t>({1, 2, 255, 16}, {4});
  const Tensor s = Tensor::from_vector<uint8_t>({1, 3, 1, 9}, {4});
  elt_test::OpRun l = run_op("BitShift", {x, s}, {Attribute::make_string("direction", "LEFT")});
  elt_test::OpRun r = run_op("BitShift", {x, s}, {Attribute::make_string("direction", "RIGHT")});
  ASSERT_TRUE(l.status.is_ok() && r.status.is_ok());
  for (int i = 0; i < 4; ++i) {
    const unsigned v = x.data<uint8_t>()[i], k = s.data<uint8_t>()[i];
    EXPECT_EQ(l.outputs[0].data<uint8_t>()[i], k >= 8 ? 0 : static_cast<uint8_t>(v << k));
    EXPECT_EQ(r.outputs[0].data<uint8_t>()[i], k >= 8 ? 0 : static_cast<uint8_t>(v >> k));
  }
  EXPECT_FALSE(run_op("BitShift", {x, s}, {Attribute::make_string("direction", "UP")}).status.is_ok());
}

// ---- comparisons, logic ----

TEST(EltCompare, MatchesReferenceAndHandlesNaN) {
  const Tensor a = elt_test::f32_tensor({3, 13, 5}, -2, 2, 1);
  Tensor b = elt_test::f32_tensor({13, 1}, -2, 2, 2);
  b.mutable_data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  struct Cmp {
    const char* op;
    bool (*f)(float, float);
  };
  const Cmp cmps[] = {{"Less", [](float x, float y) { return x < y; }},
                      {"Greater", [](float x, float y) { return x > y; }},
                      {"Equal", [](float x, float y) { return x == y; }},
                      {"LessOrEqual", [](float x, float y) { return x <= y; }},
                      {"GreaterOrEqual", [](float x, float y) { return x >= y; }}};
  for (const Cmp& c : cmps) {
    elt_test::OpRun r = run_op(c.op, {a, b});
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    ASSERT_EQ(r.outputs[0].dtype(), DType::kBool);
    Tensor want(DType::kBool, a.shape());
    binary_ref(a.data<float>(), a.shape(), b.data<float>(), b.shape(), want.mutable_data<bool>(), a.shape(), c.f);
    EXPECT_TRUE(elt_test::same_bytes(r.outputs[0], want, c.op));
  }
}

TEST(EltLogic, TruthTablesWithBroadcast) {
  const Tensor a = Tensor::from_vector<bool>({false, false, true, true}, {4, 1});
  const Tensor b = Tensor::from_vector<bool>({false, true}, {2});
  elt_test::OpRun r_and = run_op("And", {a, b}), r_or = run_op("Or", {a, b}), r_xor = run_op("Xor", {a, b});
  elt_test::OpRun r_not = run_op("Not", {a});
  ASSERT_TRUE(r_and.status.is_ok() && r_or.status.is_ok() && r_xor.status.is_ok() && r_not.status.is_ok());
  ASSERT_EQ(r_and.outputs[0].shape(), (Shape{4, 2}));
  for (int i = 0; i < 4; ++i) {
    const bool x = a.data<bool>()[i];
    EXPECT_EQ(r_not.outputs[0].data<bool>()[i], !x);
    for (int j = 0; j < 2; ++j) {
      const bool y = b.data<bool>()[j];
      EXPECT_EQ(r_and.outputs[0].data<bool>()[i * 2 + j], x && y);
      EXPECT_EQ(r_or.outputs[0].data<bool>()[i * 2 + j], x || y);
      EXPECT_EQ(r_xor.outputs[0].data<bool>()[i * 2 + j], x != y);
    }
  }
  EXPECT_EQ(run_op("And", {elt_test::f32_tensor({2}, 0, 1, 1), elt_test::f32_tensor({2}, 0, 1, 2)}).status.code(),
            StatusCode::kUnsupported);
}

TEST(EltLogic, IsNaNIsInf) {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x = Tensor::from_vector<float>({1.0f, inf, -inf, std::nanf("")}, {4});
  elt_test::OpRun nan = run_op("IsNaN", {x});
  elt_test::OpRun pos = run_op("IsInf", {x}, {Attribute::make_int("detect_negative", 0)});
  ASSERT_TRUE(nan.status.is_ok() && pos.status.is_ok());
  for (int i = 0; i < 4; ++i) {
    const float v = x.data<float>()[i];
    EXPECT_EQ(nan.outputs[0].data<bool>()[i], std::isnan(v));
    EXPECT_EQ(pos.outputs[0].data<bool>()[i], v == inf);
  }
}

// ---- variadic ----

TEST(EltVariadic, FoldsLeftToRightWithBroadcast) {
  const Tensor a = elt_test::f32_tensor({13, 1, 7}, -3, 3, 1);
  const Tensor b = elt_test::f32_tensor({127, 1}, -3, 3, 2);
  const Tensor c = elt_test::f32_tensor({7}, -3, 3, 3);
  const Shape ys = {13, 127, 7};
  Tensor ab(DType::kF32, ys), want(DType::kF32, ys);
  binary_ref(a.data<float>(), a.shape(), b.data<float>(), b.shape(), ab.mutable_data<float>(), ys, AddOp{});
  binary_ref(ab.data<float>(), ys, c.data<float>(), c.shape(), want.mutable_data<float>(), ys, AddOp{});
  for (int threads : {1, 2}) {
    elt_test::OpRun sum = run_op("Sum", {a, b, c}, {}, 13, threads);
    ASSERT_TRUE(sum.status.is_ok()) << sum.status.message();
    EXPECT_TRUE(elt_test::same_bytes(sum.outputs[0], want, "Sum threads=" + std::to_string(threads)));
  }
  elt_test::OpRun mean = run_op("Mean", {a, b, c});
  ASSERT_TRUE(mean.status.is_ok());
  for (int64_t i = 0; i < want.numel(); ++i)
    ASSERT_EQ(mean.outputs[0].data<float>()[i], want.data<float>()[i] / 3.0f) << i;
  elt_test::OpRun one = run_op("Max", {a});
  ASSERT_TRUE(one.status.is_ok());
  EXPECT_TRUE(elt_test::same_bytes(one.outputs[0], a, "Max of one input"));
}

TEST(EltVariadic, MaxMinPropagateNaNAndKeepIntegers) {
  const Tensor a = Tensor::from_vector<float>({1.0f, std::nanf(""), 3.0f}, {3});
  const Tensor b = Tensor::from_vector<float>({std::nanf(""), 2.0f, 1.0f}, {3});
  for (const char* op : {"Max", "Min"}) {
    elt_test::OpRun r = run_op(op, {a, b});
    ASSERT_TRUE(r.status.is_ok());
    EXPECT_TRUE(std::isnan(r.outputs[0].data<float>()[0]) && std::isnan(r.outputs[0].data<float>()[1])) << op;
  }
  const Tensor i = Tensor::from_vector<int64_t>({INT64_MAX, -3}, {2});
  const Tensor j = Tensor::from_vector<int64_t>({INT64_MAX - 1, 4}, {2});
  elt_test::OpRun mx = run_op("Max", {i, j});
  ASSERT_TRUE(mx.status.is_ok());
  EXPECT_EQ(mx.outputs[0].data<int64_t>()[0], INT64_MAX);
  EXPECT_EQ(mx.outputs[0].data<int64_t>()[1], 4);
  EXPECT_EQ(run_op("Mean", {i, j}).status.code(), StatusCode::kUnsupported);
}

// ---- Clip, PRelu ----

TEST(EltActivation, ClipAttributesBeforeOpset11InputsAfter) {
  const Tensor x = elt_test::f32_tensor({3, 13}, -5, 5, 1);
  elt_test::OpRun v6 = run_op("Clip", {x}, {Attribute::make_float("min", -1), Attribute::make_float("max", 2)}, 6);
  elt_test::OpRun v13 = run_op("Clip", {x, Tensor::scalar<float>(-1), Tensor::scalar<float>(2)}, {}, 13);
  ASSERT_TRUE(v6.status.is_ok() && v13.status.is_ok()) << v6.status.message() << v13.status.message();
  EXPECT_TRUE(elt_test::same_bytes(v6.outputs[0], v13.outputs[0], "Clip 6 vs 13"));
  for (int64_t i = 0; i < x.numel(); ++i)
    EXPECT_EQ(v13.outputs[0].data<float>()[i], std::min(std::max(x.data<float>()[i], -1.0f), 2.0f));
  // Only max given (min absent), int8.
  const Tensor xi = Tensor::from_vector<int8_t>({-100, 0, 100}, {3});
  elt_test::OpRun hi = run_op("Clip", {xi, Tensor(), Tensor::scalar<int8_t>(50)}, {}, 13);
  ASSERT_TRUE(hi.status.is_ok()) << hi.status.message();
  EXPECT_EQ(hi.outputs[0].data<int8_t>()[0], -100);
  EXPECT_EQ(hi.outputs[0].data<int8_t>()[2], 50);
  elt_test::OpRun bad = run_op("Clip", {x, Tensor::from_vector<float>({0, 1}, {2})}, {}, 13);
  EXPECT_FALSE(bad.status.is_ok());
}

TEST(EltActivation, PReluSlopeBroadcastsOntoX) {
  const Tensor x = elt_test::f32_tensor({2, 3, 4, 5}, -2, 2, 1);
  const Tensor slope = elt_test::f32_tensor({3, 1, 1}, 0, 1, 2);
  elt_test::OpRun r = run_op("PRelu", {x, slope}, {}, 16);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  Tensor want(DType::kF32, x.shape());
  binary_ref(x.data<float>(), x.shape(), slope.data<float>(), slope.shape(), want.mutable_data<float>(), x.shape(),
             PReluOp{});
  EXPECT_TRUE(elt_test::same_bytes(r.outputs[0], want, "PRelu"));
  // Per-channel [C] slope of old models is read as [C, 1, 1].
  const Tensor per_channel = slope.reshaped({3});
  elt_test::OpRun old = run_op("PRelu", {x, per_channel}, {}, 6);
  ASSERT_TRUE(old.status.is_ok()) << old.status.message();
  EXPECT_TRUE(elt_test::same_bytes(old.outputs[0], want, "PRelu per-channel slope"));
  // A slope that would grow X is refused.
  elt_test::OpRun bad = run_op("PRelu", {elt_test::f32_tensor({3}, 0, 1, 1), elt_test::f32_tensor({2, 3}, 0, 1, 2)});
  EXPECT_FALSE(bad.status.is_ok());
}

TEST(EltActivation, AttributesReachTheKernel) {
  const Tensor x = elt_test::f32_tensor({64}, -3, 3, 1);
  elt_test::OpRun r = run_op("LeakyRelu", {x}, {Attribute::make_float("alpha", 0.25f)});
  ASSERT_TRUE(r.status.is_ok());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.data<float>()[i];
    EXPECT_EQ(r.outputs[0].data<float>()[i], v < 0 ? 0.25f * v : v);
  }
  elt_test::OpRun g = run_op("Gelu", {x}, {Attribute::make_string("approximate", "tanh")}, 20);
  ASSERT_TRUE(g.status.is_ok()) << g.status.message();
  std::vector<float> want(64);
  unary_ref(UnaryOp::kGeluTanh, UnaryParams{}, x.data<float>(), want.data(), 64);
  EXPECT_TRUE(elt_test::values_close(g.outputs[0].data<float>(), want.data(), 64, 3e-5, 1e-36, "Gelu tanh"));
  EXPECT_EQ(run_op("Gelu", {x}, {}, 17).status.code(), StatusCode::kUnsupported);  // Gelu is opset 20
  EXPECT_FALSE(run_op("Gelu", {x}, {Attribute::make_string("approximate", "fast")}, 20).status.is_ok());
}

}  // namespace
}  // namespace bitsmith
