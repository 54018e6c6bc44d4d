#include "runtime/kernels/ref/pool_ref.h"

#include <limits>

#include "runtime/kernels/ref/conv_ref.h"

namespace bitsmith::kernels::ref {
namespace {

// Re-expresses a row-major spatial offset in column-major order.
int64_t col_major_offset(const WindowGeometry& g, int64_t off) {
  const int r = g.rank();
  int64_t coord[kMaxSpatialRank];
  for (int d = r - 1; d >= 0; --d) {
    coord[d] = off % g.in_spatial[d];
    off /= g.in_spatial[d];
  }
  int64_t out = 0, stride = 1;
  for (int d = 0; d < r; ++d) {
    out += coord[d] * stride;
    stride *= g.in_spatial[d];
  }
  return out;
}

}  // namespace

template <class T>
void max_pool(const WindowGeometry& g, const T* x, T* y, int64_t* indices, bool col_major) {
  const int64_t in_size = g.in_size(), out_size = g.out_size(), planes = g.batch * g.in_channels;
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * in_size;
    for (int64_t o = 0; o < out_size; ++o) {
      T best = std::numeric_limits<T>::lowest();
      int64_t best_off = -1;
      for_each_tap(g, o, [&](int64_t, int64_t in_off) {
        if (best_off < 0) best_off = in_off;  // index of the first tap until one wins
        if (xp[in_off] > best) {
          best = xp[in_off];
          best_off = in_off;
        }
      });
      y[p * out_size + o] = best;
      if (indices) {
        const int64_t off = best_off < 0 ? 0 : (col_major ? col_major_offset(g, best_off) : best_off);
        indices[p * out_size + o] = p * in_size + off;
      }
    }
  }
}

template <class T>
void average_pool(const WindowGeometry& g, bool count_include_pad, const T* x, T* y) {
  const int64_t in_size = g.in_size(), out_size = g.out_size(), planes = g.batch * g.in_channels;
  const int r = g.rank();
  for (int64_t o = 0; o < out_size; ++o) {
    int64_t count = 0;
    if (count_include_pad) {
      // Taps inside [-pads_begin, in + pads_end) on every axis.
      int64_t rem = o;
      count = 1;
      for (int d = r - 1; d >= 0; --d) {
        const int64_t start = (rem % g.out_spatial[d]) * g.strides[d] - g.pads_begin[d];
        rem /= g.out_spatial[d];
        int64_t n = 0;
        for (int64_t k = 0; k < g.kernel[d]; ++k) {
          const int64_t pos = start + k * g.dilations[d];
          if (pos >= -g.pads_begin[d] && pos < g.in_spatial[d] + g.pads_end[d]) ++n;
        }
        count *= n;
      }
    } else {
      for_each_tap(g, o, [&](int64_t, int64_t) { ++count; });
    }
    for (int64_t p = 0; p < planes; ++p) {
      const T* xp = x + p * in_size;
      double sum = 0.0;
      for_each_tap(g, o, [&](int64_t, int64_t in_off) { sum += static_cast<double>(xp[in_off]); });
      y[p * out_size + o] = static_cast<T>(count > 0 ? sum / static_cast<double>(count) : 0.0);
    }
  }
}

template <class T>
void global_average_pool(int64_t planes, int64_t plane_size, const T* x, T* y) {
  for (int64_t p = 0; p < planes; ++p) {
    double sum = 0.0;
    for (int64_t i = 0; i < plane_size; ++i) sum += static_cast<double>(x[p * plane_size + i]);
    y[p] = static_cast<T>(plane_size > 0 ? sum / static_cast<double>(plane_size) : 0.0);
  }
}

template <class T>
void global_max_pool(int64_t planes, int64_t plane_size, const T* x, T* y) {
  for (int64_t p = 0; p < planes; ++p) {
    T best = plane_size > 0 ? x[p * plane_size] : T(0);
    for (int64_t i = 1; i < plane_size; ++i)
      if (x[p * plane_size + i] > best) best = x[p * plane_size + i];
    y[p] = best;
  }
}

template void max_pool<float>(const WindowGeometry&, const float*, float*, int64_t*, bool);
template void max_pool<double>(const WindowGeometry&, const double*, double*, int64_t*, bool);
template void max_pool<int8_t>(const WindowGeometry&, const int8_t*, int8_t*, int64_t*, bool);
template void max_pool<uint8_t>(const WindowGeometry&, const uint8_t*, uint8_t*, int64_t*, bool);
template void average_pool<float>(const WindowGeometry&, bool, const float*, float*);
template void average_pool<double>(const WindowGeometry&, bool, const double*, double*);
template void global_average_pool<float>(int64_t, int64_t, const float*, float*);
template void global_average_pool<double>(int64_t, int64_t, const double*, double*);
template void global_max_pool<float>(int64_t, int64_t, const float*, float*);
template void global_max_pool<double>(int64_t, int64_t, const double*, double*);

}  // namespace bitsmith::kernels::ref
