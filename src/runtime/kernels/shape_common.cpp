#include "runtime/kernels/shape_common.h"

#include <algorithm>

#include "bitsmith/core/half.h"

namespace bitsmith::kernels::movement {

Expected<std::vector<int64_t>> read_int_list(const Tensor& t, const std::string& what) {
  if (t.rank() > 1)
    return invalid_model(what + " must be 0-d or 1-d, got shape " + shape_str(t.shape()));
  const int64_t n = t.numel();
  std::vector<int64_t> v(static_cast<size_t>(n));
  if (t.dtype() == DType::kI64) {
    const int64_t* p = t.data<int64_t>();
    std::copy(p, p + n, v.begin());
  } else if (t.dtype() == DType::kI32) {
    const int32_t* p = t.data<int32_t>();
    std::copy(p, p + n, v.begin());
  } else {
    return invalid_model(what + " must be int32 or int64, got " + std::string(dtype_name(t.dtype())));
  }
  return v;
}

Expected<std::vector<int64_t>> read_indices(const Tensor& t, int64_t dim, const std::string& what) {
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> v, read_int_list(t.reshaped({t.numel()}), what));
  for (int64_t& x : v) {
    if (x < -dim || x >= dim)
      return invalid_model(what + " value " + std::to_string(x) + " is out of range for a dimension of " +
                           std::to_string(dim));
    if (x < 0) x += dim;
  }
  return v;
}

Expected<double> read_scalar_f64(const Tensor& t, const std::string& what) {
  if (t.numel() != 1)
    return invalid_model(what + " must hold exactly one value, got shape " + shape_str(t.shape()));
  switch (t.dtype()) {
    case DType::kF32: return static_cast<double>(t.data<float>()[0]);
    case DType::kF64: return t.data<double>()[0];
    case DType::kF16: return static_cast<double>(f16_to_f32(t.data<uint16_t>()[0]));
    case DType::kBF16: return static_cast<double>(bf16_to_f32(t.data<uint16_t>()[0]));
    case DType::kI64: return static_cast<double>(t.data<int64_t>()[0]);
    case DType::kI32: return static_cast<double>(t.data<int32_t>()[0]);
    case DType::kI16: return static_cast<double>(t.data<int16_t>()[0]);
    case DType::kI8: return static_cast<double>(t.data<int8_t>()[0]);
    case DType::kU64: return static_cast<double>(t.data<uint64_t>()[0]);
    case DType::kU32: return static_cast<double>(t.data<uint32_t>()[0]);
    case DType::kU16: return static_cast<double>(t.data<uint16_t>()[0]);
    case DType::kU8: return static_cast<double>(t.data<uint8_t>()[0]);
    case DType::kBool: return t.data<uint8_t>()[0] ? 1.0 : 0.0;
    default: return invalid_model(what + ": dtype " + std::string(dtype_name(t.dtype())) + " is not numeric");
  }
}

Expected<int64_t> read_scalar_i64(const Tensor& t, const std::string& what) {
  if (t.numel() != 1)
    return invalid_model(what + " must hold exactly one value, got shape " + shape_str(t.shape()));
  BS_ASSIGN_OR_RETURN(std::vector<int64_t> v, read_int_list(t.reshaped({1}), what));
  return v[0];
}

Expected<std::vector<double>> read_float_list(const Tensor& t, const std::string& what) {
  if (t.rank() > 1)
    return invalid_model(what + " must be 1-d, got shape " + shape_str(t.shape()));
  const auto n = static_cast<size_t>(t.numel());
  std::vector<double> v(n);
  switch (t.dtype()) {
    case DType::kF32: for (size_t i = 0; i < n; ++i) v[i] = t.data<float>()[i]; break;
    case DType::kF64: for (size_t i = 0; i < n; ++i) v[i] = t.data<double>()[i]; break;
    case DType::kF16: for (size_t i = 0; i < n; ++i) v[i] = f16_to_f32(t.data<uint16_t>()[i]); break;
    case DType::kBF16: for (size_t i = 0; i < n; ++i) v[i] = bf16_to_f32(t.data<uint16_t>()[i]); break;
    default: return invalid_model(what + " must be a float tensor, got " + std::string(dtype_name(t.dtype())));
  }
  return v;
}

Expected<int64_t> normalize_axis(int64_t axis, int64_t rank, const std::string& what) {
  if (axis < -rank || axis >= rank)
    return invalid_model(what + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

Expected<std::vector<int64_t>> normalize_axes(const std::vector<int64_t>& axes, int64_t rank,
                                              const std::string& what) {
  std::vector<int64_t> out;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    BS_ASSIGN_OR_RETURN(int64_t n, normalize_axis(a, rank, what));
    if (seen[n]) return invalid_model(what + " " + std::to_string(a) + " is repeated");
    seen[n] = true;
    out.push_back(n);
  }
  return out;
}

Status check_shape(const Shape& shape, const std::string& what) {
  constexpr int64_t kMaxNumel = int64_t{1} << 40;
  for (int64_t d : shape)
    if (d < 0) return invalid_model(what + " " + shape_str(shape) + " has a negative dimension");
  const int64_t n = shape_numel(shape);
  if (n < 0 || n > kMaxNumel)
    return invalid_model(what + " " + shape_str(shape) + " has too many elements");
  return Status::ok();
}

void set_output(KernelContext& ctx, size_t i, Tensor t) {
  if (i >= ctx.outputs.size()) return;
  if (i < ctx.node.outputs.size()) t.set_name(ctx.node.outputs[i]);
  ctx.outputs[i] = std::move(t);
}

Tensor& alloc_output(KernelContext& ctx, size_t i, DType dtype, const Shape& shape) {
  set_output(ctx, i, Tensor(dtype, shape));
  return ctx.outputs[i];
}

Expected<const Tensor*> required_input(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor* t = ctx.input(i);
  if (!t || !t->defined())
    return ctx.error(std::string("input ") + std::to_string(i) + " (" + what + ") is required");
  return t;
}

}  // namespace bitsmith::kernels::movement
