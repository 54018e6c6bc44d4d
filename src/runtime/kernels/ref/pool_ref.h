// Scalar reference pooling: MaxPool (with optional Indices), AveragePool, GlobalAveragePool,
// GlobalMaxPool. x is [N, C, in...], y is [N, C, out...]; geometry from conv_geometry.h.
#pragma once

#include <cstdint>

#include "runtime/kernels/conv_geometry.h"

namespace bitsmith::kernels::ref {

// y = max over each window's taps inside the input (padding never wins), starting from the
// lowest value of T and taking a tap when x > best (so NaN taps are skipped, as ONNX Runtime). indices (optional, int64, same shape as y): flat
// index of the max over the whole input tensor; spatial part in column-major order when
// col_major (storage_order=1). T: float, double, int8_t, uint8_t.
template <class T>
void max_pool(const WindowGeometry& g, const T* x, T* y, int64_t* indices, bool col_major);

// y = sum / count over each window. count_include_pad: count taps in the input or its explicit
// padding (not taps past it, which ceil_mode can add); else count taps inside the input only.
// T: float, double. Sums in double.
template <class T>
void average_pool(const WindowGeometry& g, bool count_include_pad, const T* x, T* y);

// Over `planes` contiguous planes of `plane_size` elements each: y[p] = mean / max of plane p.
template <class T>
void global_average_pool(int64_t planes, int64_t plane_size, const T* x, T* y);
template <class T>
void global_max_pool(int64_t planes, int64_t plane_size, const T* x, T* y);

}  // namespace bitsmith::kernels::ref
