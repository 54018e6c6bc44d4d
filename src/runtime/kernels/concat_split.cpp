// Concat (fast: one contiguous run per input per outer index; reference twin in
// ref/concat_ref.cpp) and Split (same run structure, the other way round).
#include <algorithm>

#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers

Status concat_fast(const std::vector<const Tensor*>& ins, int64_t axis, Tensor& out, int num_threads) {
  const Tensor& first = *ins[0];
  Shape out_shape = first.shape();
  out_shape[axis] = 0;
  for (const Tensor* t : ins) out_shape[axis] += t->dim(static_cast<int>(axis));
  out = Tensor(first.dtype(), out_shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out_shape[d];
  for (size_t d = axis + 1; d < out_shape.size(); ++d) inner *= out_shape[d];
  const int64_t nin = static_cast<int64_t>(ins.size());
  std::vector<int64_t> run(nin), prefix(nin + 1, 0);
  for (int64_t k = 0; k < nin; ++k) {
    run[k] = ins[k]->dim(static_cast<int>(axis)) * inner;
    prefix[k + 1] = prefix[k] + run[k];
  }
  const int64_t row = prefix[nin];
  const int threads = threads_for(out.numel() * elem_nbytes(out.dtype()), num_threads);
  return dispatch_by_size(first.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    std::vector<const T*> srcs(nin);
    for (int64_t k = 0; k < nin; ++k) srcs[k] = elems<T>(*ins[k]);
    T* dst = mutable_elems<T>(out);
    const int64_t tasks = outer * nin;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t o = t / nin, k = t % nin;
      std::copy_n(srcs[k] + o * run[k], run[k], dst + o * row + prefix[k]);
    }
    return Status::ok();
  });
}

namespace {

Status concat_compute(KernelContext& ctx, int64_t opset) {
  std::vector<const Tensor*> ins;
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.input(i)) ins.push_back(ctx.input(i));
  if (ins.empty()) return ctx.error("needs at least one input");
  if (!ctx.node.find_attr("axis") && opset >= 4) return ctx.error("attribute 'axis' is required");
  const Tensor& first = *ins[0];
  const int64_t rank = first.rank();
  if (rank == 0) return ctx.error("cannot concatenate scalars");
  BS_ASSIGN_OR_RETURN(int64_t axis, with_node(ctx, normalize_axis(ctx.node.attr_int("axis", 1), rank, "axis")));
  for (const Tensor* t : ins) {
    bool ok = t->dtype() == first.dtype() && t->rank() == rank;
    for (int64_t d = 0; ok && d < rank; ++d)
      ok = d == axis || t->dim(static_cast<int>(d)) == first.dim(static_cast<int>(d));
    if (!ok)
      return ctx.error("input " + std::string(dtype_name(t->dtype())) + shape_str(t->shape()) +
                       " does not match " + std::string(dtype_name(first.dtype())) + shape_str(first.shape()) +
                       " outside axis " + std::to_string(axis));
  }
  Tensor out;
  BS_TRY(with_node(ctx, concat_fast(ins, axis, out, ctx.num_threads)));
  set_output(ctx, 0, std::move(out));
  return Status::ok();
}

// Split sizes: the 'split' attribute (< 13) or input 1 (>= 13); otherwise equal parts over the
// outputs (num_outputs from opset 18: the last part may be smaller).
Expected<std::vector<int64_t>> split_sizes(const KernelContext& ctx, int64_t dim) {
  std::vector<int64_t> sizes;
  if (ctx.node.find_attr("split")) {
    sizes = ctx.node.attr_ints("split");
  } else if (const Tensor* s = ctx.input(1)) {
    BS_ASSIGN_OR_RETURN(sizes, with_node(ctx, read_int_list(*s, "split")));
  } else {
    const int64_t n = ctx.node.attr_int("num_outputs", static_cast<int64_t>(ctx.node.outputs.size()));
    if (n <= 0) return ctx.error("needs at least one output");
    const bool uneven_ok = ctx.node.find_attr("num_outputs") != nullptr;
    if (!uneven_ok && dim % n != 0)
      return ctx.error("axis size " + std::to_string(dim) + " does not split into " + std::to_string(n) + " equal parts");
    const int64_t part = (dim + n - 1) / n;
    for (int64_t k = 0; k < n; ++k) sizes.push_back(std::clamp<int64_t>(dim - k * part, 0, part));
  }
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) return ctx.error("split sizes " + shape_str(sizes) + " have a negative entry");
    total += s;
  }
  if (total != dim)
    return ctx.error("split sizes " + shape_str(sizes) + " do not add up to the axis size " + std::to_string(dim));
  if (sizes.size() != ctx.node.outputs.size())
    return ctx.error(std::to_string(sizes.size()) + " split sizes for " + std::to_string(ctx.node.outputs.size()) +
                     " outputs");
  return sizes;
}

Status split_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "input"));
  const int64_t rank = in->rank();
  BS_ASSIGN_OR_RETURN(int64_t axis, with_node(ctx, normalize_axis(ctx.node.attr_int("axis", 0), rank, "axis")));
  const int64_t dim = in->dim(static_cast<int>(axis));
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, split_sizes(ctx, dim));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= in->dim(static_cast<int>(d));
  for (int64_t d = axis + 1; d < rank; ++d) inner *= in->dim(static_cast<int>(d));
  const int threads = threads_for(in->numel() * elem_nbytes(in->dtype()), ctx.num_threads);
  int64_t offset = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    Shape shape = in->shape();
    shape[axis] = sizes[k];
    Tensor& out = alloc_output(ctx, k, in->dtype(), shape);
    const int64_t run = sizes[k] * inner;
    Status s = dispatch_by_size(in->dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      const T* src = elems<T>(*in) + offset * inner;
      T* dst = mutable_elems<T>(out);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t o = 0; o < outer; ++o) std::copy_n(src + o * dim * inner, run, dst + o * run);
      return Status::ok();
    });
    BS_TRY(with_node(ctx, s));
    offset += sizes[k];
  }
  return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_concat(const KernelInfo& info) {
  return make_opset_kernel(&concat_compute, info.opset);
}
Expected<std::unique_ptr<OpKernel>> make_split(const KernelInfo&) { return make_fn_kernel(&split_compute); }

}  // namespace bitsmith::kernels
