#include "runtime/kernels/broadcast.h"

#include <algorithm>

namespace bitsmith::kernels {

std::optional<Shape> broadcast_shapes(const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const Shape& s : shapes) {
    const size_t off = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      const int64_t d = s[i];
      int64_t& o = out[off + i];
      if (d == o || d == 1) continue;
      if (o == 1) o = d;
      else return std::nullopt;
    }
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& in_shape, const Shape& out_shape) {
  const size_t rank = out_shape.size();
  std::vector<int64_t> strides(rank, 0);
  const size_t off = rank - in_shape.size();
  int64_t s = 1;
  for (size_t i = in_shape.size(); i-- > 0;) {
    strides[off + i] = in_shape[i] == 1 ? 0 : s;
    s *= in_shape[i];
  }
  return strides;
}

}  // namespace bitsmith::kernels
