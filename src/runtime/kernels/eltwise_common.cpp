#include "runtime/kernels/eltwise_common.h"

#include <cmath>
#include <limits>

#include "bitsmith/core/half.h"
#include "runtime/kernels/dispatch.h"

namespace bitsmith::kernels {

namespace {

// Reads element i of a float tensor (f16, bf16, f32, f64) as double.
double float_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kF16: return f16_to_f32(t.data<uint16_t>()[i]);
    case DType::kBF16: return bf16_to_f32(t.data<uint16_t>()[i]);
    case DType::kF32: return t.data<float>()[i];
    default: return t.data<double>()[i];
  }
}

void set_float_at(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DType::kF16: t.mutable_data<uint16_t>()[i] = f32_to_f16(static_cast<float>(v)); break;
    case DType::kBF16: t.mutable_data<uint16_t>()[i] = f32_to_bf16(static_cast<float>(v)); break;
    case DType::kF32: t.mutable_data<float>()[i] = static_cast<float>(v); break;
    default: t.mutable_data<double>()[i] = v; break;
  }
}

}  // namespace

Tensor widen_to_f32(const Tensor& t) {
  if (t.dtype() == DType::kF16) {
    Tensor out(DType::kF32, t.shape());
    f16_to_f32_n(t.data<uint16_t>(), out.mutable_data<float>(), static_cast<size_t>(t.numel()));
    return out;
  }
  if (t.dtype() == DType::kBF16) return convert_float(t, DType::kF32);
  return t;
}

Tensor narrow_from_f32(const Tensor& t, DType dtype) {
  if (dtype == DType::kF16) {
    Tensor out(DType::kF16, t.shape());
    f32_to_f16_n(t.data<float>(), out.mutable_data<uint16_t>(), static_cast<size_t>(t.numel()));
    return out;
  }
  return convert_float(t, dtype);
}

Tensor convert_float(const Tensor& t, DType dtype) {
  Tensor out(dtype, t.shape());
  const int64_t n = t.numel();
  if (t.dtype() == DType::kF32 && dtype == DType::kF16) {
    f32_to_f16_n(t.data<float>(), out.mutable_data<uint16_t>(), static_cast<size_t>(n));
    return out;
  }
  // Conversions through double are exact for widening and round once for narrowing, except
  // f64 -> f16/bf16 (rounds twice, via f32; the kernels only narrow from f32).
  for (int64_t i = 0; i < n; ++i) set_float_at(out, i, float_at(t, i));
  return out;
}

}  // namespace bitsmith::kernels

namespace bitsmith::kernels::elt {

std::optional<Tensor> to_f64(const Tensor& t) {
  if (is_half_dtype(t.dtype()) || t.dtype() == DType::kF64) return convert_float(t, DType::kF64);
  Tensor out(DType::kF64, t.shape());
  double* y = out.mutable_data<double>();
  const int64_t n = t.numel();
  Status s = dispatch_numeric(t.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* x = t.data<T>();
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<double>(x[i]);
    return Status::ok();
  });
  if (!s.is_ok()) return std::nullopt;
  return out;
}

Tensor from_f64(const Tensor& t, DType dtype) {
  if (is_float(dtype)) return convert_float(t, dtype);
  Tensor out(dtype, t.shape());
  const double* x = t.data<double>();
  const int64_t n = t.numel();
  Status s = dispatch_numeric(dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    T* y = out.mutable_data<T>();
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
    for (int64_t i = 0; i < n; ++i) {
      const double v = std::trunc(x[i]);
      // hi may round up to 2^64 / 2^63 for 64-bit types; >= keeps the cast in range.
      y[i] = std::isnan(v) ? T(0) : v <= lo ? std::numeric_limits<T>::lowest()
                                  : v >= hi ? std::numeric_limits<T>::max() : static_cast<T>(v);
    }
    return Status::ok();
  });
  (void)s;  // every numeric dtype is visited; callers pass numeric dtypes only
  return out;
}

std::optional<int> normalize_axis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) return std::nullopt;
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

std::optional<std::vector<int64_t>> int_values(const Tensor& t) {
  const int64_t n = t.numel();
  std::vector<int64_t> v(static_cast<size_t>(n));
  if (t.dtype() == DType::kI64) {
    for (int64_t i = 0; i < n; ++i) v[i] = t.data<int64_t>()[i];
  } else if (t.dtype() == DType::kI32) {
    for (int64_t i = 0; i < n; ++i) v[i] = t.data<int32_t>()[i];
  } else {
    return std::nullopt;
  }
  return v;
}

int64_t dims_product(const Shape& shape, int begin, int end) {
  int64_t p = 1;
  for (int d = begin; d < end; ++d) p *= shape[d];
  return p;
}

BroadcastPlan make_broadcast_plan(const std::vector<Shape>& inputs, const Shape& out) {
  const size_t n_in = inputs.size();
  std::vector<std::vector<int64_t>> full(n_in);
  for (size_t k = 0; k < n_in; ++k) full[k] = broadcast_strides(inputs[k], out);
  BroadcastPlan plan;
  plan.strides.resize(n_in);
  // Walk dims from the innermost outwards, merging dim d into the current innermost kept dim
  // when every input is contiguous across the two.
  for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
    if (out[d] == 1) continue;
    bool merge = !plan.dims.empty();
    for (size_t k = 0; merge && k < n_in; ++k)
      merge = full[k][d] == plan.strides[k].front() * plan.dims.front();
    if (merge) {
      plan.dims.front() *= out[d];
      continue;
    }
    plan.dims.insert(plan.dims.begin(), out[d]);
    for (size_t k = 0; k < n_in; ++k) plan.strides[k].insert(plan.strides[k].begin(), full[k][d]);
  }
  if (plan.dims.empty()) {
    plan.dims.push_back(1);
    for (size_t k = 0; k < n_in; ++k) plan.strides[k].push_back(0);
  }
  // A merged broadcast dim has stride 0 * size = 0, and a merged contiguous dim keeps the
  // innermost stride, so innermost strides are 0 or 1.
  return plan;
}

std::optional<Shape> legacy_broadcast_shape(const Shape& a, const Shape& b, int64_t axis) {
  const int64_t ra = static_cast<int64_t>(a.size());
  const int64_t rb = static_cast<int64_t>(b.size());
  if (rb > ra) return std::nullopt;
  const int64_t start = axis < 0 ? ra - rb : axis;
  if (start < 0 || start + rb > ra) return std::nullopt;
  Shape out(static_cast<size_t>(ra), 1);
  for (int64_t i = 0; i < rb; ++i) {
    if (b[i] != 1 && b[i] != a[start + i]) return std::nullopt;
    out[start + i] = b[i];
  }
  return out;
}

std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string s;
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (i) s += i + 1 == shapes.size() ? " and " : ", ";
    s += shape_str(shapes[i]);
  }
  return s;
}

Tensor& alloc_output(KernelContext& ctx, size_t i, DType dtype, const Shape& shape) {
  ctx.outputs[i] = Tensor(dtype, shape);
  return ctx.outputs[i];
}

LegacyBroadcast legacy_broadcast_attrs(const KernelInfo& info) {
  LegacyBroadcast lb;
  if (info.opset >= 7) return lb;
  lb.enabled = info.node.attr_int("broadcast", 0) != 0;
  if (info.node.find_attr("axis")) lb.axis = info.node.attr_int("axis", -1);
  return lb;
}

Status prepare_binary(const KernelContext& ctx, const LegacyBroadcast& legacy, BinaryOperands& ops,
                      bool allow_mixed_dtypes) {
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(1);
  if (!a || !b) return ctx.error("expects 2 inputs");
  if (!allow_mixed_dtypes && a->dtype() != b->dtype())
    return ctx.error("input dtypes differ: " + std::string(dtype_name(a->dtype())) + " and " +
                     std::string(dtype_name(b->dtype())));
  ops.dtype = a->dtype();
  ops.widened = is_half_dtype(a->dtype());
  ops.a = widen_to_f32(*a);
  ops.b = widen_to_f32(*b);
  ops.a_shape = a->shape();
  ops.b_shape = b->shape();
  if (legacy.enabled) {
    std::optional<Shape> aligned = legacy_broadcast_shape(a->shape(), b->shape(), legacy.axis);
    if (!aligned)
      return ctx.error("input shapes " + shapes_str({a->shape(), b->shape()}) +
                       " do not fit legacy broadcasting at axis " + std::to_string(legacy.axis));
    ops.b_shape = *aligned;
  }
  std::optional<Shape> y = broadcast_shapes({ops.a_shape, ops.b_shape});
  if (!y) return ctx.error("input shapes " + shapes_str({a->shape(), b->shape()}) + " do not broadcast");
  ops.y_shape = *y;
  return Status::ok();
}

}  // namespace bitsmith::kernels::elt
