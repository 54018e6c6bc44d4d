// Ops that only change the shape (or pass data through): Identity, Dropout (inference), Flatten,
// Reshape, Squeeze, Unsqueeze, Shape, Size.
//
// Ownership: outputs of Identity, Dropout, Flatten, Reshape, Squeeze and Unsqueeze share the
// input's storage (Tensor handles, no copy); kernels never write into their inputs.
#include <algorithm>

#include "runtime/kernels/kernels.h"
#include "runtime/kernels/shape_common.h"

namespace bitsmith::kernels {

using namespace movement;  // NOLINT(google-build-using-namespace): this group's helpers
namespace {

Status identity_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "input"));
  set_output(ctx, 0, *in);
  return Status::ok();
}

// A tensor of `shape` whose every element is one in `dtype` (bool true for bool).
Expected<Tensor> ones_like(DType dtype, const Shape& shape) {
  Tensor one;
  BS_TRY(cast_tensor(Tensor::scalar<uint8_t>(1), dtype, one, 1));
  Tensor out(dtype, shape);
  const size_t es = storage_nbytes(dtype, 1);
  if (es == 0) return unsupported("Dropout mask of dtype " + std::string(dtype_name(dtype)));
  for (int64_t i = 0; i < out.numel(); ++i) std::copy_n(one.bytes(), es, out.mutable_bytes() + i * es);
  return out;
}

// Inference Dropout: output = input; the optional mask is all ones (bool true from opset 10).
// Training mode with a non-zero ratio needs random numbers and is refused.
Status dropout_compute(KernelContext& ctx, int64_t opset) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "data"));
  bool training = false;
  double ratio = ctx.node.attr_float("ratio", 0.5f);
  if (opset >= 12) {
    if (const Tensor* r = ctx.input(1)) {
      BS_ASSIGN_OR_RETURN(ratio, with_node(ctx, read_scalar_f64(*r, "ratio")));
    }
    if (const Tensor* t = ctx.input(2)) {
      BS_ASSIGN_OR_RETURN(double tm, with_node(ctx, read_scalar_f64(*t, "training_mode")));
      training = tm != 0.0;
    }
  }
  if (training && ratio != 0.0)
    return ctx.unsupported_error("training-mode Dropout with ratio " + std::to_string(ratio) +
                                 " (random masks) is not supported");
  set_output(ctx, 0, *in);
  if (wants_output(ctx, 1)) {
    const DType mask_type = opset < 10 ? in->dtype() : DType::kBool;
    BS_ASSIGN_OR_RETURN(Tensor mask, with_node(ctx, ones_like(mask_type, in->shape())));
    set_output(ctx, 1, std::move(mask));
  }
  return Status::ok();
}

Status flatten_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "input"));
  const int64_t rank = in->rank();
  int64_t axis = ctx.node.attr_int("axis", 1);
  if (axis < -rank || axis > rank)
    return ctx.error("axis " + std::to_string(axis) + " is out of range for input shape " + shape_str(in->shape()));
  if (axis < 0) axis += rank;
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= in->dim(static_cast<int>(d));
  int64_t inner = 1;
  for (int64_t d = axis; d < rank; ++d) inner *= in->dim(static_cast<int>(d));
  set_output(ctx, 0, in->reshaped({outer, inner}));
  return Status::ok();
}

// The output shape of Reshape: 0 copies the input dim (unless allowzero), -1 is inferred.
Expected<Shape> reshape_target(const Shape& in_shape, const std::vector<int64_t>& spec, bool allowzero) {
  Shape out(spec.size());
  int infer_at = -1;
  int64_t known = 1;
  bool has_zero = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer_at >= 0) return invalid_model("shape " + shape_str(spec) + " has more than one -1");
      infer_at = static_cast<int>(i);
      continue;
    }
    if (d < -1) return invalid_model("shape " + shape_str(spec) + " has a dimension below -1");
    if (d == 0 && !allowzero) {
      if (i >= in_shape.size())
        return invalid_model("shape " + shape_str(spec) + ": 0 at position " + std::to_string(i) +
                             " has no input dimension to copy (input " + shape_str(in_shape) + ")");
      d = in_shape[i];
    }
    if (d == 0) has_zero = true;
    out[i] = d;
    known *= d;
  }
  const int64_t numel = shape_numel(in_shape);
  if (infer_at >= 0) {
    if (has_zero || known == 0) {
      if (numel != 0 || allowzero)
        return invalid_model("shape " + shape_str(spec) + ": cannot infer -1 next to a zero dimension");
      out[infer_at] = 0;
    } else {
      if (numel % known != 0)
        return invalid_model("cannot reshape " + shape_str(in_shape) + " to " + shape_str(spec));
      out[infer_at] = numel / known;
    }
  }
  if (shape_numel(out) != numel)
    return invalid_model("cannot reshape " + shape_str(in_shape) + " (" + std::to_string(numel) +
                         " elements) to " + shape_str(spec));
  return out;
}

Status reshape_compute(KernelContext& ctx, int64_t opset) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "data"));
  std::vector<int64_t> spec;
  if (opset < 5 || ctx.input(1) == nullptr) {
    if (!ctx.node.find_attr("shape")) return ctx.error("needs a 'shape' input or attribute");
    spec = ctx.node.attr_ints("shape");
  } else {
    BS_ASSIGN_OR_RETURN(spec, with_node(ctx, read_int_list(*ctx.input(1), "shape")));
  }
  const bool allowzero = ctx.node.attr_int("allowzero", 0) != 0;
  BS_ASSIGN_OR_RETURN(Shape out, with_node(ctx, reshape_target(in->shape(), spec, allowzero)));
  set_output(ctx, 0, in->reshaped(std::move(out)));
  return Status::ok();
}

// Axes from the 'axes' attribute (opset < 13) or input 1; `present` is false when neither is given.
Expected<std::vector<int64_t>> axes_attr_or_input(const KernelContext& ctx, bool& present) {
  present = false;
  if (ctx.node.find_attr("axes")) {
    present = true;
    return ctx.node.attr_ints("axes");
  }
  if (const Tensor* t = ctx.input(1)) {
    present = true;
    return with_node(ctx, read_int_list(*t, "axes"));
  }
  return std::vector<int64_t>{};
}

Status squeeze_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "data"));
  bool present = false;
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> axes, axes_attr_or_input(ctx, present));
  const int64_t rank = in->rank();
  std::vector<bool> drop(static_cast<size_t>(rank), false);
  if (!present || axes.empty()) {  // no axes (or an empty list, as ONNX Runtime reads it): all 1s
    for (int64_t d = 0; d < rank; ++d) drop[d] = in->dim(static_cast<int>(d)) == 1;
  } else {
    BS_ASSIGN_OR_RETURN(std::vector<int64_t> norm, with_node(ctx, normalize_axes(axes, rank, "axis")));
    for (int64_t a : norm) {
      if (in->dim(static_cast<int>(a)) != 1)
        return ctx.error("cannot squeeze axis " + std::to_string(a) + " of shape " + shape_str(in->shape()));
      drop[a] = true;
    }
  }
  Shape out;
  for (int64_t d = 0; d < rank; ++d)
    if (!drop[d]) out.push_back(in->dim(static_cast<int>(d)));
  set_output(ctx, 0, in->reshaped(std::move(out)));
  return Status::ok();
}

Status unsqueeze_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "data"));
  bool present = false;
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> axes, axes_attr_or_input(ctx, present));
  if (!present) return ctx.error("needs axes (attribute before opset 13, input from opset 13)");
  const int64_t out_rank = in->rank() + static_cast<int64_t>(axes.size());
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> norm, with_node(ctx, normalize_axes(axes, out_rank, "axis")));
  std::vector<bool> is_new(static_cast<size_t>(out_rank), false);
  for (int64_t a : norm) is_new[a] = true;
  Shape out;
  int src = 0;
  for (int64_t d = 0; d < out_rank; ++d) out.push_back(is_new[d] ? 1 : in->dim(src++));
  set_output(ctx, 0, in->reshaped(std::move(out)));
  return Status::ok();
}

Status shape_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "data"));
  const int64_t rank = in->rank();
  auto clamp_dim = [rank](int64_t v) {
    if (v < 0) v += rank;
    return std::clamp<int64_t>(v, 0, rank);
  };
  const int64_t start = clamp_dim(ctx.node.attr_int("start", 0));
  const int64_t end = clamp_dim(ctx.node.attr_int("end", rank));
  const int64_t n = std::max<int64_t>(0, end - start);
  Tensor& out = alloc_output(ctx, 0, DType::kI64, {n});
  for (int64_t i = 0; i < n; ++i) out.mutable_data<int64_t>()[i] = in->dim(static_cast<int>(start + i));
  return Status::ok();
}

Status size_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* in, required_input(ctx, 0, "data"));
  set_output(ctx, 0, Tensor::scalar<int64_t>(in->numel()));
  return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_identity(const KernelInfo&) { return make_fn_kernel(&identity_compute); }
Expected<std::unique_ptr<OpKernel>> make_dropout(const KernelInfo& info) {
  return make_opset_kernel(&dropout_compute, info.opset);
}
Expected<std::unique_ptr<OpKernel>> make_flatten(const KernelInfo&) { return make_fn_kernel(&flatten_compute); }
Expected<std::unique_ptr<OpKernel>> make_reshape(const KernelInfo& info) {
  return make_opset_kernel(&reshape_compute, info.opset);
}
Expected<std::unique_ptr<OpKernel>> make_squeeze(const KernelInfo&) { return make_fn_kernel(&squeeze_compute); }
Expected<std::unique_ptr<OpKernel>> make_unsqueeze(const KernelInfo&) { return make_fn_kernel(&unsqueeze_compute); }
Expected<std::unique_ptr<OpKernel>> make_shape(const KernelInfo&) { return make_fn_kernel(&shape_compute); }
Expected<std::unique_ptr<OpKernel>> make_size(const KernelInfo&) { return make_fn_kernel(&size_compute); }

}  // namespace bitsmith::kernels
