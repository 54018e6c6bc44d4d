// Op-level tests of the shape kernels through the registry: opset variants the ONNX conformance
// cases do not cover (attributes vs inputs), Cast conversion rules, Constant attributes, Dropout
// masks, and error paths (a Status naming the node, never an abort).
#include <cmath>
#include <limits>

#include "bitsmith/core/half.h"
#include "runtime/kernels_shape_test_util.h"

namespace bitsmith::shape_test {
namespace {

TEST(ShapeKernelsOps, ReshapeCopiesZeroInfersMinusOneAndKeepsBytes) {
  const Tensor x = random_tensor(DType::kF32, {2, 3, 4}, 1);
  OpResult r = run_op("Reshape", {x, i64s({0, -1})}, {}, 14);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 12}));
  EXPECT_TRUE(same_tensor(r.outputs[0], x.reshaped({2, 12}), "reshape"));
  EXPECT_EQ(r.outputs[0].name(), "out0");

  const Tensor empty = random_tensor(DType::kF32, {0, 3}, 2);
  r = run_op("Reshape", {empty, i64s({3, 0})}, {Attribute::make_int("allowzero", 1)}, 14);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{3, 0}));
}

TEST(ShapeKernelsOps, ReshapeRejectsBadShapesWithNodeName) {
  const Tensor x = random_tensor(DType::kF32, {2, 3, 4}, 1);
  for (const std::vector<int64_t>& bad : std::vector<std::vector<int64_t>>{{-1, -1}, {5, -1}, {7, 3}, {-2, 12}, {0, 0, 0, 0}}) {
    OpResult r = run_op("Reshape", {x, i64s(bad)}, {}, 14);
    EXPECT_FALSE(r.status.is_ok()) << shape_str(bad);
    EXPECT_NE(r.status.message().find("node 'n0' (Reshape)"), std::string::npos) << r.status.message();
  }
}

TEST(ShapeKernelsOps, ReshapeOpset1ReadsShapeAttribute) {
  const Tensor x = random_tensor(DType::kI32, {6, 2}, 3);
  OpResult r = run_op("Reshape", {x}, {Attribute::make_ints("shape", {3, -1})}, 1);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_TRUE(same_tensor(r.outputs[0], x.reshaped({3, 4}), "reshape-1"));
}

TEST(ShapeKernelsOps, SqueezeUnsqueezeAttributeAndInputFormsAgree) {
  const Tensor x = random_tensor(DType::kF16, {1, 3, 1, 5}, 4);
  OpResult a = run_op("Squeeze", {x}, {Attribute::make_ints("axes", {0, -2})}, 11);
  OpResult b = run_op("Squeeze", {x, i64s({0, -2})}, {}, 13);
  OpResult all = run_op("Squeeze", {x}, {}, 13);
  ASSERT_TRUE(a.status.is_ok() && b.status.is_ok() && all.status.is_ok());
  EXPECT_TRUE(same_tensor(a.outputs[0], x.reshaped({3, 5}), "squeeze-11"));
  EXPECT_TRUE(same_tensor(b.outputs[0], x.reshaped({3, 5}), "squeeze-13"));
  EXPECT_TRUE(same_tensor(all.outputs[0], x.reshaped({3, 5}), "squeeze all"));
  EXPECT_FALSE(run_op("Squeeze", {x, i64s({1})}, {}, 13).status.is_ok());  // dim 3 is not 1

  const Tensor y = random_tensor(DType::kF16, {3, 5}, 5);
  OpResult c = run_op("Unsqueeze", {y}, {Attribute::make_ints("axes", {3, 0})}, 11);
  OpResult d = run_op("Unsqueeze", {y, i64s({-1, 0})}, {}, 13);
  ASSERT_TRUE(c.status.is_ok() && d.status.is_ok());
  EXPECT_TRUE(same_tensor(c.outputs[0], y.reshaped({1, 3, 5, 1}), "unsqueeze-11"));
  EXPECT_TRUE(same_tensor(d.outputs[0], y.reshaped({1, 3, 5, 1}), "unsqueeze-13"));
  EXPECT_FALSE(run_op("Unsqueeze", {y, i64s({0, 0})}, {}, 13).status.is_ok());  // repeated axis
}

TEST(ShapeKernelsOps, FlattenShapeShapeSize) {
  const Tensor x = random_tensor(DType::kU8, {2, 3, 4, 5}, 6);
  OpResult f = run_op("Flatten", {x}, {Attribute::make_int("axis", -1)});
  ASSERT_TRUE(f.status.is_ok());
  EXPECT_TRUE(same_tensor(f.outputs[0], x.reshaped({24, 5}), "flatten"));
  OpResult s = run_op("Shape", {x}, {Attribute::make_int("start", -3), Attribute::make_int("end", 3)}, 15);
  ASSERT_TRUE(s.status.is_ok());
  EXPECT_TRUE(same_tensor(s.outputs[0], i64s({x.dim(1), x.dim(2)}), "shape"));
  OpResult n = run_op("Size", {x});
  ASSERT_TRUE(n.status.is_ok());
  EXPECT_TRUE(same_tensor(n.outputs[0], Tensor::scalar<int64_t>(x.numel()), "size"));
}

TEST(ShapeKernelsOps, SplitAttributeInputAndNumOutputsForms) {
  const Tensor x = random_tensor(DType::kI64, {4, 7}, 7);
  OpResult a = run_op("Split", {x}, {Attribute::make_int("axis", 1), Attribute::make_ints("split", {2, 5})}, 11, 2);
  OpResult b = run_op("Split", {x, i64s({2, 5})}, {Attribute::make_int("axis", 1)}, 13, 2);
  ASSERT_TRUE(a.status.is_ok() && b.status.is_ok()) << a.status.message() << b.status.message();
  for (int k = 0; k < 2; ++k) EXPECT_TRUE(same_tensor(a.outputs[k], b.outputs[k], "split part"));
  // The parts concatenate back to the input.
  OpResult c = run_op("Concat", {a.outputs[0], a.outputs[1]}, {Attribute::make_int("axis", 1)});
  ASSERT_TRUE(c.status.is_ok());
  EXPECT_TRUE(same_tensor(c.outputs[0], x, "split + concat"));
  // Opset 18 num_outputs: ceil-sized parts, the last one smaller.
  OpResult d = run_op("Split", {x}, {Attribute::make_int("axis", 1), Attribute::make_int("num_outputs", 3)}, 18, 3);
  ASSERT_TRUE(d.status.is_ok()) << d.status.message();
  EXPECT_EQ(d.outputs[0].shape(), (Shape{4, 3}));
  EXPECT_EQ(d.outputs[2].shape(), (Shape{4, 1}));
  // Without sizes before opset 18 the axis must divide evenly.
  EXPECT_FALSE(run_op("Split", {x}, {Attribute::make_int("axis", 1)}, 13, 3).status.is_ok());
  EXPECT_FALSE(run_op("Split", {x, i64s({2, 4})}, {Attribute::make_int("axis", 1)}, 13, 2).status.is_ok());
}

TEST(ShapeKernelsOps, SliceAttributeFormMatchesInputForm) {
  const Tensor x = random_tensor(DType::kF32, {6, 9}, 8);
  OpResult a = run_op("Slice", {x},
                      {Attribute::make_ints("starts", {1, -7}), Attribute::make_ints("ends", {5, 1000}),
                       Attribute::make_ints("axes", {0, 1})},
                      9);
  OpResult b = run_op("Slice", {x, i64s({1, -7}), i64s({5, 1000}), i64s({0, 1})}, {}, 13);
  ASSERT_TRUE(a.status.is_ok() && b.status.is_ok());
  EXPECT_TRUE(same_tensor(a.outputs[0], b.outputs[0], "slice-9 vs slice-13"));
  EXPECT_EQ(a.outputs[0].shape(), (Shape{4, 7}));
  // Full reverse with extreme bounds.
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  OpResult r = run_op("Slice", {x, i64s({hi}), i64s({lo}), i64s({1}), i64s({-1})}, {}, 13);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 9; ++j)
      ASSERT_EQ(r.outputs[0].data<float>()[i * 9 + j], x.data<float>()[i * 9 + (8 - j)]);
  EXPECT_FALSE(run_op("Slice", {x, i64s({0}), i64s({3}), i64s({0}), i64s({0})}, {}, 13).status.is_ok());
}

TEST(ShapeKernelsOps, StringTensorsMoveThroughShapeOps) {
  const Tensor s = random_tensor(DType::kString, {3, 4}, 9);
  OpResult t = run_op("Transpose", {s});
  OpResult tt = run_op("Transpose", {t.outputs[0]});
  ASSERT_TRUE(t.status.is_ok() && tt.status.is_ok());
  EXPECT_TRUE(same_tensor(tt.outputs[0], s, "transpose twice"));
  OpResult g = run_op("Gather", {s, i64s({2, 0})}, {Attribute::make_int("axis", 1)});
  ASSERT_TRUE(g.status.is_ok());
  EXPECT_EQ(g.outputs[0].string_data()[0], s.string_data()[2]);
  EXPECT_EQ(g.outputs[0].string_data()[3], s.string_data()[4]);
  OpResult c = run_op("Concat", {s, s}, {Attribute::make_int("axis", 0)});
  ASSERT_TRUE(c.status.is_ok());
  EXPECT_EQ(c.outputs[0].string_data()[12], s.string_data()[0]);
  OpResult p = run_op("Pad", {s, i64s({0, 1, 0, 0})}, {}, 13);
  ASSERT_TRUE(p.status.is_ok()) << p.status.message();
  EXPECT_EQ(p.outputs[0].string_data()[0], "");
  EXPECT_EQ(p.outputs[0].string_data()[1], s.string_data()[0]);
}

// The Cast rule for float -> integer: truncate, clamp to the range, NaN -> 0.
template <class D>
D saturate(double v) {
  if (std::isnan(v)) return 0;
  const double t = std::trunc(v);
  if (t <= static_cast<double>(std::numeric_limits<D>::lowest())) return std::numeric_limits<D>::lowest();
  if (t >= static_cast<double>(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
  return static_cast<D>(t);
}

template <class D>
void expect_saturating_cast(const Tensor& x) {
  OpResult r = run_op("Cast", {x}, {Attribute::make_int("to", dtype_to_onnx(DTypeOf<D>::value))}, 13);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  for (int64_t i = 0; i < x.numel(); ++i)
    EXPECT_EQ(r.outputs[0].data<D>()[i], saturate<D>(x.data<float>()[i]))
        << dtype_name(DTypeOf<D>::value) << " from " << x.data<float>()[i];
}

TEST(ShapeKernelsOps, CastFloatToIntegerSaturatesAndMapsNanToZero) {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x = Tensor::from_vector<float>(
      {-1e30f, -129.7f, -128.f, -1.5f, -0.5f, 0.f, 0.7f, 127.9f, 255.5f, 300.f, 3e9f, 1e19f, inf, -inf, NAN}, {15});
  expect_saturating_cast<int8_t>(x);
  expect_saturating_cast<uint8_t>(x);
  expect_saturating_cast<int16_t>(x);
  expect_saturating_cast<int32_t>(x);
  expect_saturating_cast<uint32_t>(x);
  expect_saturating_cast<int64_t>(x);
  expect_saturating_cast<uint64_t>(x);
}

TEST(ShapeKernelsOps, CastHalfTypesRoundToNearestEven) {
  const Tensor x = random_tensor(DType::kF32, {257}, 10);
  OpResult h = run_op("Cast", {x}, {Attribute::make_int("to", dtype_to_onnx(DType::kF16))}, 13);
  OpResult b = run_op("Cast", {x}, {Attribute::make_int("to", dtype_to_onnx(DType::kBF16))}, 13);
  ASSERT_TRUE(h.status.is_ok() && b.status.is_ok());
  for (int64_t i = 0; i < x.numel(); ++i) {
    EXPECT_EQ(h.outputs[0].data<uint16_t>()[i], f32_to_f16(x.data<float>()[i]));
    EXPECT_EQ(b.outputs[0].data<uint16_t>()[i], f32_to_bf16(x.data<float>()[i]));
  }
  OpResult back = run_op("Cast", {h.outputs[0]}, {Attribute::make_int("to", dtype_to_onnx(DType::kF64))}, 13);
  ASSERT_TRUE(back.status.is_ok());
  for (int64_t i = 0; i < x.numel(); ++i)
    EXPECT_EQ(back.outputs[0].data<double>()[i], static_cast<double>(f16_to_f32(h.outputs[0].data<uint16_t>()[i])));
}

TEST(ShapeKernelsOps, CastBoolAndIntegerWidths) {
  const Tensor x = Tensor::from_vector<int32_t>({0, 1, -1, 256, 70000, -70000}, {6});
  OpResult b = run_op("Cast", {x}, {Attribute::make_int("to", dtype_to_onnx(DType::kBool))}, 13);
  OpResult s = run_op("Cast", {x}, {Attribute::make_int("to", dtype_to_onnx(DType::kI16))}, 13);
  ASSERT_TRUE(b.status.is_ok() && s.status.is_ok());
  for (int64_t i = 0; i < x.numel(); ++i) {
    EXPECT_EQ(b.outputs[0].data<uint8_t>()[i], x.data<int32_t>()[i] != 0 ? 1 : 0);
    EXPECT_EQ(s.outputs[0].data<int16_t>()[i], static_cast<int16_t>(x.data<int32_t>()[i]));  // wraps
  }
  OpResult f = run_op("Cast", {b.outputs[0]}, {Attribute::make_int("to", dtype_to_onnx(DType::kF32))}, 13);
  ASSERT_TRUE(f.status.is_ok());
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(f.outputs[0].data<float>()[i], x.data<int32_t>()[i] != 0 ? 1.f : 0.f);
  // Opset 1 names the target type.
  OpResult old = run_op("Cast", {x}, {Attribute::make_string("to", "INT64")}, 1);
  ASSERT_TRUE(old.status.is_ok()) << old.status.message();
  EXPECT_EQ(old.outputs[0].dtype(), DType::kI64);
}

TEST(ShapeKernelsOps, CastStringsRoundTripShortestForm) {
  const Tensor x = random_tensor(DType::kF32, {64}, 11);
  const int to_string = dtype_to_onnx(DType::kString), to_f32 = dtype_to_onnx(DType::kF32);
  OpResult s = run_op("Cast", {x}, {Attribute::make_int("to", to_string)}, 13);
  ASSERT_TRUE(s.status.is_ok());
  OpResult back = run_op("Cast", {s.outputs[0]}, {Attribute::make_int("to", to_f32)}, 13);
  ASSERT_TRUE(back.status.is_ok());
  EXPECT_TRUE(same_tensor(back.outputs[0], x, "f32 -> string -> f32"));
  const Tensor words = Tensor::strings({5}, {"INF", "+inf", "-INF", "NaN", "1E8"});
  OpResult w = run_op("Cast", {words}, {Attribute::make_int("to", to_f32)}, 13);
  ASSERT_TRUE(w.status.is_ok());
  const float* v = w.outputs[0].data<float>();
  EXPECT_TRUE(std::isinf(v[0]) && v[0] > 0 && std::isinf(v[1]) && v[1] > 0 && std::isinf(v[2]) && v[2] < 0);
  EXPECT_TRUE(std::isnan(v[3]));
  EXPECT_EQ(v[4], 1e8f);
  EXPECT_FALSE(run_op("Cast", {Tensor::strings({1}, {"hello"})}, {Attribute::make_int("to", to_f32)}, 13).status.is_ok());
}

TEST(ShapeKernelsOps, ConstantValueAttributes) {
  OpResult f = run_op("Constant", {}, {Attribute::make_floats("value_floats", {1.5f, -2.f})});
  ASSERT_TRUE(f.status.is_ok());
  EXPECT_TRUE(same_tensor(f.outputs[0], Tensor::from_vector<float>({1.5f, -2.f}, {2}), "value_floats"));
  OpResult i = run_op("Constant", {}, {Attribute::make_int("value_int", 42)});
  ASSERT_TRUE(i.status.is_ok());
  EXPECT_TRUE(same_tensor(i.outputs[0], Tensor::scalar<int64_t>(42), "value_int"));
  OpResult s = run_op("Constant", {}, {Attribute::make_string("value_string", "abc")});
  ASSERT_TRUE(s.status.is_ok());
  EXPECT_EQ(s.outputs[0].string_data().at(0), "abc");
  // sparse_value: two non-zeros in a 3x4 tensor, linear and coordinate index forms.
  for (bool coords : {false, true}) {
    Attribute a;
    a.name = "sparse_value";
    a.type = AttrType::kSparseTensor;
    a.sparse_tensor.values = Tensor::from_vector<float>({7.f, 9.f}, {2});
    a.sparse_tensor.indices = coords ? Tensor::from_vector<int64_t>({0, 1, 2, 3}, {2, 2})
                                     : Tensor::from_vector<int64_t>({1, 11}, {2});
    a.sparse_tensor.dims = {3, 4};
    OpResult sp = run_op("Constant", {}, {a});
    ASSERT_TRUE(sp.status.is_ok()) << sp.status.message();
    Tensor want(DType::kF32, {3, 4});
    want.mutable_data<float>()[1] = 7.f;
    want.mutable_data<float>()[11] = 9.f;
    EXPECT_TRUE(same_tensor(sp.outputs[0], want, coords ? "sparse coords" : "sparse linear"));
  }
  EXPECT_FALSE(run_op("Constant", {}, {}).status.is_ok());
}

TEST(ShapeKernelsOps, ConstantOfShapeFillsValue) {
  OpResult z = run_op("ConstantOfShape", {i64s({2, 3})}, {}, 9);
  ASSERT_TRUE(z.status.is_ok());
  EXPECT_TRUE(same_tensor(z.outputs[0], Tensor(DType::kF32, {2, 3}), "default zeros"));
  OpResult v = run_op("ConstantOfShape", {i64s({})}, {Attribute::make_tensor("value", Tensor::from_vector<int32_t>({5}, {1}))}, 9);
  ASSERT_TRUE(v.status.is_ok());
  EXPECT_TRUE(same_tensor(v.outputs[0], Tensor::scalar<int32_t>(5), "scalar fill"));
  EXPECT_FALSE(run_op("ConstantOfShape", {i64s({2, -1})}, {}, 9).status.is_ok());
}

TEST(ShapeKernelsOps, DropoutPassesThroughWithAllTrueMask) {
  const Tensor x = random_tensor(DType::kF32, {3, 5}, 12);
  OpResult r13 = run_op("Dropout", {x}, {}, 13, 2);
  ASSERT_TRUE(r13.status.is_ok());
  EXPECT_TRUE(same_tensor(r13.outputs[0], x, "output"));
  ASSERT_EQ(r13.outputs[1].dtype(), DType::kBool);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(r13.outputs[1].data<uint8_t>()[i], 1);
  OpResult r7 = run_op("Dropout", {x}, {Attribute::make_float("ratio", 0.3f)}, 7, 2);
  ASSERT_TRUE(r7.status.is_ok());
  ASSERT_EQ(r7.outputs[1].dtype(), DType::kF32);  // mask had the input type before opset 10
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(r7.outputs[1].data<float>()[i], 1.f);
  const Tensor on = Tensor::scalar<bool>(true);
  EXPECT_TRUE(run_op("Dropout", {x, Tensor::scalar<float>(0.f), on}, {}, 13, 2).status.is_ok());
  OpResult train = run_op("Dropout", {x, Tensor::scalar<float>(0.5f), on}, {}, 13, 2);
  EXPECT_EQ(train.status.code(), StatusCode::kUnsupported);
}

TEST(ShapeKernelsOps, ErrorsNameTheNodeInsteadOfAborting) {
  const Tensor a = random_tensor(DType::kF32, {2, 3}, 13);
  const Tensor b = random_tensor(DType::kF32, {2, 4}, 14);
  OpResult r = run_op("Concat", {a, b}, {Attribute::make_int("axis", 0)});
  ASSERT_FALSE(r.status.is_ok());
  EXPECT_NE(r.status.message().find("node 'n0' (Concat)"), std::string::npos) << r.status.message();
  EXPECT_FALSE(run_op("Gather", {a, i64s({2})}, {Attribute::make_int("axis", 0)}).status.is_ok());
  EXPECT_FALSE(run_op("Transpose", {a}, {Attribute::make_ints("perm", {0, 0})}).status.is_ok());
  EXPECT_FALSE(run_op("Transpose", {a}, {Attribute::make_ints("perm", {0})}).status.is_ok());
  EXPECT_FALSE(run_op("Flatten", {a}, {Attribute::make_int("axis", 3)}).status.is_ok());
  EXPECT_FALSE(run_op("Expand", {a, i64s({3, 3})}).status.is_ok());
  EXPECT_FALSE(run_op("Tile", {a, i64s({2})}).status.is_ok());
  EXPECT_FALSE(run_op("Reshape", {a}, {}, 14).status.is_ok());  // missing shape input
}

}  // namespace
}  // namespace bitsmith::shape_test
