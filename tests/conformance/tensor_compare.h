// Comparison of a computed tensor with an expected one, as ONNX's backend test runner does it:
// dtype and shape exact; floating-point values within |got - want| <= atol + rtol * |want|
// (NaN equals NaN, infinities must match exactly); integers, bools and strings exact.
#pragma once

#include <cstdint>
#include <string>

#include "bitsmith/core/tensor.h"

namespace bitsmith::conformance {

struct Tolerance {
  double rtol = 1e-3;
  double atol = 1e-7;
};

struct CompareResult {
  bool equal = true;
  std::string summary;       // "dtype f32, expected f64" / "3 of 60 values differ"
  std::string first_detail;  // "index 7 (of [3, 20]): got 1.5, expected 1.25"
};

CompareResult compare_tensors(const Tensor& got, const Tensor& want, const Tolerance& tol);

}  // namespace bitsmith::conformance
