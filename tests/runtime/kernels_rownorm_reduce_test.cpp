// Softmax / LogSoftmax / Hardmax (softmax.cpp), LayerNormalization (layernorm.cpp) and the
// reductions, ArgMax/ArgMin and CumSum (reduce.cpp): fast paths against the double-precision or
// scalar references on awkward shapes, bit-identical results at 1 and 2 threads, and the
// opset-dependent behaviour (axis semantics, axes attribute vs input).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/ref/reduce_ref.h"
#include "runtime/kernels/ref/rownorm_ref.h"
#include "elt_test_util.h"

namespace bitsmith {
namespace {

using elt_test::run_op;
using namespace kernels::elt;
using kernels::convert_float;
using kernels::narrow_from_f32;
using kernels::widen_to_f32;

const std::vector<int64_t> kRows = {1, 3, 13, 127};
const std::vector<int64_t> kCols = {1, 3, 13, 127, 1025};

// ---- softmax ----

// Error budget of the fast f32 softmax against the double reference, in units of eps = 2^-24
// relative: x - max rounded in float (|x - max| <= range, so up to range * eps absolute in the
// exponent, i.e. relative in the result), the vector exp (2 ulp), the fixed-order float sum
// (n/8 + 8 roundings of positive terms) and the final scaling (1 ulp).
double softmax_rtol(int64_t n, double range) { return (range + 12.0 + static_cast<double>(n) / 8.0) * 6e-8; }

TEST(EltSoftmax, FastRowsMatchReferenceOnAwkwardShapes) {
  for (int64_t rows : kRows) {
    for (int64_t n : kCols) {
      const std::vector<float> x = elt_test::random_floats(static_cast<size_t>(rows * n), -10, 10, 3);
      for (bool log : {false, true}) {
        std::vector<float> fast(x.size()), fast2(x.size()), ref(x.size());
        softmax_rows_f32(x.data(), fast.data(), rows, n, log, 1);
        softmax_rows_f32(x.data(), fast2.data(), rows, n, log, 2);
        softmax_ref(x.data(), ref.data(), rows, n, 1, log);
        EXPECT_EQ(fast, fast2) << "1 vs 2 threads, rows=" << rows << " n=" << n;
        // log-softmax values are differences of O(10) quantities: absolute budget.
        // Inputs span 20; log-softmax values are O(range) differences: absolute budget.
        const double rtol = log ? 0.0 : softmax_rtol(n, 20.0);
        const double atol = log ? softmax_rtol(n, 20.0) * 20.0 : 1e-30;
        EXPECT_TRUE(elt_test::values_close(fast.data(), ref.data(), rows * n, rtol, atol,
                                           std::string(log ? "LogSoftmax" : "Softmax") + " rows=" +
                                               std::to_string(rows) + " n=" + std::to_string(n)));
      }
    }
  }
}

TEST(EltSoftmax, KernelBitIdenticalAcrossThreadsAndStable) {
  Tensor x = elt_test::f32_tensor({37, 1031}, -5, 5, 4);
  x.mutable_data<float>()[5] = 1e4f;                                     // large value: no overflow
  x.mutable_data<float>()[1031 + 7] = -std::numeric_limits<float>::infinity();  // masked entry
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    elt_test::OpRun a = run_op(op, {x}, {}, 13, 1);
    elt_test::OpRun b = run_op(op, {x}, {}, 13, 2);
    ASSERT_TRUE(a.status.is_ok()) << a.status.message();
    EXPECT_TRUE(elt_test::same_bytes(a.outputs[0], b.outputs[0], op));
    for (int64_t i = 0; i < x.numel(); ++i) ASSERT_FALSE(std::isnan(a.outputs[0].data<float>()[i])) << op << " " << i;
  }
  elt_test::OpRun s = run_op("Softmax", {x}, {}, 13);
  EXPECT_EQ(s.outputs[0].data<float>()[5], 1.0f);
  EXPECT_EQ(s.outputs[0].data<float>()[1031 + 7], 0.0f);
}

TEST(EltSoftmax, OpsetBefore13CoercesTo2D) {
  const Tensor x = elt_test::f32_tensor({2, 3, 4}, -3, 3, 5);
  for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) {
    // opset 11, axis 1: rows of 12 = softmax over the flattened [3, 4] block.
    elt_test::OpRun v11 = run_op(op, {x}, {Attribute::make_int("axis", 1)}, 11);
    elt_test::OpRun v13 = run_op(op, {x.reshaped({2, 12})}, {}, 13);
    ASSERT_TRUE(v11.status.is_ok() && v13.status.is_ok()) << v11.status.message() << v13.status.message();
    EXPECT_TRUE(elt_test::same_bytes(v11.outputs[0].reshaped({2, 12}), v13.outputs[0], op));
    // The default axis is 1 before opset 13 and -1 from opset 13.
    elt_test::OpRun d11 = run_op(op, {x}, {}, 11);
    EXPECT_TRUE(elt_test::same_bytes(d11.outputs[0], v11.outputs[0], std::string(op) + " default axis"));
  }
}

TEST(EltSoftmax, MiddleAxisMatchesReference) {
  const Tensor x = elt_test::f32_tensor({3, 13, 7}, -4, 4, 6);
  elt_test::OpRun r = run_op("Softmax", {x}, {Attribute::make_int("axis", 1)}, 13, 2);
  ASSERT_TRUE(r.status.is_ok());
  std::vector<float> want(static_cast<size_t>(x.numel()));
  softmax_ref(x.data<float>(), want.data(), 3, 13, 7, false);
  EXPECT_TRUE(elt_test::values_close(r.outputs[0].data<float>(), want.data(), x.numel(), 0, 0, "axis 1"));
  elt_test::OpRun h = run_op("Hardmax", {x}, {Attribute::make_int("axis", -2)}, 13);
  ASSERT_TRUE(h.status.is_ok());
  hardmax_ref(x.data<float>(), want.data(), 3, 13, 7);
  EXPECT_TRUE(elt_test::values_close(h.outputs[0].data<float>(), want.data(), x.numel(), 0, 0, "Hardmax"));
  EXPECT_FALSE(run_op("Softmax", {x}, {Attribute::make_int("axis", 3)}, 13).status.is_ok());
}

// ---- layer normalization ----

TEST(EltLayerNorm, FastRowsMatchReferenceOnAwkwardShapes) {
  for (int64_t rows : kRows) {
    for (int64_t cols : kCols) {
      const std::vector<float> x = elt_test::random_floats(static_cast<size_t>(rows * cols), -4, 6, 7);
      const std::vector<float> scale = elt_test::random_floats(static_cast<size_t>(cols), 0.5f, 1.5f, 8);
      const std::vector<float> bias = elt_test::random_floats(static_cast<size_t>(cols), -1, 1, 9);
      std::vector<float> fast(x.size()), fast2(x.size()), ref(x.size()), mean(rows), inv(rows);
      std::vector<double> ref_mean(rows), ref_inv(rows);
      layernorm_rows_f32(x.data(), scale.data(), bias.data(), fast.data(), mean.data(), inv.data(), rows, cols,
                         1e-5f, 1);
      layernorm_rows_f32(x.data(), scale.data(), bias.data(), fast2.data(), nullptr, nullptr, rows, cols, 1e-5f, 2);
      EXPECT_EQ(fast, fast2) << "1 vs 2 threads, rows=" << rows << " cols=" << cols;
      layernorm_ref(x.data(), scale.data(), bias.data(), ref.data(), ref_mean.data(), ref_inv.data(), rows, cols,
                    1e-5);
      const std::string what = "rows=" + std::to_string(rows) + " cols=" + std::to_string(cols);
      // Float sums of cols terms: mean/var relative error ~ (cols/8 + 8) eps; outputs are O(1)
      // after normalization, so the budget is absolute.
      const double tol = (static_cast<double>(cols) / 8.0 + 16.0) * 6e-8 * 10.0;
      EXPECT_TRUE(elt_test::values_close(fast.data(), ref.data(), rows * cols, 0, tol, what + " Y"));
      for (int64_t r = 0; r < rows; ++r) {
        EXPECT_NEAR(mean[r], ref_mean[r], tol) << what;
        EXPECT_NEAR(inv[r], ref_inv[r], tol * ref_inv[r]) << what;
      }
    }
  }
}

TEST(EltLayerNorm, KernelAxesOutputsAndThreads) {
  const Tensor x = elt_test::f32_tensor({3, 5, 129}, -2, 2, 1);
  for (int64_t axis : {-1, 1, 0, -3}) {
    const int a = axis < 0 ? static_cast<int>(axis) + 3 : static_cast<int>(axis);
    Shape norm(x.shape().begin() + a, x.shape().end());
    const Tensor scale = elt_test::f32_tensor(norm, 0.5f, 1.5f, 2);
    const Tensor bias = elt_test::f32_tensor(norm, -1, 1, 3);
    std::vector<Attribute> attrs = {Attribute::make_int("axis", axis), Attribute::make_float("epsilon", 1e-3f)};
    elt_test::OpRun r1 = run_op("LayerNormalization", {x, scale, bias}, attrs, 17, 1, 3);
    elt_test::OpRun r2 = run_op("LayerNormalization", {x, scale, bias}, attrs, 17, 2, 3);
    ASSERT_TRUE(r1.status.is_ok()) << r1.status.message();
    for (int k = 0; k < 3; ++k)
      EXPECT_TRUE(elt_test::same_bytes(r1.outputs[k], r2.outputs[k], "axis " + std::to_string(axis)));
    Shape stat(x.shape().begin(), x.shape().begin() + a);
    stat.resize(3, 1);
    EXPECT_EQ(r1.outputs[1].shape(), stat);
    EXPECT_EQ(r1.outputs[2].dtype(), DType::kF32);
    const int64_t rows = shape_numel(stat), cols = shape_numel(norm);
    std::vector<float> want(static_cast<size_t>(x.numel()));
    layernorm_ref(x.data<float>(), scale.data<float>(), bias.data<float>(), want.data(), nullptr, nullptr, rows, cols,
                  static_cast<double>(1e-3f));
    EXPECT_TRUE(elt_test::values_close(r1.outputs[0].data<float>(), want.data(), x.numel(), 0, 2e-5, "Y"));
  }
  // No bias; scale broadcast from [1, 129] onto [5, 129].
  const Tensor scale_row = elt_test::f32_tensor({1, 129}, 0.5f, 1.5f, 4);
  elt_test::OpRun nb = run_op("LayerNormalization", {x, scale_row}, {Attribute::make_int("axis", 1)});
  ASSERT_TRUE(nb.status.is_ok()) << nb.status.message();
  std::vector<float> full_scale;
  for (int i = 0; i < 5; ++i) full_scale.insert(full_scale.end(), scale_row.data<float>(), scale_row.data<float>() + 129);
  std::vector<float> want(static_cast<size_t>(x.numel()));
  layernorm_ref(x.data<float>(), full_scale.data(), static_cast<const float*>(nullptr), want.data(), nullptr, nullptr,
                3, 5 * 129, 1e-5);
  EXPECT_TRUE(elt_test::values_close(nb.outputs[0].data<float>(), want.data(), x.numel(), 0, 2e-5, "no bias"));
  EXPECT_FALSE(run_op("LayerNormalization", {x, elt_test::f32_tensor({7}, 0, 1, 1)}).status.is_ok());
}

TEST(EltLayerNorm, DoubleAndHalfInputs) {
  const Tensor x32 = elt_test::f32_tensor({4, 33}, -2, 2, 1);
  const Tensor s32 = elt_test::f32_tensor({33}, 0.5f, 1.5f, 2);
  elt_test::OpRun r64 = run_op("LayerNormalization", {convert_float(x32, DType::kF64), convert_float(s32, DType::kF64)},
                               {Attribute::make_int("stash_type", 11)}, 17, 1, 2);
  ASSERT_TRUE(r64.status.is_ok()) << r64.status.message();
  EXPECT_EQ(r64.outputs[0].dtype(), DType::kF64);
  EXPECT_EQ(r64.outputs[1].dtype(), DType::kF64);
  const Tensor x16 = narrow_from_f32(x32, DType::kF16), s16 = narrow_from_f32(s32, DType::kF16);
  elt_test::OpRun r16 = run_op("LayerNormalization", {x16, s16});
  elt_test::OpRun r32 = run_op("LayerNormalization", {widen_to_f32(x16), widen_to_f32(s16)});
  ASSERT_TRUE(r16.status.is_ok()) << r16.status.message();
  EXPECT_TRUE(elt_test::same_bytes(r16.outputs[0], narrow_from_f32(r32.outputs[0], DType::kF16), "f16"));
}

// ---- reductions ----

const ReduceOp kAllReduceOps[] = {ReduceOp::kSum, ReduceOp::kMean, ReduceOp::kMax, ReduceOp::kMin,
                                  ReduceOp::kProd, ReduceOp::kL1, ReduceOp::kL2, ReduceOp::kLogSum,
                                  ReduceOp::kLogSumExp, ReduceOp::kSumSquare};
const char* reduce_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "ReduceSum";
    case ReduceOp::kMean: return "ReduceMean";
    case ReduceOp::kMax: return "ReduceMax";
    case ReduceOp::kMin: return "ReduceMin";
    case ReduceOp::kProd: return "ReduceProd";
    case ReduceOp::kL1: return "ReduceL1";
    case ReduceOp::kL2: return "ReduceL2";
    case ReduceOp::kLogSum: return "ReduceLogSum";
    case ReduceOp::kLogSumExp: return "ReduceLogSumExp";
    case ReduceOp::kSumSquare: return "ReduceSumSquare";
  }
  return "";
}

// Runs a Reduce op the way its opset wants the axes (attribute up to 17, input for ReduceSum 13+).
elt_test::OpRun run_reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& axes, bool keepdims, int threads,
                           int64_t opset = 13) {
  std::vector<Attribute> attrs = {Attribute::make_int("keepdims", keepdims ? 1 : 0)};
  if (op == ReduceOp::kSum && opset >= 13) {
    if (axes.empty()) return run_op("ReduceSum", {x}, attrs, opset, threads);
    return run_op("ReduceSum", {x, Tensor::from_vector<int64_t>(axes, {static_cast<int64_t>(axes.size())})}, attrs,
                  opset, threads);
  }
  if (!axes.empty()) attrs.push_back(Attribute::make_ints("axes", axes));
  return run_op(reduce_name(op), {x}, attrs, opset, threads);
}

TEST(EltReduce, AllOpsMatchReferenceBitwise) {
  const Tensor x = elt_test::f32_tensor({3, 13, 1, 7, 5}, 0.5f, 1.5f, 3);  // positive: LogSum/Prod defined
  const std::vector<std::vector<int64_t>> axis_sets = {{}, {0}, {1}, {-1}, {1, 3}, {3, 4}, {0, 1}, {0, 2}, {0, 4}, {1, 2, 3}};
  for (ReduceOp op : kAllReduceOps) {
    for (const auto& axes : axis_sets) {
      for (bool keep : {true, false}) {
        std::vector<bool> mask(5, axes.empty());
        for (int64_t a : axes) mask[a < 0 ? a + 5 : a] = true;
        Shape y_shape;
        for (int d = 0; d < 5; ++d)
          if (!mask[d] || keep) y_shape.push_back(mask[d] ? 1 : x.dim(d));
        Tensor want(DType::kF32, y_shape);
        reduce_ref(op, x.data<float>(), x.shape(), mask, want.mutable_data<float>());
        std::string what = std::string(reduce_name(op)) + " axes=" + shape_str(axes) + " keepdims=" + (keep ? "1" : "0");
        for (int threads : {1, 2}) {
          elt_test::OpRun r = run_reduce(op, x, axes, keep, threads);
          ASSERT_TRUE(r.status.is_ok()) << what << ": " << r.status.message();
          EXPECT_TRUE(elt_test::same_bytes(r.outputs[0], want, what + " threads=" + std::to_string(threads)));
        }
      }
    }
  }
}

TEST(EltReduce, LargeRowAndColumnReductionsAcrossThreads) {
  const Tensor x = elt_test::f32_tensor({301, 1037}, -1, 1, 5);
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMean, ReduceOp::kMax, ReduceOp::kLogSumExp}) {
    for (int64_t axis : {0, 1}) {
      elt_test::OpRun a = run_reduce(op, x, {axis}, false, 1);
      elt_test::OpRun b = run_reduce(op, x, {axis}, false, 2);
      ASSERT_TRUE(a.status.is_ok()) << a.status.message();
      EXPECT_TRUE(elt_test::same_bytes(a.outputs[0], b.outputs[0], std::string(reduce_name(op)) + " axis " +
                                                                      std::to_string(axis)));
    }
  }
}

TEST(EltReduce, AxesAttributeVersusInputAndNoop) {
  const Tensor x = elt_test::f32_tensor({4, 6, 5}, -1, 1, 2);
  // ReduceSum: attribute at opset 11, input at opset 13; same result.
  elt_test::OpRun v11 = run_op("ReduceSum", {x}, {Attribute::make_ints("axes", {-2})}, 11);
  elt_test::OpRun v13 = run_op("ReduceSum", {x, Tensor::from_vector<int64_t>({1}, {1})}, {}, 13);
  ASSERT_TRUE(v11.status.is_ok() && v13.status.is_ok()) << v11.status.message() << v13.status.message();
  EXPECT_TRUE(elt_test::same_bytes(v11.outputs[0], v13.outputs[0], "ReduceSum 11 vs 13"));
  EXPECT_EQ(v13.outputs[0].shape(), (Shape{4, 1, 5}));
  // Empty axes: everything, or nothing with noop_with_empty_axes.
  elt_test::OpRun all = run_op("ReduceSum", {x, Tensor::from_vector<int64_t>({}, {0})}, {}, 13);
  EXPECT_EQ(all.outputs[0].shape(), (Shape{1, 1, 1}));
  elt_test::OpRun noop = run_op("ReduceSum", {x, Tensor::from_vector<int64_t>({}, {0})},
                                {Attribute::make_int("noop_with_empty_axes", 1)}, 13);
  ASSERT_TRUE(noop.status.is_ok());
  EXPECT_TRUE(elt_test::same_bytes(noop.outputs[0], x, "noop"));
  // ReduceMean takes axes as an input only from opset 18.
  elt_test::OpRun m18 = run_op("ReduceMean", {x, Tensor::from_vector<int64_t>({0, 2}, {2})},
                               {Attribute::make_int("keepdims", 0)}, 18);
  ASSERT_TRUE(m18.status.is_ok()) << m18.status.message();
  EXPECT_EQ(m18.outputs[0].shape(), (Shape{6}));
  EXPECT_FALSE(run_op("ReduceMax", {x}, {Attribute::make_ints("axes", {3})}, 13).status.is_ok());
}

TEST(EltReduce, IntegerAndEmptyReductions) {
  const Tensor x = Tensor::from_vector<int32_t>(elt_test::random_ints<int32_t>(60, -100, 100, 1), {3, 4, 5});
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kMin, ReduceOp::kProd, ReduceOp::kSumSquare}) {
    elt_test::OpRun r = run_reduce(op, x, {1}, true, 2, 13);
    ASSERT_TRUE(r.status.is_ok()) << reduce_name(op) << ": " << r.status.message();
    Tensor want(DType::kI32, {3, 1, 5});
    reduce_ref(op, x.data<int32_t>(), x.shape(), {false, true, false}, want.mutable_data<int32_t>());
    EXPECT_TRUE(elt_test::same_bytes(r.outputs[0], want, reduce_name(op)));
  }
  // Reducing an empty dim gives the identity of the op.
  const Tensor empty(DType::kF32, {2, 0, 3});
  elt_test::OpRun s = run_reduce(ReduceOp::kSum, empty, {1}, false, 1);
  elt_test::OpRun m = run_reduce(ReduceOp::kMax, empty, {1}, false, 1);
  ASSERT_TRUE(s.status.is_ok() && m.status.is_ok());
  EXPECT_EQ(s.outputs[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(s.outputs[0].data<float>()[0], 0.0f);
  EXPECT_EQ(m.outputs[0].data<float>()[0], -std::numeric_limits<float>::infinity());
}

// ---- ArgMax / ArgMin ----

TEST(EltArg, FirstOrLastExtremeAlongAxis) {
  // Few distinct values so ties are common.
  std::vector<float> v(4 * 9 * 6);
  const std::vector<int32_t> r = elt_test::random_ints<int32_t>(v.size(), 0, 3, 4);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(r[i]);
  const Tensor x = Tensor::from_vector<float>(v, {4, 9, 6});
  for (const char* op : {"ArgMax", "ArgMin"}) {
    const bool is_max = std::string(op) == "ArgMax";
    for (int last : {0, 1}) {
      elt_test::OpRun out = run_op(op, {x}, {Attribute::make_int("axis", -2), Attribute::make_int("keepdims", 0),
                                             Attribute::make_int("select_last_index", last)});
      ASSERT_TRUE(out.status.is_ok()) << out.status.message();
      ASSERT_EQ(out.outputs[0].shape(), (Shape{4, 6}));
      for (int o = 0; o < 4; ++o) {
        for (int j = 0; j < 6; ++j) {
          const int64_t k = out.outputs[0].data<int64_t>()[o * 6 + j];
          ASSERT_TRUE(k >= 0 && k < 9);
          const float best = v[(o * 9 + k) * 6 + j];
          for (int q = 0; q < 9; ++q) {
            const float c = v[(o * 9 + q) * 6 + j];
            EXPECT_TRUE(is_max ? c <= best : c >= best);
            if (c == best) {
              EXPECT_TRUE(last ? q <= k : q >= k) << op << " ties must pick the " << (last ? "last" : "first");
            }
          }
        }
      }
    }
  }
  elt_test::OpRun keep = run_op("ArgMax", {x}, {Attribute::make_int("axis", 2)});
  ASSERT_TRUE(keep.status.is_ok());
  EXPECT_EQ(keep.outputs[0].shape(), (Shape{4, 9, 1}));
  EXPECT_EQ(keep.outputs[0].dtype(), DType::kI64);
}

// ---- CumSum ----

TEST(EltCumSum, InclusiveExclusiveReverse) {
  const Tensor x = Tensor::from_vector<int64_t>(elt_test::random_ints<int64_t>(3 * 7 * 4, -20, 20, 5), {3, 7, 4});
  const Tensor axis = Tensor::scalar<int32_t>(-2);
  auto at = [](const Tensor& t, int o, int k, int j) { return t.data<int64_t>()[(o * 7 + k) * 4 + j]; };
  for (int excl : {0, 1}) {
    for (int rev : {0, 1}) {
      elt_test::OpRun r = run_op("CumSum", {x, axis},
                                 {Attribute::make_int("exclusive", excl), Attribute::make_int("reverse", rev)}, 14);
      ASSERT_TRUE(r.status.is_ok()) << r.status.message();
      const Tensor& y = r.outputs[0];
      for (int o = 0; o < 3; ++o) {
        for (int j = 0; j < 4; ++j) {
          // Walking in the summation order, each output adds the input just passed.
          for (int step = 0; step < 7; ++step) {
            const int k = rev ? 6 - step : step;
            const int prev = rev ? k + 1 : k - 1;
            const int64_t before = step == 0 ? 0 : at(y, o, prev, j) + (excl ? at(x, o, prev, j) : 0);
            EXPECT_EQ(at(y, o, k, j), before + (excl ? 0 : at(x, o, k, j)))
                << "excl=" << excl << " rev=" << rev << " o=" << o << " k=" << k << " j=" << j;
          }
        }
      }
    }
  }
  EXPECT_FALSE(run_op("CumSum", {x, Tensor::from_vector<int64_t>({0, 1}, {2})}, {}, 14).status.is_ok());
  EXPECT_FALSE(run_op("CumSum", {x, Tensor::scalar<int64_t>(3)}, {}, 14).status.is_ok());
}

}  // namespace
}  // namespace bitsmith
