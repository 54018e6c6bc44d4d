// Op-level tests of the data-movement kernels: Pad modes and opset forms, Resize vs Upsample,
// Expand / Tile / Where broadcasting, Range, TopK against a stable sort, and thread-count
// independence of the parallel kernels.
#include <algorithm>
#include <numeric>

#include "runtime/kernels_shape_test_util.h"

namespace bitsmith::shape_test {
namespace {

// 1-D int32 tensor from values.
Tensor i32s(const std::vector<int32_t>& v) { return Tensor::from_vector<int32_t>(v, {static_cast<int64_t>(v.size())}); }

TEST(ShapeKernelsMovement, PadModesOnOneDimMatchTheirDefinitions) {
  const Tensor x = random_tensor(DType::kI32, {6}, 1);
  const int32_t* v = x.data<int32_t>();
  const int n = 6, p = 4, q = 3;
  std::vector<int32_t> edge, reflect, wrap;
  for (int i = -p; i < n + q; ++i) {
    edge.push_back(v[std::clamp(i, 0, n - 1)]);
    int r = i < 0 ? -i : i;                // mirror at 0 without repeating the edge
    if (r >= n) r = 2 * (n - 1) - r;       // mirror at n - 1 (p, q < n here)
    reflect.push_back(v[r]);
    wrap.push_back(v[(i + n) % n]);
  }
  const std::pair<const char*, std::vector<int32_t>*> modes[] = {{"edge", &edge}, {"reflect", &reflect}, {"wrap", &wrap}};
  for (const auto& [mode, want] : modes) {
    OpResult r = run_op("Pad", {x, i64s({p, q})}, {Attribute::make_string("mode", mode)}, 13);
    ASSERT_TRUE(r.status.is_ok()) << mode << ": " << r.status.message();
    EXPECT_TRUE(same_tensor(r.outputs[0], i32s(*want), mode));
  }
}

TEST(ShapeKernelsMovement, PadAttributeFormNegativePadsAndAxes) {
  const Tensor x = random_tensor(DType::kF32, {3, 5, 4}, 2);
  const std::vector<int64_t> pads = {0, 2, 1, 1, 0, 3};
  OpResult a = run_op("Pad", {x}, {Attribute::make_ints("pads", pads), Attribute::make_float("value", 1.25f)}, 2);
  OpResult b = run_op("Pad", {x, i64s(pads), Tensor::scalar<float>(1.25f)}, {}, 13);
  ASSERT_TRUE(a.status.is_ok() && b.status.is_ok()) << a.status.message() << b.status.message();
  EXPECT_TRUE(same_tensor(a.outputs[0], b.outputs[0], "pad-2 vs pad-13"));
  EXPECT_EQ(a.outputs[0].data<float>()[0], 1.25f);
  // Negative pads crop exactly like Slice.
  OpResult crop = run_op("Pad", {x, i64s({-1, 0, -1, 0, -2, 0})}, {}, 13);
  OpResult sl = run_op("Slice", {x, i64s({1, 0, 1}), i64s({3, 3, 4})}, {}, 13);
  ASSERT_TRUE(crop.status.is_ok() && sl.status.is_ok());
  EXPECT_TRUE(same_tensor(crop.outputs[0], sl.outputs[0], "negative pads"));
  // Opset 18 axes: pads for the listed axes only.
  OpResult ax = run_op("Pad", {x, i64s({2, 3}), Tensor(), i64s({-1})}, {Attribute::make_string("mode", "edge")}, 18);
  OpResult full = run_op("Pad", {x, i64s({0, 0, 2, 0, 0, 3})}, {Attribute::make_string("mode", "edge")}, 13);
  ASSERT_TRUE(ax.status.is_ok() && full.status.is_ok()) << ax.status.message();
  EXPECT_TRUE(same_tensor(ax.outputs[0], full.outputs[0], "pad axes"));
  EXPECT_FALSE(run_op("Pad", {x, i64s({0, 0})}, {}, 13).status.is_ok());
  EXPECT_FALSE(run_op("Pad", {x}, {Attribute::make_string("mode", "mirror")}, 13).status.is_ok());
}

TEST(ShapeKernelsMovement, UpsampleAndResizeNearestAgreeForIntegerScales) {
  const Tensor x = random_tensor(DType::kF32, {1, 2, 3, 4}, 3);
  const Tensor scales = Tensor::from_vector<float>({1.f, 1.f, 2.f, 3.f}, {4});
  OpResult up7 = run_op("Upsample", {x}, {Attribute::make_floats("scales", {1.f, 1.f, 2.f, 3.f})}, 7);
  OpResult up9 = run_op("Upsample", {x, scales}, {}, 9);
  OpResult r10 = run_op("Resize", {x, scales}, {}, 10);
  OpResult r13 = run_op("Resize", {x, Tensor(), scales}, {Attribute::make_string("coordinate_transformation_mode", "asymmetric"),
                                                          Attribute::make_string("nearest_mode", "floor")}, 13);
  ASSERT_TRUE(up7.status.is_ok() && up9.status.is_ok() && r10.status.is_ok() && r13.status.is_ok());
  EXPECT_EQ(up7.outputs[0].shape(), (Shape{1, 2, 6, 12}));
  EXPECT_TRUE(same_tensor(up9.outputs[0], up7.outputs[0], "upsample-9"));
  EXPECT_TRUE(same_tensor(r10.outputs[0], up7.outputs[0], "resize-10"));
  EXPECT_TRUE(same_tensor(r13.outputs[0], up7.outputs[0], "resize-13"));
  // Element (h, w) of the output is input (h / 2, w / 3).
  for (int64_t h = 0; h < 6; ++h)
    for (int64_t w = 0; w < 12; ++w)
      ASSERT_EQ(up7.outputs[0].data<float>()[12 + h * 12 + w + 60], x.data<float>()[12 + (h / 2) * 4 + w / 3]);
}

TEST(ShapeKernelsMovement, ResizeIntegerLinearRoundsTheFloatResult) {
  const Tensor xf = random_tensor(DType::kF32, {1, 1, 5, 7}, 4);
  Tensor xi(DType::kI32, xf.shape());
  for (int64_t i = 0; i < xf.numel(); ++i) xi.mutable_data<int32_t>()[i] = static_cast<int32_t>(xf.data<float>()[i] * 10);
  Tensor xd(DType::kF64, xf.shape());
  for (int64_t i = 0; i < xf.numel(); ++i) xd.mutable_data<double>()[i] = xi.data<int32_t>()[i];
  const Tensor sizes = i64s({1, 1, 8, 4});
  const std::vector<Attribute> attrs = {Attribute::make_string("mode", "linear")};
  OpResult ri = run_op("Resize", {xi, Tensor(), Tensor(), sizes}, attrs, 13);
  OpResult rd = run_op("Resize", {xd, Tensor(), Tensor(), sizes}, attrs, 13);
  ASSERT_TRUE(ri.status.is_ok() && rd.status.is_ok()) << ri.status.message();
  for (int64_t i = 0; i < ri.outputs[0].numel(); ++i)
    EXPECT_EQ(ri.outputs[0].data<int32_t>()[i], static_cast<int32_t>(std::nearbyint(rd.outputs[0].data<double>()[i])));
  EXPECT_FALSE(run_op("Resize", {xd, Tensor(), Tensor(), i64s({1, 8, 4})}, attrs, 13).status.is_ok());
  EXPECT_FALSE(run_op("Resize", {xd, Tensor(), Tensor(), sizes}, {Attribute::make_string("mode", "area")}, 13).status.is_ok());
}

TEST(ShapeKernelsMovement, ExpandTileAndWhereBroadcast) {
  const Tensor col = random_tensor(DType::kI16, {3, 1}, 5);
  OpResult e = run_op("Expand", {col, i64s({2, 1, 4})});
  OpResult t = run_op("Tile", {col.reshaped({1, 3, 1}), i64s({2, 1, 4})});
  ASSERT_TRUE(e.status.is_ok() && t.status.is_ok());
  EXPECT_EQ(e.outputs[0].shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(same_tensor(e.outputs[0], t.outputs[0], "expand vs tile"));

  const Tensor cond = random_tensor(DType::kBool, {4, 1, 5}, 6);
  const Tensor x = random_tensor(DType::kF64, {3, 1}, 7);
  const Tensor y = random_tensor(DType::kF64, {5}, 8);
  OpResult w = run_op("Where", {cond, x, y});
  ASSERT_TRUE(w.status.is_ok());
  ASSERT_EQ(w.outputs[0].shape(), (Shape{4, 3, 5}));
  for (int64_t a = 0; a < 4; ++a)
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t c = 0; c < 5; ++c) {
        const double want = cond.data<uint8_t>()[a * 5 + c] ? x.data<double>()[b] : y.data<double>()[c];
        ASSERT_EQ(w.outputs[0].data<double>()[(a * 3 + b) * 5 + c], want);
      }
}

TEST(ShapeKernelsMovement, RangeCountsAndValues) {
  OpResult f = run_op("Range", {Tensor::scalar<float>(1.f), Tensor::scalar<float>(2.f), Tensor::scalar<float>(0.3f)}, {}, 11);
  ASSERT_TRUE(f.status.is_ok());
  ASSERT_EQ(f.outputs[0].numel(), 4);  // ceil((2 - 1) / 0.3)
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(f.outputs[0].data<float>()[i], 1.f + static_cast<float>(i) * 0.3f);
  OpResult n = run_op("Range", {Tensor::scalar<int64_t>(10), Tensor::scalar<int64_t>(-3), Tensor::scalar<int64_t>(-4)}, {}, 11);
  ASSERT_TRUE(n.status.is_ok());
  EXPECT_TRUE(same_tensor(n.outputs[0], i64s({10, 6, 2, -2}), "negative delta"));
  OpResult empty = run_op("Range", {Tensor::scalar<int32_t>(5), Tensor::scalar<int32_t>(1), Tensor::scalar<int32_t>(2)}, {}, 11);
  ASSERT_TRUE(empty.status.is_ok());
  EXPECT_EQ(empty.outputs[0].numel(), 0);
  EXPECT_FALSE(run_op("Range", {Tensor::scalar<int32_t>(0), Tensor::scalar<int32_t>(1), Tensor::scalar<int32_t>(0)}, {}, 11).status.is_ok());
}

// TopK reference: stable sort of each line (ties keep the lower index first).
void expect_topk_matches_stable_sort(const Tensor& x, int64_t axis, int64_t k, bool largest, int64_t opset) {
  std::vector<Attribute> attrs = {Attribute::make_int("axis", axis), Attribute::make_int("largest", largest ? 1 : 0)};
  std::vector<Tensor> ins = {x};
  if (opset >= 10) ins.push_back(i64s({k}));
  else attrs.push_back(Attribute::make_int("k", k));
  OpResult r = run_op("TopK", ins, attrs, opset, 2);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  const int64_t dim = x.dim(static_cast<int>(axis));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(static_cast<int>(d));
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(static_cast<int>(d));
  const int32_t* v = x.data<int32_t>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      std::vector<int64_t> order(dim);
      std::iota(order.begin(), order.end(), 0);
      auto at = [&](int64_t i) { return v[(o * dim + i) * inner + in]; };
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return largest ? at(a) > at(b) : at(a) < at(b); });
      for (int64_t j = 0; j < k; ++j) {
        const int64_t pos = (o * k + j) * inner + in;
        ASSERT_EQ(r.outputs[1].data<int64_t>()[pos], order[j]) << "line " << o << "," << in << " rank " << j;
        ASSERT_EQ(r.outputs[0].data<int32_t>()[pos], at(order[j]));
      }
    }
}

TEST(ShapeKernelsMovement, TopKMatchesStableSortWithTies) {
  Tensor x(DType::kI32, {4, 9, 3});
  std::mt19937 rng(9);
  for (int64_t i = 0; i < x.numel(); ++i) x.mutable_data<int32_t>()[i] = static_cast<int32_t>(rng() % 4);  // many ties
  for (int64_t axis : {0, 1, 2})
    for (bool largest : {true, false}) {
      expect_topk_matches_stable_sort(x, axis, 2, largest, 11);
      expect_topk_matches_stable_sort(x, axis, x.dim(static_cast<int>(axis)), largest, 11);
    }
  expect_topk_matches_stable_sort(x, 1, 5, true, 1);
  expect_topk_matches_stable_sort(x, 1, 5, true, 10);
  EXPECT_FALSE(run_op("TopK", {x, i64s({4})}, {Attribute::make_int("axis", 2)}, 11, 2).status.is_ok());
}

TEST(ShapeKernelsMovement, TriluKeepsTheRequestedTriangle) {
  const Tensor x = random_tensor(DType::kF32, {2, 4, 6}, 10);
  for (int64_t k : {-5, -1, 0, 2, 7})
    for (int upper : {0, 1}) {
      OpResult r = run_op("Trilu", {x, Tensor::scalar<int64_t>(k)}, {Attribute::make_int("upper", upper)}, 14);
      ASSERT_TRUE(r.status.is_ok());
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t i = 0; i < 4; ++i)
          for (int64_t j = 0; j < 6; ++j) {
            const int64_t p = (b * 4 + i) * 6 + j;
            const bool keep = upper ? j - i >= k : j - i <= k;
            ASSERT_EQ(r.outputs[0].data<float>()[p], keep ? x.data<float>()[p] : 0.f) << k << " " << upper;
          }
    }
}

TEST(ShapeKernelsMovement, NonZeroAndOneHotFollowTheirDefinitions) {
  const Tensor x = random_tensor(DType::kBool, {3, 4}, 11);
  OpResult nz = run_op("NonZero", {x}, {}, 13);
  ASSERT_TRUE(nz.status.is_ok());
  std::vector<int64_t> rows, cols;
  for (int64_t i = 0; i < 12; ++i)
    if (x.data<uint8_t>()[i]) rows.push_back(i / 4), cols.push_back(i % 4);
  const int64_t nnz = static_cast<int64_t>(rows.size());
  ASSERT_EQ(nz.outputs[0].shape(), (Shape{2, nnz}));
  for (int64_t j = 0; j < nnz; ++j) {
    EXPECT_EQ(nz.outputs[0].data<int64_t>()[j], rows[j]);
    EXPECT_EQ(nz.outputs[0].data<int64_t>()[nnz + j], cols[j]);
  }
  const Tensor idx = Tensor::from_vector<int64_t>({0, -1, 5, 2}, {2, 2});
  OpResult oh = run_op("OneHot", {idx, Tensor::scalar<int64_t>(4), Tensor::from_vector<float>({-1.f, 3.f}, {2})},
                       {Attribute::make_int("axis", 1)}, 11);
  ASSERT_TRUE(oh.status.is_ok()) << oh.status.message();
  ASSERT_EQ(oh.outputs[0].shape(), (Shape{2, 4, 2}));
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t d = 0; d < 4; ++d)
      for (int64_t b = 0; b < 2; ++b) {
        int64_t v = idx.data<int64_t>()[a * 2 + b];
        if (v < 0) v += 4;
        EXPECT_EQ(oh.outputs[0].data<float>()[(a * 4 + d) * 2 + b], v == d ? 3.f : -1.f);
      }
}

TEST(ShapeKernelsMovement, ParallelKernelsGiveTheSameBytesForAnyThreadCount) {
  const Tensor big = random_tensor(DType::kF32, {3, 61, 67, 7}, 12);
  const Tensor cond = random_tensor(DType::kBool, {61, 1, 7}, 13);
  struct Case {
    const char* op;
    std::vector<Tensor> inputs;
    std::vector<Attribute> attrs;
  };
  const std::vector<Case> cases = {
      {"Transpose", {big}, {Attribute::make_ints("perm", {2, 0, 3, 1})}},
      {"Slice", {big, i64s({1, 60}), i64s({60, 2}), i64s({1, 2}), i64s({2, -3})}, {}},
      {"Gather", {big, i64s({5, 0, 66, 7})}, {Attribute::make_int("axis", 2)}},
      {"Concat", {big, big}, {Attribute::make_int("axis", 2)}},
      {"Pad", {big, i64s({0, 2, 3, 1, 0, 1, 2, 3})}, {Attribute::make_string("mode", "reflect")}},
      {"Expand", {big.reshaped({3, 61, 1, 67, 7}), i64s({3, 61, 4, 67, 7})}, {}},
      {"Tile", {big, i64s({1, 2, 1, 3})}, {}},
      {"Where", {cond, big, Tensor::scalar<float>(0.f)}, {}},
      {"Resize", {big, Tensor(), Tensor::from_vector<float>({1.f, 1.f, 1.5f, 0.7f}, {4})}, {Attribute::make_string("mode", "linear")}},
      {"Cast", {big}, {Attribute::make_int("to", dtype_to_onnx(DType::kF16))}},
      {"Trilu", {big}, {}},
      {"TopK", {big, i64s({3})}, {Attribute::make_int("axis", 1)}},
      {"Einsum", {big, big}, {Attribute::make_string("equation", "abcd,abed->abce")}},
  };
  for (const Case& c : cases) {
    const size_t n_out = std::string(c.op) == "TopK" ? 2 : 1;
    OpResult one = run_op(c.op, c.inputs, c.attrs, 17, n_out, 1);
    OpResult four = run_op(c.op, c.inputs, c.attrs, 17, n_out, 4);
    ASSERT_TRUE(one.status.is_ok()) << c.op << ": " << one.status.message();
    ASSERT_TRUE(four.status.is_ok()) << c.op << ": " << four.status.message();
    for (size_t k = 0; k < n_out; ++k) EXPECT_TRUE(same_tensor(four.outputs[k], one.outputs[k], c.op));
  }
}

}  // namespace
}  // namespace bitsmith::shape_test
