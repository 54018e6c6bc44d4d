// Scalar reference Conv and ConvTranspose (the ground truth for the fast kernels in conv.cpp and
// conv_transpose.cpp). Direct loops over the ONNX definition; float accumulates in double.
//
// Layouts (row-major, contiguous):
//   Conv:          x [N, C, in...], w [M, C/group, k...], b [M] or null, y [N, M, out...]
//   ConvTranspose: x [N, C, in...], w [C, M/group, k...], b [M] or null, y [N, M, out...]
// Geometry (strides, dilations, pads, group, output sizes) comes from conv_geometry.h.
#pragma once

#include <cstdint>

#include "runtime/kernels/conv_geometry.h"

namespace bitsmith::kernels::ref {

// y = conv(x, w) + b. T is float or double.
template <class T>
void conv(const WindowGeometry& g, const T* x, const T* w, const T* b, T* y);

// y = conv_transpose(x, w) + b: every x element scatters x * w into y at
// out = in * stride + k * dilation - pads_begin (positions outside y dropped).
template <class T>
void conv_transpose(const WindowGeometry& g, const T* x, const T* w, const T* b, T* y);

// Calls fn(kernel_offset, input_offset) for every kernel tap of output position `out_index`
// (flat over out_spatial) whose input position is inside the input (padding taps skipped).
// Offsets are flat over kernel and in_spatial. Used by the reference conv and pooling kernels.
// At most kMaxSpatialRank spatial dims (checked by conv_geometry.h).
template <class Fn>
void for_each_tap(const WindowGeometry& g, int64_t out_index, Fn&& fn) {
  const int r = g.rank();
  // Output coordinates and the window start of each spatial dim.
  int64_t start[kMaxSpatialRank], out_c[kMaxSpatialRank];
  int64_t rem = out_index;
  for (int d = r - 1; d >= 0; --d) {
    out_c[d] = rem % g.out_spatial[d];
    rem /= g.out_spatial[d];
    start[d] = out_c[d] * g.strides[d] - g.pads_begin[d];
  }
  const int64_t taps = g.kernel_size();
  for (int64_t t = 0; t < taps; ++t) {
    int64_t trem = t, in_off = 0, in_stride = 1;
    bool inside = true;
    for (int d = r - 1; d >= 0; --d) {
      const int64_t k = trem % g.kernel[d];
      trem /= g.kernel[d];
      const int64_t pos = start[d] + k * g.dilations[d];
      if (pos < 0 || pos >= g.in_spatial[d]) inside = false;
      in_off += pos * in_stride;
      in_stride *= g.in_spatial[d];
    }
    if (inside) fn(t, in_off);
  }
}

}  // namespace bitsmith::kernels::ref

