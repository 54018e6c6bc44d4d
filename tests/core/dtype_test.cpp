#include "bitsmith/core/dtype.h"

#include <gtest/gtest.h>

namespace bitsmith {
namespace {

TEST(DType, EveryRowRoundTripsThroughOnnxCodeAndName) {
  for (int i = 1; i < static_cast<int>(DType::kCount); ++i) {
    const DType t = static_cast<DType>(i);
    const auto& tr = traits(t);
    EXPECT_EQ(tr.dtype, t);
    ASSERT_TRUE(dtype_from_onnx(tr.onnx_code).has_value()) << tr.name;
    EXPECT_EQ(*dtype_from_onnx(tr.onnx_code), t) << tr.name;
    ASSERT_TRUE(dtype_from_name(tr.name).has_value()) << tr.name;
    EXPECT_EQ(*dtype_from_name(tr.name), t);
  }
  EXPECT_FALSE(dtype_from_onnx(0).has_value());
  EXPECT_FALSE(dtype_from_onnx(99).has_value());
  EXPECT_FALSE(dtype_from_name("int3").has_value());
}

TEST(DType, StorageBytesRoundUpSubByte) {
  EXPECT_EQ(storage_nbytes(DType::kF32, 3), 12u);
  EXPECT_EQ(storage_nbytes(DType::kI4, 3), 2u);
  EXPECT_EQ(storage_nbytes(DType::kU4, 4), 2u);
  EXPECT_EQ(storage_nbytes(DType::kString, 4), 0u);
  EXPECT_EQ(storage_nbytes(DType::kBool, 5), 5u);
}

}  // namespace
}  // namespace bitsmith
