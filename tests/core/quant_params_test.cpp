#include "bitsmith/core/quant_params.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace bitsmith {
namespace {

QuantParams make(DType qdtype, int axis, int64_t block, size_t n_scales, std::vector<int32_t> zps = {}) {
  QuantParams q;
  q.qdtype = qdtype;
  q.axis = axis;
  q.block_size = block;
  q.scales.assign(n_scales, 0.125f);
  q.zero_points = std::move(zps);
  return q;
}

void expect_invalid(const QuantParams& q, const Shape& shape, const std::string& fragment) {
  const Status s = q.validate(shape);
  ASSERT_FALSE(s.is_ok()) << "expected: " << fragment;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

TEST(QuantParams, ValidGranularities) {
  const Shape w = {8, 3, 5, 5};
  EXPECT_TRUE(make(DType::kI8, -1, 0, 1).validate(w).is_ok());
  EXPECT_TRUE(make(DType::kU8, -1, 0, 1, {128}).validate(w).is_ok());
  EXPECT_TRUE(make(DType::kI8, 0, 0, 8).validate(w).is_ok());
  EXPECT_TRUE(make(DType::kI8, 1, 0, 3, {0, -1, 127}).validate(w).is_ok());
  // Blocked along axis 2 of [8, 3, 5, 5] with B = 2: ceil(5 / 2) = 3 -> 8 * 3 * 3 * 5 scales.
  EXPECT_TRUE(make(DType::kI4, 2, 2, 8 * 3 * 3 * 5).validate(w).is_ok());
  EXPECT_TRUE(make(DType::kU4, 1, 3, 8 * 1 * 5 * 5, std::vector<int32_t>(200, 15)).validate(w).is_ok());
  EXPECT_TRUE(make(DType::kI16, -1, 0, 1, {-32768}).validate({}).is_ok());  // scalar tensor
}

TEST(QuantParams, ScaleCountMustMatchGranularity) {
  const Shape w = {8, 3, 5, 5};
  expect_invalid(make(DType::kI8, -1, 0, 2), w, "2 scales, expected 1");
  expect_invalid(make(DType::kI8, 0, 0, 3), w, "3 scales, expected 8");
  expect_invalid(make(DType::kI4, 2, 2, 8 * 3 * 2 * 5), w, "240 scales, expected 360");
  expect_invalid(make(DType::kI8, 4, 0, 1), w, "axis 4 out of range");
  expect_invalid(make(DType::kI8, -2, 0, 1), w, "axis -2 out of range");
  expect_invalid(make(DType::kI8, -1, 4, 1), w, "per-tensor with a block size");
  expect_invalid(make(DType::kI8, 0, -1, 8), w, "negative block size");
}

TEST(QuantParams, ScalesMustBePositiveAndFinite) {
  for (float bad : {0.f, -1.f, std::numeric_limits<float>::infinity(), std::nanf("")}) {
    QuantParams q = make(DType::kI8, -1, 0, 1);
    q.scales[0] = bad;
    expect_invalid(q, {4}, "is not positive and finite");
  }
}

TEST(QuantParams, ZeroPointsMustFitTheStorageType) {
  expect_invalid(make(DType::kI8, -1, 0, 1, {128}), {4}, "zero point 128 outside the i8 range");
  expect_invalid(make(DType::kU8, -1, 0, 1, {-1}), {4}, "zero point -1 outside the u8 range");
  expect_invalid(make(DType::kI4, -1, 0, 1, {8}), {4}, "outside the i4 range");
  expect_invalid(make(DType::kU4, -1, 0, 1, {16}), {4}, "outside the u4 range");
  expect_invalid(make(DType::kI8, 0, 0, 4, {0, 0}), {4, 2}, "2 zero points for 4 scales");
  EXPECT_TRUE(make(DType::kI4, -1, 0, 1, {-8}).validate({4}).is_ok());
  EXPECT_TRUE(make(DType::kU4, -1, 0, 1, {15}).validate({4}).is_ok());
}

TEST(QuantParams, QdtypeMustBeAnIntegerStorageType) {
  expect_invalid(make(DType::kF32, -1, 0, 1), {4}, "qdtype f32 is not an integer storage type");
  expect_invalid(make(DType::kBool, -1, 0, 1), {4}, "qdtype bool");
}

}  // namespace
}  // namespace bitsmith
