// Slice, Gather (fast paths copy contiguous runs; twins in ref/slice_gather_ref.cpp) and
// GatherElements.
#include <algorithm>
#include <limits>

#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

// Input offset of output row `row` whose multi-index runs over `dims` with input `strides`.
int64_t row_offset(int64_t row, const std::vector<int64_t>& dims, const std::vector<int64_t>& strides) {
  int64_t off = 0;
  for (size_t d = dims.size(); d-- > 0;) {
    off += (row % dims[d]) * strides[d];
    row /= dims[d];
  }
  return off;
}

}  // namespace

Status slice_fast(const Tensor& in, const std::vector<SliceAxis>& axes, Tensor& out, int num_threads) {
  const size_t rank = axes.size();
  Shape out_shape(rank);
  for (size_t d = 0; d < rank; ++d) out_shape[d] = axes[d].count;
  out = Tensor(in.dtype(), out_shape);
  if (out.numel() == 0) return Status::ok();
  if (rank == 0) return dispatch_by_size(in.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    mutable_elems<T>(out)[0] = elems<T>(in)[0];
    return Status::ok();
  });
  const std::vector<int64_t> in_strides = shape_strides(in.shape());
  auto full = [&](size_t d) { return axes[d].start == 0 && axes[d].step == 1 && axes[d].count == in.shape()[d]; };
  // The copied run covers dims [j, rank): trailing full dims plus one unit-step dim.
  size_t j = rank - 1;
  while (j > 0 && full(j)) --j;
  if (axes[j].step != 1) j = rank - 1;
  int64_t run = 1;
  for (size_t d = j; d < rank; ++d) run *= out_shape[d];
  const bool contiguous = axes[j].step == 1;
  const int64_t elem_step = axes[rank - 1].step * in_strides[rank - 1];
  int64_t base = 0;
  for (size_t d = 0; d < rank; ++d) base += axes[d].start * in_strides[d];
  std::vector<int64_t> dims(out_shape.begin(), out_shape.begin() + j), strides(j);
  for (size_t d = 0; d < j; ++d) strides[d] = axes[d].step * in_strides[d];
  const int64_t rows = shape_numel(dims);
  const int threads = threads_for(out.numel() * elem_nbytes(in.dtype()), num_threads);
  return dispatch_by_size(in.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(in) + base;
    T* dst = mutable_elems<T>(out);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const T* s = src + row_offset(r, dims, strides);
      T* o = dst + r * run;
      if (contiguous) std::copy_n(s, run, o);
      else for (int64_t i = 0; i < run; ++i) o[i] = s[i * elem_step];
    }
    return Status::ok();
  });
}

Status gather_fast(const Tensor& data, const Tensor& indices, int64_t axis, Tensor& out, int num_threads) {
  const int64_t dim = data.dim(static_cast<int>(axis));
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> idx, read_indices(indices, dim, "indices"));
  Shape out_shape(data.shape().begin(), data.shape().begin() + axis);
  out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
  out_shape.insert(out_shape.end(), data.shape().begin() + axis + 1, data.shape().end());
  out = Tensor(data.dtype(), out_shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= data.dim(static_cast<int>(d));
  for (int64_t d = axis + 1; d < data.rank(); ++d) inner *= data.dim(static_cast<int>(d));
  const int64_t n = static_cast<int64_t>(idx.size());
  const int threads = threads_for(out.numel() * elem_nbytes(data.dtype()), num_threads);
  return dispatch_by_size(data.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(data);
    T* dst = mutable_elems<T>(out);
    const int64_t tasks = outer * n;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t o = t / n, k = t % n;
      std::copy_n(src + (o * dim + idx[k]) * inner, inner, dst + t * inner);
    }
    return Status::ok();
  });
}

namespace {

// Per-dim slice parameters after ONNX's clamping rules.
Expected<std::vector<SliceAxis>> slice_axes(const Shape& shape, const std::vector<int64_t>& starts,
                                            const std::vector<int64_t>& ends, const std::vector<int64_t>& axes_in,
                                            const std::vector<int64_t>& steps) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<SliceAxis> out(rank);
  for (int64_t d = 0; d < rank; ++d) out[d] = {0, 1, shape[d]};
  if (starts.size() != ends.size())
    return invalid_model("starts and ends have different lengths (" + std::to_string(starts.size()) + " vs " +
                         std::to_string(ends.size()) + ")");
  std::vector<int64_t> axes = axes_in;
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (axes.size() != starts.size() || (!steps.empty() && steps.size() != starts.size()))
    return invalid_model("starts, ends, axes and steps must have the same length");
  BS_ASSIGN_OR_RETURN(axes, normalize_axes(axes, rank, "axis"));
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t dim = shape[axes[i]];
    int64_t step = steps.empty() ? 1 : steps[i];
    if (step == 0) return invalid_model("step 0 on axis " + std::to_string(axes[i]));
    step = std::max(step, -std::numeric_limits<int64_t>::max());
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    int64_t count = 0;
    if (dim == 0) {
      count = 0;
    } else if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      count = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      count = start > end ? (start - end - 1) / -step + 1 : 0;
    }
    out[axes[i]] = {count > 0 ? start : 0, step, count};
  }
  return out;
}

Status slice_compute(KernelContext& ctx, int64_t opset) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "data"));
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset < 10) {
    starts = ctx.node.attr_ints("starts");
    ends = ctx.node.attr_ints("ends");
    axes = ctx.node.attr_ints("axes");
  } else {
    BS_ASSIGN_OR_RETURN(const Tensor* st, required_input(ctx, 1, "starts"));
    BS_ASSIGN_OR_RETURN(const Tensor* en, required_input(ctx, 2, "ends"));
    BS_ASSIGN_OR_RETURN(starts, with_node(ctx, read_int_list(*st, "starts")));
    BS_ASSIGN_OR_RETURN(ends, with_node(ctx, read_int_list(*en, "ends")));
    if (const Tensor* a = ctx.input(3)) {
      BS_ASSIGN_OR_RETURN(axes, with_node(ctx, read_int_list(*a, "axes")));
    }
    if (const Tensor* s = ctx.input(4)) {
      BS_ASSIGN_OR_RETURN(steps, with_node(ctx, read_int_list(*s, "steps")));
    }
  }
  BS_ASSIGN_OR_RETURN(std::vector<SliceAxis> sa, with_node(ctx, slice_axes(in->shape(), starts, ends, axes, steps)));
  Tensor out;
  BS_TRY(with_node(ctx, slice_fast(*in, sa, out, ctx.num_threads)));
  set_output(ctx, 0, std::move(out));
  return Status::ok();
}

Status gather_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* data, required_input(ctx, 0, "data"));
  BS_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 1, "indices"));
  if (data->rank() == 0) return ctx.error("data must have rank >= 1");
  BS_ASSIGN_OR_RETURN(int64_t axis, with_node(ctx, normalize_axis(ctx.node.attr_int("axis", 0), data->rank(), "axis")));
  Tensor out;
  BS_TRY(with_node(ctx, gather_fast(*data, *indices, axis, out, ctx.num_threads)));
  set_output(ctx, 0, std::move(out));
  return Status::ok();
}

// out[i] = data[i with the axis coordinate replaced by indices[i]]; out has the indices' shape.
Status gather_elements_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* data, required_input(ctx, 0, "data"));
  BS_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 1, "indices"));
  const int64_t rank = data->rank();
  if (rank == 0 || indices->rank() != rank)
    return ctx.error("data " + shape_str(data->shape()) + " and indices " + shape_str(indices->shape()) +
                     " must have the same rank >= 1");
  BS_ASSIGN_OR_RETURN(int64_t axis, with_node(ctx, normalize_axis(ctx.node.attr_int("axis", 0), rank, "axis")));
  for (int64_t d = 0; d < rank; ++d)
    if (d != axis && indices->dim(static_cast<int>(d)) > data->dim(static_cast<int>(d)))
      return ctx.error("indices " + shape_str(indices->shape()) + " exceed data " + shape_str(data->shape()) +
                       " outside the axis");
  const int64_t dim = data->dim(static_cast<int>(axis));
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> idx, with_node(ctx, read_indices(*indices, dim, "indices")));
  Tensor& out = alloc_output(ctx, 0, data->dtype(), indices->shape());
  const std::vector<int64_t> strides = shape_strides(data->shape());
  const Shape& ishape = indices->shape();
  return with_node(ctx, dispatch_by_size(data->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(*data);
    T* dst = mutable_elems<T>(out);
    for (int64_t flat = 0; flat < out.numel(); ++flat) {
      int64_t rem = flat, off = 0;
      for (int64_t d = rank; d-- > 0;) {
        const int64_t c = rem % ishape[d];
        rem /= ishape[d];
        off += (d == axis ? idx[flat] : c) * strides[d];
      }
      dst[flat] = src[off];
    }
    return Status::ok();
  }));
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_slice(const KernelInfo& info) {
  return make_opset_kernel(&slice_compute, info.opset);
}
Expected<std::unique_ptr<OpKernel>> make_gather(const KernelInfo&) { return make_fn_kernel(&gather_compute); }
Expected<std::unique_ptr<OpKernel>> make_gather_elements(const KernelInfo&) {
  return make_fn_kernel(&gather_elements_compute);
}

}  // namespace bitsmith::kernels
