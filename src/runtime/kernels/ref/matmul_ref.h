// Numpy matmul semantics (ONNX MatMul, MatMulInteger, QLinearMatMul) and its scalar reference.
//
// a [..., M, K] x b [..., K, N] -> [..., M, N] with the leading (batch) dims broadcast; a 1-D a is
// [1, K] with M dropped from the output, a 1-D b is [K, 1] with N dropped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bitsmith/core/shape.h"
#include "bitsmith/core/status.h"

namespace bitsmith::kernels {

struct MatMulPlan {
  int64_t m = 1, n = 1, k = 1;
  Shape out_shape;
  // Per output batch (row-major over the broadcast batch dims): element offset of its matrix in
  // a, in b; the output matrix of batch i starts at i * m * n.
  std::vector<int64_t> a_offsets, b_offsets;
  int64_t batches() const { return static_cast<int64_t>(a_offsets.size()); }
  // True when b is one matrix shared by all batches and a's batches are contiguous [.., M, K]:
  // the batches can be fused into one [batches * M, K] x [K, N] product.
  bool b_shared = false;
};

// The plan for a of `a_shape` times b of `b_shape`; error text names both shapes.
Expected<MatMulPlan> plan_matmul(const Shape& a_shape, const Shape& b_shape);

namespace ref {

// y = a @ b per the plan; float accumulates in double, integers in T (wrapping).
// Instantiated for float, double, int32, int64, uint32, uint64.
template <class T>
void matmul(const MatMulPlan& p, const T* a, const T* b, T* y);

}  // namespace ref
}  // namespace bitsmith::kernels
