#include "bitsmith/core/quant_params.h"

#include <cmath>
#include <string>

namespace bitsmith {
namespace {

bool int_range(DType t, int64_t* lo, int64_t* hi) {
  switch (t) {
    case DType::kI8: *lo = -128; *hi = 127; return true;
    case DType::kU8: *lo = 0; *hi = 255; return true;
    case DType::kI4: *lo = -8; *hi = 7; return true;
    case DType::kU4: *lo = 0; *hi = 15; return true;
    case DType::kI16: *lo = -32768; *hi = 32767; return true;
    case DType::kU16: *lo = 0; *hi = 65535; return true;
    case DType::kI32: *lo = INT32_MIN; *hi = INT32_MAX; return true;
    default: return false;
  }
}

}  // namespace

Status QuantParams::validate(const Shape& shape) const {
  int64_t lo = 0, hi = 0;
  if (!int_range(qdtype, &lo, &hi))
    return invalid_argument("quant params: qdtype " + std::string(dtype_name(qdtype)) +
                            " is not an integer storage type");
  const int rank = static_cast<int>(shape.size());
  size_t expected = 1;
  if (axis == -1) {
    if (block_size != 0) return invalid_argument("quant params: per-tensor with a block size");
  } else {
    if (axis < 0 || axis >= rank)
      return invalid_argument("quant params: axis " + std::to_string(axis) + " out of range for shape " +
                              shape_str(shape));
    if (block_size < 0) return invalid_argument("quant params: negative block size");
    if (block_size == 0) {
      expected = static_cast<size_t>(shape[axis]);
    } else {
      expected = 1;
      for (int d = 0; d < rank; ++d)
        expected *= static_cast<size_t>(d == axis ? (shape[d] + block_size - 1) / block_size : shape[d]);
    }
  }
  if (scales.size() != expected)
    return invalid_argument("quant params: " + std::to_string(scales.size()) + " scales, expected " +
                            std::to_string(expected) + " for shape " + shape_str(shape));
  for (float s : scales)
    if (!(s > 0.f) || !std::isfinite(s))
      return invalid_argument("quant params: scale " + std::to_string(s) + " is not positive and finite");
  if (!zero_points.empty()) {
    if (zero_points.size() != scales.size())
      return invalid_argument("quant params: " + std::to_string(zero_points.size()) +
                              " zero points for " + std::to_string(scales.size()) + " scales");
    for (int32_t z : zero_points)
      if (z < lo || z > hi)
        return invalid_argument("quant params: zero point " + std::to_string(z) + " outside the " +
                                std::string(dtype_name(qdtype)) + " range");
  }
  return Status::ok();
}

}  // namespace bitsmith
