// Pad: modes constant, reflect, edge and wrap; pads as an attribute (opset < 11: 'pads', or
// 'paddings' in opset 1) or as input 1 with optional constant_value (input 2) and axes (input 3,
// opset 18). Negative pads crop.
//
// Each output dim has a table mapping output coordinate -> input coordinate (-1: the constant),
// so every mode is the same row-wise gather.
#include <algorithm>

#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

Expected<PadMode> pad_mode(const std::string& s) {
  if (s == "constant") return PadMode::kConstant;
  if (s == "reflect") return PadMode::kReflect;
  if (s == "edge") return PadMode::kEdge;
  if (s == "wrap") return PadMode::kWrap;
  return invalid_model("mode \"" + s + "\" is not one of [constant, reflect, edge, wrap]");
}

// Input coordinate for output coordinate `o` of a dim of input size n padded by `begin` in front.
int64_t source_index(int64_t o, int64_t begin, int64_t n, PadMode mode) {
  const int64_t src = o - begin;
  if (src >= 0 && src < n) return src;
  switch (mode) {
    case PadMode::kConstant: return -1;
    case PadMode::kEdge: return std::clamp<int64_t>(src, 0, n - 1);
    case PadMode::kWrap: return ((src % n) + n) % n;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      int64_t m = ((src % period) + period) % period;
      return m >= n ? period - m : m;
    }
  }
  return -1;
}

// Pads per dim as [begin..., end...] over all dims of `rank`.
Expected<std::vector<int64_t>> read_pads(const KernelContext& ctx, int64_t opset, int64_t rank) {
  std::vector<int64_t> pads;
  if (opset < 11) {
    pads = ctx.node.attr_ints(ctx.node.find_attr("pads") ? "pads" : "paddings");
  } else {
    BS_ASSIGN_OR_RETURN(const Tensor* p, required_input(ctx, 1, "pads"));
    BS_ASSIGN_OR_RETURN(pads, with_node(ctx, read_int_list(*p, "pads")));
  }
  std::vector<int64_t> axes;
  if (const Tensor* a = ctx.input(3)) {
    BS_ASSIGN_OR_RETURN(axes, with_node(ctx, read_int_list(*a, "axes")));
    BS_ASSIGN_OR_RETURN(axes, with_node(ctx, normalize_axes(axes, rank, "axis")));
  } else {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  const int64_t na = static_cast<int64_t>(axes.size());
  if (static_cast<int64_t>(pads.size()) != 2 * na)
    return ctx.error("pads has " + std::to_string(pads.size()) + " entries, expected " + std::to_string(2 * na));
  std::vector<int64_t> full(2 * rank, 0);
  for (int64_t i = 0; i < na; ++i) {
    full[axes[i]] = pads[i];
    full[rank + axes[i]] = pads[na + i];
  }
  return full;
}

// The padding value as one element of `dtype` (zero / empty string when not given).
Expected<Tensor> pad_value(const KernelContext& ctx, int64_t opset, DType dtype) {
  if (opset < 11) {
    Tensor v;
    if (dtype == DType::kString) return Tensor::strings({}, {std::string()});
    BS_TRY(with_node(ctx, cast_tensor(Tensor::scalar<float>(ctx.node.attr_float("value", 0.f)), dtype, v, 1)));
    return v;
  }
  const Tensor* c = ctx.input(2);
  if (c && c->numel() > 0) {
    if (c->dtype() != dtype || c->numel() != 1)
      return ctx.error("constant_value must be one " + std::string(dtype_name(dtype)) + " value");
    return *c;
  }
  if (dtype == DType::kString) return Tensor::strings({}, {std::string()});
  return Tensor(dtype, Shape{});
}

Status pad_compute(KernelContext& ctx, int64_t opset) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "data"));
  BS_ASSIGN_OR_RETURN(PadMode mode, with_node(ctx, pad_mode(ctx.node.attr_string("mode", "constant"))));
  const int64_t rank = in->rank();
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> pads, read_pads(ctx, opset, rank));
  BS_ASSIGN_OR_RETURN(Tensor value, pad_value(ctx, opset, in->dtype()));
  Shape out_shape(rank);
  std::vector<std::vector<int64_t>> maps(rank);
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t n = in->dim(static_cast<int>(d));
    out_shape[d] = n + pads[d] + pads[rank + d];
    if (out_shape[d] < 0) return ctx.error("pads " + shape_str(pads) + " crop more than dim " + std::to_string(d));
    if (n == 0 && out_shape[d] > 0 && mode != PadMode::kConstant)
      return ctx.error("cannot pad an empty dim " + std::to_string(d) + " in a non-constant mode");
    maps[d].resize(out_shape[d]);
    for (int64_t o = 0; o < out_shape[d]; ++o) maps[d][o] = source_index(o, pads[d], n, mode);
  }
  Tensor& out = alloc_output(ctx, 0, in->dtype(), out_shape);
  if (out.numel() == 0) return Status::ok();
  if (rank == 0) return with_node(ctx, dispatch_by_size(in->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    mutable_elems<T>(out)[0] = elems<T>(*in)[0];
    return Status::ok();
  }));
  const std::vector<int64_t> in_strides = shape_strides(in->shape());
  const int64_t row = out_shape[rank - 1];
  const int64_t rows = out.numel() / row;
  const std::vector<int64_t>& last = maps[rank - 1];
  const int threads = threads_for(out.numel() * elem_nbytes(in->dtype()), ctx.num_threads);
  Status s = dispatch_by_size(in->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = elems<T>(*in);
    const T fill = elems<T>(value)[0];
    T* dst = mutable_elems<T>(out);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      T* o = dst + r * row;
      int64_t rem = r, off = 0;
      bool constant_row = false;
      for (int64_t d = rank - 2; d >= 0; --d) {
        const int64_t m = maps[d][rem % out_shape[d]];
        rem /= out_shape[d];
        if (m < 0) constant_row = true;
        off += m * in_strides[d];
      }
      if (constant_row) {
        std::fill_n(o, row, fill);
        continue;
      }
      for (int64_t i = 0; i < row; ++i) o[i] = last[i] < 0 ? fill : src[off + last[i]];
    }
    return Status::ok();
  });
  return with_node(ctx, s);
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_pad(const KernelInfo& info) {
  Expected<PadMode> mode = pad_mode(info.node.attr_string("mode", "constant"));
  if (!mode) return mode.status().with_context(info.node.describe());
  return make_opset_kernel(&pad_compute, info.opset);
}

}  // namespace bitsmith::kernels
