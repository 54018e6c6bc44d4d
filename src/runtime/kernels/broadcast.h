// Numpy-style (multidirectional) broadcasting helpers.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "bitsmith/core/shape.h"

namespace bitsmith::kernels {

// The broadcast shape of `shapes`, or nullopt when they are incompatible.
std::optional<Shape> broadcast_shapes(const std::vector<Shape>& shapes);

// For an input of `in_shape` broadcast to `out_shape`: the input's stride (in elements) along each
// output dim (0 where the input is broadcast), right-aligned.
std::vector<int64_t> broadcast_strides(const Shape& in_shape, const Shape& out_shape);

// Visits every output index in row-major order, tracking the flat offset of each of N inputs.
// fn(out_flat, in_offsets) with in_offsets a const int64_t* of N entries. Single-threaded;
// callers parallelise over outer blocks when needed (see for_each_broadcast_range).
template <class Fn>
void for_each_broadcast(const Shape& out_shape, const std::vector<std::vector<int64_t>>& in_strides,
                        Fn&& fn, int64_t begin = 0, int64_t end = -1) {
  const int rank = static_cast<int>(out_shape.size());
  const size_t n = in_strides.size();
  const int64_t total = shape_numel(out_shape);
  if (end < 0) end = total;
  if (begin >= end) return;
  std::vector<int64_t> idx(rank, 0);
  std::vector<int64_t> off(n, 0);
  // Position the counters at `begin`.
  int64_t rem = begin;
  for (int d = rank - 1; d >= 0; --d) {
    idx[d] = out_shape[d] ? rem % out_shape[d] : 0;
    rem = out_shape[d] ? rem / out_shape[d] : 0;
  }
  for (size_t k = 0; k < n; ++k)
    for (int d = 0; d < rank; ++d) off[k] += idx[d] * in_strides[k][d];
  for (int64_t flat = begin; flat < end; ++flat) {
    fn(flat, off.data());
    for (int d = rank - 1; d >= 0; --d) {
      ++idx[d];
      for (size_t k = 0; k < n; ++k) off[k] += in_strides[k][d];
      if (idx[d] < out_shape[d]) break;
      for (size_t k = 0; k < n; ++k) off[k] -= in_strides[k][d] * out_shape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace bitsmith::kernels
