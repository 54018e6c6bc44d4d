// GatherND, ScatterND, ScatterElements and Scatter (opset 9-10 name of ScatterElements).
//
// Scatters copy `data` and then apply the updates sequentially in index order (so with
// reduction "none" a repeated index keeps the last update). Reductions add, mul, max and min
// need a numeric dtype; plain scatters move bytes of any dtype.
#include <algorithm>

#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

enum class Reduce { kNone, kAdd, kMul, kMax, kMin };

Expected<Reduce> reduction(const Node& node) {
  const std::string r = node.attr_string("reduction", "none");
  if (r == "none") return Reduce::kNone;
  if (r == "add") return Reduce::kAdd;
  if (r == "mul") return Reduce::kMul;
  if (r == "max") return Reduce::kMax;
  if (r == "min") return Reduce::kMin;
  return invalid_model("reduction \"" + r + "\" is not one of [none, add, mul, max, min]");
}

// Applies `fn(T* dst, const T* src, n)`-style updates for the reduction over element type T.
template <class Fn>
Status with_reducer(DType dtype, Reduce r, Fn&& fn) {
  if (r == Reduce::kNone) {
    return dispatch_by_size(dtype, [&](auto tag) -> Status {
      using T = decltype(tag);
      return fn(tag, [](T& d, const T& s) { d = s; });
    });
  }
  return dispatch_numeric(dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    switch (r) {
      case Reduce::kAdd: return fn(tag, [](T& d, const T& s) { d = static_cast<T>(d + s); });
      case Reduce::kMul: return fn(tag, [](T& d, const T& s) { d = static_cast<T>(d * s); });
      case Reduce::kMax: return fn(tag, [](T& d, const T& s) { d = std::max(d, s); });
      default: return fn(tag, [](T& d, const T& s) { d = std::min(d, s); });
    }
  });
}

// Flat offsets (in elements of `data`) of the slices addressed by the last dim of `indices`,
// after `batch_dims` leading batch dims. `slice` receives the slice size in elements.
Expected<std::vector<int64_t>> nd_offsets(const Tensor& data, const Tensor& indices, int64_t batch_dims,
                                          int64_t& slice) {
  const int64_t r = data.rank(), q = indices.rank();
  if (q < 1) return invalid_model("indices must have rank >= 1");
  const int64_t k = indices.dim(-1);
  if (batch_dims < 0 || batch_dims >= std::min(r, q) || k < 1 || k > r - batch_dims)
    return invalid_model("indices " + shape_str(indices.shape()) + " do not address data " + shape_str(data.shape()) +
                         " with batch_dims " + std::to_string(batch_dims));
  for (int64_t d = 0; d < batch_dims; ++d)
    if (indices.dim(static_cast<int>(d)) != data.dim(static_cast<int>(d)))
      return invalid_model("batch dims of indices " + shape_str(indices.shape()) + " and data " +
                           shape_str(data.shape()) + " differ");
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> idx, read_int_list(indices.reshaped({indices.numel()}), "indices"));
  const std::vector<int64_t> strides = shape_strides(data.shape());
  slice = 1;
  for (int64_t d = batch_dims + k; d < r; ++d) slice *= data.dim(static_cast<int>(d));
  int64_t batch = 1;
  for (int64_t d = 0; d < batch_dims; ++d) batch *= data.dim(static_cast<int>(d));
  const int64_t tuples = indices.numel() / k;
  const int64_t per_batch = batch > 0 ? tuples / batch : 0;
  const int64_t batch_stride = batch_dims > 0 ? strides[batch_dims - 1] : 0;
  std::vector<int64_t> offs(tuples);
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = per_batch > 0 ? (t / per_batch) * batch_stride : 0;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t dim = data.dim(static_cast<int>(batch_dims + j));
      int64_t v = idx[t * k + j];
      if (v < -dim || v >= dim) return invalid_model("index " + std::to_string(v) + " is out of range for dim " + std::to_string(dim));
      if (v < 0) v += dim;
      off += v * strides[batch_dims + j];
    }
    offs[t] = off;
  }
  return offs;
}

Status gather_nd_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* data, required_input(ctx, 0, "data"));
  BS_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 1, "indices"));
  const int64_t b = ctx.node.attr_int("batch_dims", 0);
  int64_t slice = 0;
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> offs, with_node(ctx, nd_offsets(*data, *indices, b, slice)));
  Shape out_shape(indices->shape().begin(), indices->shape().end() - 1);
  out_shape.insert(out_shape.end(), data->shape().begin() + b + indices->dim(-1), data->shape().end());
  Tensor& out = alloc_output(ctx, 0, data->dtype(), out_shape);
  return with_node(ctx, dispatch_by_size(data->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(*data);
    T* dst = mutable_elems<T>(out);
    for (size_t t = 0; t < offs.size(); ++t) std::copy_n(src + offs[t], slice, dst + t * slice);
    return Status::ok();
  }));
}

Status scatter_nd_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* data, required_input(ctx, 0, "data"));
  BS_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 1, "indices"));
  BS_ASSIGN_OR_RETURN(const Tensor* updates, required_input(ctx, 2, "updates"));
  BS_ASSIGN_OR_RETURN(Reduce r, with_node(ctx, reduction(ctx.node)));
  int64_t slice = 0;
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> offs, with_node(ctx, nd_offsets(*data, *indices, 0, slice)));
  Shape want(indices->shape().begin(), indices->shape().end() - 1);
  want.insert(want.end(), data->shape().begin() + indices->dim(-1), data->shape().end());
  if (updates->shape() != want || updates->dtype() != data->dtype())
    return ctx.error("updates " + shape_str(updates->shape()) + " must have shape " + shape_str(want) +
                     " and the data dtype");
  Tensor out = data->clone();
  BS_TRY(with_node(ctx, with_reducer(data->dtype(), r, [&](auto tag, auto apply) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(*updates);
    T* dst = mutable_elems<T>(out);
    for (size_t t = 0; t < offs.size(); ++t)
      for (int64_t i = 0; i < slice; ++i) apply(dst[offs[t] + i], src[t * slice + i]);
    return Status::ok();
  })));
  set_output(ctx, 0, std::move(out));
  return Status::ok();
}

Status scatter_elements_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* data, required_input(ctx, 0, "data"));
  BS_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 1, "indices"));
  BS_ASSIGN_OR_RETURN(const Tensor* updates, required_input(ctx, 2, "updates"));
  BS_ASSIGN_OR_RETURN(Reduce r, with_node(ctx, reduction(ctx.node)));
  const int64_t rank = data->rank();
  if (rank == 0 || indices->rank() != rank || updates->shape() != indices->shape() ||
      updates->dtype() != data->dtype())
    return ctx.error("data " + shape_str(data->shape()) + ", indices " + shape_str(indices->shape()) + " and updates " +
                     shape_str(updates->shape()) + " do not match");
  BS_ASSIGN_OR_RETURN(int64_t axis, with_node(ctx, normalize_axis(ctx.node.attr_int("axis", 0), rank, "axis")));
  for (int64_t d = 0; d < rank; ++d)
    if (d != axis && indices->dim(static_cast<int>(d)) > data->dim(static_cast<int>(d)))
      return ctx.error("indices " + shape_str(indices->shape()) + " exceed data " + shape_str(data->shape()));
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> idx,
                      with_node(ctx, read_indices(*indices, data->dim(static_cast<int>(axis)), "indices")));
  const std::vector<int64_t> strides = shape_strides(data->shape());
  const Shape& ishape = indices->shape();
  Tensor out = data->clone();
  BS_TRY(with_node(ctx, with_reducer(data->dtype(), r, [&](auto tag, auto apply) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(*updates);
    T* dst = mutable_elems<T>(out);
    for (int64_t flat = 0; flat < indices->numel(); ++flat) {
      int64_t rem = flat, off = 0;
      for (int64_t d = rank; d-- > 0;) {
        const int64_t c = rem % ishape[d];
        rem /= ishape[d];
        off += (d == axis ? idx[flat] : c) * strides[d];
      }
      apply(dst[off], src[flat]);
    }
    return Status::ok();
  })));
  set_output(ctx, 0, std::move(out));
  return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_gather_nd(const KernelInfo&) { return make_fn_kernel(&gather_nd_compute); }
Expected<std::unique_ptr<OpKernel>> make_scatter_nd(const KernelInfo&) { return make_fn_kernel(&scatter_nd_compute); }
Expected<std::unique_ptr<OpKernel>> make_scatter_elements(const KernelInfo&) {
  return make_fn_kernel(&scatter_elements_compute);
}

}  // namespace bitsmith::kernels
