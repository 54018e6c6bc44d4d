// Expand (numpy broadcast of the input to a shape) and Tile (repeat along each dim).
// Both are row gathers: each output row along the last dim is a copy of an input row, a fill of
// one input element (Expand of a broadcast last dim), or repeated copies (Tile).
#include <algorithm>

#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

Status expand_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "input"));
  BS_ASSIGN_OR_RETURN(const Tensor* shape_t, required_input(ctx, 1, "shape"));
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> shape, with_node(ctx, read_int_list(*shape_t, "shape")));
  std::optional<Shape> out_shape = broadcast_shapes({in->shape(), shape});
  if (!out_shape)
    return ctx.error("input " + shape_str(in->shape()) + " cannot be broadcast to " + shape_str(shape));
  BS_TRY(with_node(ctx, check_shape(*out_shape, "output shape")));
  Tensor& out = alloc_output(ctx, 0, in->dtype(), *out_shape);
  if (out.numel() == 0) return Status::ok();
  const size_t rank = out_shape->size();
  if (rank == 0) return with_node(ctx, dispatch_by_size(in->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    mutable_elems<T>(out)[0] = elems<T>(*in)[0];
    return Status::ok();
  }));
  const std::vector<int64_t> strides = broadcast_strides(in->shape(), *out_shape);
  const int64_t row = (*out_shape)[rank - 1];
  const int64_t rows = out.numel() / row;
  const bool fill = strides[rank - 1] == 0;
  const int threads = threads_for(out.numel() * elem_nbytes(in->dtype()), ctx.num_threads);
  Status s = dispatch_by_size(in->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(*in);
    T* dst = mutable_elems<T>(out);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      int64_t rem = r, off = 0;
      for (size_t d = rank - 1; d-- > 0;) {
        off += (rem % (*out_shape)[d]) * strides[d];
        rem /= (*out_shape)[d];
      }
      if (fill) std::fill_n(dst + r * row, row, src[off]);
      else std::copy_n(src + off, row, dst + r * row);
    }
    return Status::ok();
  });
  return with_node(ctx, s);
}

Status tile_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "input"));
  BS_ASSIGN_OR_RETURN(const Tensor* rep_t, required_input(ctx, 1, "repeats"));
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> reps, with_node(ctx, read_int_list(*rep_t, "repeats")));
  const int64_t rank = in->rank();
  if (static_cast<int64_t>(reps.size()) != rank)
    return ctx.error("repeats has " + std::to_string(reps.size()) + " entries for input shape " + shape_str(in->shape()));
  Shape out_shape(rank);
  for (int64_t d = 0; d < rank; ++d) {
    if (reps[d] < 0) return ctx.error("repeats " + shape_str(reps) + " has a negative entry");
    out_shape[d] = in->dim(static_cast<int>(d)) * reps[d];
  }
  BS_TRY(with_node(ctx, check_shape(out_shape, "output shape")));
  Tensor& out = alloc_output(ctx, 0, in->dtype(), out_shape);
  if (out.numel() == 0) return Status::ok();
  if (rank == 0) return with_node(ctx, dispatch_by_size(in->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    mutable_elems<T>(out)[0] = elems<T>(*in)[0];
    return Status::ok();
  }));
  const std::vector<int64_t> strides = shape_strides(in->shape());
  const int64_t in_row = in->dim(static_cast<int>(rank - 1));
  const int64_t row = out_shape[rank - 1];
  const int64_t rows = out.numel() / row;
  const int threads = threads_for(out.numel() * elem_nbytes(in->dtype()), ctx.num_threads);
  Status s = dispatch_by_size(in->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(*in);
    T* dst = mutable_elems<T>(out);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      int64_t rem = r, off = 0;
      for (int64_t d = rank - 2; d >= 0; --d) {
        off += (rem % out_shape[d]) % in->dim(static_cast<int>(d)) * strides[d];
        rem /= out_shape[d];
      }
      for (int64_t k = 0; k < reps[rank - 1]; ++k) std::copy_n(src + off, in_row, dst + r * row + k * in_row);
    }
    return Status::ok();
  });
  return with_node(ctx, s);
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_expand(const KernelInfo&) { return make_fn_kernel(&expand_compute); }
Expected<std::unique_ptr<OpKernel>> make_tile(const KernelInfo&) { return make_fn_kernel(&tile_compute); }

}  // namespace bitsmith::kernels
