// Scalar reference for Concat: each output element finds its input by walking the axis offsets.
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers

Status concat_ref(const std::vector<const Tensor*>& ins, int64_t axis, Tensor& out) {
  Shape out_shape = ins[0]->shape();
  out_shape[axis] = 0;
  for (const Tensor* t : ins) out_shape[axis] += t->dim(static_cast<int>(axis));
  out = Tensor(ins[0]->dtype(), out_shape);
  const size_t rank = out_shape.size();
  return dispatch_by_size(out.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    T* dst = mutable_elems<T>(out);
    std::vector<int64_t> idx(rank);
    for (int64_t flat = 0; flat < out.numel(); ++flat) {
      int64_t rem = flat;
      for (size_t d = rank; d-- > 0;) {
        idx[d] = rem % out_shape[d];
        rem /= out_shape[d];
      }
      size_t k = 0;
      int64_t a = idx[axis];
      while (a >= ins[k]->dim(static_cast<int>(axis))) a -= ins[k++]->dim(static_cast<int>(axis));
      const Shape& s = ins[k]->shape();
      int64_t off = 0;
      for (size_t d = 0; d < rank; ++d) off = off * s[d] + (static_cast<int64_t>(d) == axis ? a : idx[d]);
      dst[flat] = elems<T>(*ins[k])[off];
    }
    return Status::ok();
  });
}

}  // namespace bitsmith::kernels
