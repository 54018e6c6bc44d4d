// QuantParams: what a quantizer computed for one tensor.
//
//   real = scale * (q - zero_point)
//
// Granularity is a field, not a dtype:
//   per-tensor: axis = -1, block_size = 0, one scale and one zero point;
//   per-axis:   axis = a, block_size = 0, shape[a] scales;
//   per-block:  axis = a, block_size = B, shape with dim a replaced by ceil(shape[a]/B) scales,
//               laid out row-major over that reduced shape (ONNX blocked DequantizeLinear).
// zero_points is empty for symmetric schemes (zero point 0) or has as many entries as scales.
#pragma once

#include <cstdint>
#include <vector>

#include "bitsmith/core/dtype.h"
#include "bitsmith/core/shape.h"
#include "bitsmith/core/status.h"

namespace bitsmith {

struct QuantParams {
  DType qdtype = DType::kI8;        // storage type of q (i8, u8, i4, u4, i16, ...)
  int axis = -1;                    // -1: per-tensor
  int64_t block_size = 0;           // 0: not blocked
  std::vector<float> scales;        // > 0, finite
  std::vector<int32_t> zero_points; // empty (all zero) or one per scale, in qdtype's range

  // Checks the invariants above against the quantized tensor's shape.
  Status validate(const Shape& shape) const;
};

}  // namespace bitsmith
