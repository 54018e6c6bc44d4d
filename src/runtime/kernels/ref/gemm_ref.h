// Scalar reference Gemm (ONNX): y = alpha * op(a) * op(b) + beta * c.
//   op(a) is [M, K] (a stored [K, M] when trans_a), op(b) is [K, N] (b stored [N, K] when trans_b).
//   c is null or broadcast unidirectionally to [M, N] from c_shape (rank 0, 1 or 2).
// Products accumulate in double for float.
#pragma once

#include <cstdint>

#include "bitsmith/core/shape.h"

namespace bitsmith::kernels::ref {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, const T* b,
          T beta, const T* c, const Shape& c_shape, T* y);

// Offset into c for output element (i, j) when c of `c_shape` is broadcast to [m, n].
int64_t gemm_c_offset(const Shape& c_shape, int64_t i, int64_t j);

}  // namespace bitsmith::kernels::ref
