#include "runtime/executor_feeds.h"

#include <cmath>
#include <cstdint>

#include "bitsmith/core/half.h"

namespace bitsmith::executor_detail {
namespace {

std::string dtype_label(DType t, int onnx_code) {
  if (t != DType::kUndefined) return std::string(dtype_name(t));
  return onnx_code ? "onnx-type-" + std::to_string(onnx_code) : "any";
}

std::string dim_label(const Dim& d) {
  if (d.has_value()) return std::to_string(d.value);
  return d.param.empty() ? "?" : d.param;
}

// Index of the first non-finite element of `n` values read through `to_double`, or -1.
template <class T, class Convert>
int64_t first_non_finite(const T* p, int64_t n, Convert to_double) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(to_double(p[i]))) return i;
  return -1;
}

}  // namespace

std::string describe_type(const TypeInfo& type) {
  std::string s = dtype_label(type.elem_type, type.elem_type_code);
  if (!type.has_shape) return s + " [*]";
  s += " [";
  for (size_t i = 0; i < type.dims.size(); ++i) {
    if (i) s += ", ";
    s += dim_label(type.dims[i]);
  }
  return s + "]";
}

std::string describe_tensor(const Tensor& tensor) {
  return std::string(dtype_name(tensor.dtype())) + " " + shape_str(tensor.shape());
}

Status check_feed(const ValueInfo& decl, const Tensor& tensor, bool dynamic_batch) {
  const std::string prefix = "input '" + decl.name + "': ";
  if (!tensor.defined()) return data_error(prefix + "the given tensor is empty (no dtype)");
  const TypeInfo& type = decl.type;
  if (type.kind != TypeInfo::Kind::kTensor) return Status::ok();  // nothing declared to check
  const std::string mismatch =
      prefix + "expected " + describe_type(type) + ", got " + describe_tensor(tensor);
  if (type.elem_type != DType::kUndefined && type.elem_type != tensor.dtype())
    return data_error(mismatch + " (dtype differs)");
  if (type.elem_type == DType::kUndefined && type.elem_type_code != 0)
    return data_error(mismatch + " (the model's input type is not one bitsmith knows)");
  if (!type.has_shape) return Status::ok();
  if (static_cast<size_t>(tensor.rank()) != type.dims.size())
    return data_error(mismatch + " (rank " + std::to_string(tensor.rank()) + ", expected " +
                      std::to_string(type.dims.size()) + ")");
  for (size_t i = 0; i < type.dims.size(); ++i) {
    const Dim& d = type.dims[i];
    if (!d.has_value() || (dynamic_batch && i == 0)) continue;
    if (tensor.shape()[i] != d.value)
      return data_error(mismatch + " (dim " + std::to_string(i) + " is " +
                        std::to_string(tensor.shape()[i]) + ", expected " + std::to_string(d.value) +
                        ")");
  }
  return Status::ok();
}

Status check_finite(const std::string& input_name, const Tensor& tensor) {
  const int64_t n = tensor.numel();
  int64_t bad = -1;
  double value = 0;
  switch (tensor.dtype()) {
    case DType::kF32: {
      const float* p = tensor.data<float>();
      bad = first_non_finite(p, n, [](float v) { return static_cast<double>(v); });
      if (bad >= 0) value = p[bad];
      break;
    }
    case DType::kF64: {
      const double* p = tensor.data<double>();
      bad = first_non_finite(p, n, [](double v) { return v; });
      if (bad >= 0) value = p[bad];
      break;
    }
    case DType::kF16:
    case DType::kBF16: {
      const auto* p = reinterpret_cast<const uint16_t*>(tensor.bytes());
      const bool is_f16 = tensor.dtype() == DType::kF16;
      auto to_double = [is_f16](uint16_t v) {
        return static_cast<double>(is_f16 ? f16_to_f32(v) : bf16_to_f32(v));
      };
      bad = first_non_finite(p, n, to_double);
      if (bad >= 0) value = to_double(p[bad]);
      break;
    }
    default:
      return Status::ok();
  }
  if (bad < 0) return Status::ok();
  const char* what = std::isnan(value) ? "NaN" : (value > 0 ? "+Inf" : "-Inf");
  return data_error("input '" + input_name + "': element " + std::to_string(bad) + " (of " +
                    std::to_string(n) + ", " + describe_tensor(tensor) + ") is " + what +
                    "; inputs must be finite");
}

}  // namespace bitsmith::executor_detail
