// Scalar references for Slice and Gather: one output element at a time, index arithmetic only.
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers

Status slice_ref(const Tensor& in, const std::vector<SliceAxis>& axes, Tensor& out) {
  const size_t rank = axes.size();
  Shape out_shape(rank);
  for (size_t d = 0; d < rank; ++d) out_shape[d] = axes[d].count;
  out = Tensor(in.dtype(), out_shape);
  const std::vector<int64_t> in_strides = shape_strides(in.shape());
  return dispatch_by_size(in.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(in);
    T* dst = mutable_elems<T>(out);
    for (int64_t flat = 0; flat < out.numel(); ++flat) {
      int64_t rem = flat, off = 0;
      for (size_t d = rank; d-- > 0;) {
        const int64_t i = rem % out_shape[d];
        rem /= out_shape[d];
        off += (axes[d].start + i * axes[d].step) * in_strides[d];
      }
      dst[flat] = src[off];
    }
    return Status::ok();
  });
}

Status gather_ref(const Tensor& data, const Tensor& indices, int64_t axis, Tensor& out) {
  const int64_t dim = data.dim(static_cast<int>(axis));
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> idx, read_indices(indices, dim, "indices"));
  Shape out_shape(data.shape().begin(), data.shape().begin() + axis);
  out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
  out_shape.insert(out_shape.end(), data.shape().begin() + axis + 1, data.shape().end());
  out = Tensor(data.dtype(), out_shape);
  const std::vector<int64_t> data_strides = shape_strides(data.shape());
  const int64_t irank = indices.rank();
  return dispatch_by_size(data.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(data);
    T* dst = mutable_elems<T>(out);
    std::vector<int64_t> oidx(out_shape.size());
    for (int64_t flat = 0; flat < out.numel(); ++flat) {
      int64_t rem = flat;
      for (size_t d = out_shape.size(); d-- > 0;) {
        oidx[d] = rem % out_shape[d];
        rem /= out_shape[d];
      }
      int64_t ipos = 0;  // flat position in indices
      for (int64_t d = 0; d < irank; ++d) ipos = ipos * indices.dim(static_cast<int>(d)) + oidx[axis + d];
      int64_t off = 0;
      for (int64_t d = 0; d < data.rank(); ++d) {
        int64_t c = d < axis ? oidx[d] : d == axis ? idx[ipos] : oidx[d - 1 + irank];
        off += c * data_strides[d];
      }
      dst[flat] = src[off];
    }
    return Status::ok();
  });
}

}  // namespace bitsmith::kernels
