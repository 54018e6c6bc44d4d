// Where (three-way numpy broadcast select), Range, NonZero and OneHot.
#include <algorithm>
#include <cmath>

#include "bitsmith/core/half.h"
#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

constexpr int64_t kChunk = 16384;  // output elements per parallel work item

Status where_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* cond, required_input(ctx, 0, "condition"));
  BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 1, "X"));
  BS_ASSIGN_OR_RETURN(const Tensor* y, required_input(ctx, 2, "Y"));
  if (cond->dtype() != DType::kBool) return ctx.error("condition must be bool");
  if (x->dtype() != y->dtype())
    return ctx.error("X and Y dtypes differ (" + std::string(dtype_name(x->dtype())) + ", " +
                     std::string(dtype_name(y->dtype())) + ")");
  std::optional<Shape> out_shape = broadcast_shapes({cond->shape(), x->shape(), y->shape()});
  if (!out_shape)
    return ctx.error("shapes " + shape_str(cond->shape()) + ", " + shape_str(x->shape()) + ", " +
                     shape_str(y->shape()) + " do not broadcast");
  Tensor& out = alloc_output(ctx, 0, x->dtype(), *out_shape);
  const std::vector<std::vector<int64_t>> strides = {broadcast_strides(cond->shape(), *out_shape),
                                                     broadcast_strides(x->shape(), *out_shape),
                                                     broadcast_strides(y->shape(), *out_shape)};
  const int64_t n = out.numel();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const int threads = threads_for(n * elem_nbytes(x->dtype()), ctx.num_threads);
  Status s = dispatch_by_size(x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const uint8_t* c = cond->data<uint8_t>();
    const T* xs = elems<T>(*x);
    const T* ys = elems<T>(*y);
    T* dst = mutable_elems<T>(out);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t k = 0; k < chunks; ++k) {
      for_each_broadcast(*out_shape, strides, [&](int64_t i, const int64_t* off) {
        dst[i] = c[off[0]] ? xs[off[1]] : ys[off[2]];
      }, k * kChunk, std::min(n, (k + 1) * kChunk));
    }
    return Status::ok();
  });
  return with_node(ctx, s);
}

template <class T>
Expected<int64_t> range_count(T start, T limit, T delta) {
  if (delta == T(0)) return invalid_model("delta must not be 0");
  if constexpr (std::is_floating_point_v<T>) {
    const double n = std::ceil((static_cast<double>(limit) - start) / delta);
    if (!(n < 1e12)) return invalid_model("range is too long");
    return std::max<int64_t>(0, static_cast<int64_t>(n));
  } else {
    const double span = (static_cast<double>(limit) - static_cast<double>(start)) / static_cast<double>(delta);
    if (span > 1e12) return invalid_model("range is too long");
    if (span <= 0) return int64_t{0};
    const int64_t s = static_cast<int64_t>(start), l = static_cast<int64_t>(limit), d = static_cast<int64_t>(delta);
    return d > 0 ? (l - s + d - 1) / d : (s - l - d - 1) / -d;
  }
}

Status range_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* start, required_input(ctx, 0, "start"));
  BS_ASSIGN_OR_RETURN(const Tensor* limit, required_input(ctx, 1, "limit"));
  BS_ASSIGN_OR_RETURN(const Tensor* delta, required_input(ctx, 2, "delta"));
  if (start->dtype() != limit->dtype() || start->dtype() != delta->dtype())
    return ctx.error("start, limit and delta must have the same dtype");
  if (start->numel() != 1 || limit->numel() != 1 || delta->numel() != 1)
    return ctx.error("start, limit and delta must be scalars");
  Status s = dispatch_numeric(start->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T s0 = start->data<T>()[0], d = delta->data<T>()[0];
    BS_ASSIGN_OR_RETURN(int64_t n, range_count<T>(s0, limit->data<T>()[0], d));
    Tensor& out = alloc_output(ctx, 0, start->dtype(), {n});
    T* dst = out.mutable_data<T>();
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(s0 + static_cast<T>(i) * d);
    return Status::ok();
  });
  return with_node(ctx, s);
}

// Element i of `t` is non-zero (floats: -0 counts as zero, NaN as non-zero).
Expected<std::vector<uint8_t>> nonzero_mask(const Tensor& t) {
  std::vector<uint8_t> m(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::kF16 || t.dtype() == DType::kBF16) {
    for (size_t i = 0; i < m.size(); ++i) m[i] = (t.data<uint16_t>()[i] & 0x7fff) != 0;
    return m;
  }
  BS_TRY(dispatch_numeric_or_bool(t.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < m.size(); ++i) m[i] = t.data<uint8_t>()[i] != 0;
    } else {
      for (size_t i = 0; i < m.size(); ++i) m[i] = t.data<T>()[i] != T(0);
    }
    return Status::ok();
  }));
  return m;
}

Status nonzero_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
  BS_ASSIGN_OR_RETURN(std::vector<uint8_t> m, with_node(ctx, nonzero_mask(*x)));
  const Shape shape = x->rank() == 0 ? Shape{1} : x->shape();  // a scalar counts as 1-d
  const int64_t rank = static_cast<int64_t>(shape.size());
  int64_t nnz = 0;
  for (uint8_t v : m) nnz += v;
  Tensor& out = alloc_output(ctx, 0, DType::kI64, {rank, nnz});
  int64_t* dst = out.mutable_data<int64_t>();
  int64_t j = 0;
  for (int64_t flat = 0; flat < static_cast<int64_t>(m.size()); ++flat) {
    if (!m[flat]) continue;
    int64_t rem = flat;
    for (int64_t d = rank - 1; d >= 0; --d) {
      dst[d * nnz + j] = rem % shape[d];
      rem /= shape[d];
    }
    ++j;
  }
  return Status::ok();
}

Status onehot_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 0, "indices"));
  BS_ASSIGN_OR_RETURN(const Tensor* depth_t, required_input(ctx, 1, "depth"));
  BS_ASSIGN_OR_RETURN(const Tensor* values, required_input(ctx, 2, "values"));
  BS_ASSIGN_OR_RETURN(double depth_f, with_node(ctx, read_scalar_f64(*depth_t, "depth")));
  const int64_t depth = static_cast<int64_t>(depth_f);
  if (depth <= 0 || depth_f > 1e9) return ctx.error("depth " + std::to_string(depth_f) + " is not a positive size");
  if (values->numel() != 2) return ctx.error("values must have two elements [off, on]");
  const int64_t rank = indices->rank() + 1;
  BS_ASSIGN_OR_RETURN(int64_t axis, with_node(ctx, normalize_axis(ctx.node.attr_int("axis", -1), rank, "axis")));
  Tensor idx;
  BS_TRY(with_node(ctx, cast_tensor(*indices, DType::kI64, idx, 1)));
  Shape out_shape = indices->shape();
  out_shape.insert(out_shape.begin() + axis, depth);
  BS_TRY(with_node(ctx, check_shape(out_shape, "output shape")));
  int64_t post = 1;
  for (int64_t d = axis; d < indices->rank(); ++d) post *= indices->dim(static_cast<int>(d));
  Tensor& out = alloc_output(ctx, 0, values->dtype(), out_shape);
  return with_node(ctx, dispatch_by_size(values->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T off = elems<T>(*values)[0], on = elems<T>(*values)[1];
    T* dst = mutable_elems<T>(out);
    std::fill_n(dst, out.numel(), off);
    const int64_t* ix = idx.data<int64_t>();
    for (int64_t i = 0; i < idx.numel(); ++i) {
      int64_t v = ix[i] < 0 ? ix[i] + depth : ix[i];
      if (v < 0 || v >= depth) continue;
      const int64_t pre = i / post, p = i % post;
      dst[(pre * depth + v) * post + p] = on;
    }
    return Status::ok();
  }));
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_where(const KernelInfo&) { return make_fn_kernel(&where_compute); }
Expected<std::unique_ptr<OpKernel>> make_range(const KernelInfo&) { return make_fn_kernel(&range_compute); }
Expected<std::unique_ptr<OpKernel>> make_nonzero(const KernelInfo&) { return make_fn_kernel(&nonzero_compute); }
Expected<std::unique_ptr<OpKernel>> make_onehot(const KernelInfo&) { return make_fn_kernel(&onehot_compute); }

}  // namespace bitsmith::kernels
