// Scalar reference for Transpose: one output element at a time, index arithmetic only.
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers

Status transpose_ref(const Tensor& in, const std::vector<int64_t>& perm, Tensor& out) {
  const size_t rank = perm.size();
  Shape out_shape(rank);
  for (size_t k = 0; k < rank; ++k) out_shape[k] = in.shape()[perm[k]];
  out = Tensor(in.dtype(), out_shape);
  const std::vector<int64_t> in_strides = shape_strides(in.shape());
  return dispatch_by_size(in.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(in);
    T* dst = mutable_elems<T>(out);
    for (int64_t flat = 0; flat < out.numel(); ++flat) {
      int64_t rem = flat, off = 0;
      for (size_t k = rank; k-- > 0;) {
        off += (rem % out_shape[k]) * in_strides[perm[k]];
        rem /= out_shape[k];
      }
      dst[flat] = src[off];
    }
    return Status::ok();
  });
}

}  // namespace bitsmith::kernels
