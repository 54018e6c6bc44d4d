// dequantize_tensor and quant_error (include/bitsmith/quant/weight_quant.h).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "bitsmith/quant/weight_quant.h"

namespace bitsmith {

Expected<Tensor> dequantize_tensor(const Tensor& q) {
  const std::string label = "tensor '" + q.name() + "'";
  if (!q.quant()) return invalid_argument(label + ": has no quantization parameters");
  const QuantParams& p = *q.quant();
  if (p.qdtype != q.dtype())
    return invalid_argument(label + ": dtype " + std::string(dtype_name(q.dtype())) + " differs from its parameters' " +
                            std::string(dtype_name(p.qdtype)));
  if (q.dtype() != DType::kI8 && q.dtype() != DType::kU8 && q.dtype() != DType::kI4 && q.dtype() != DType::kU4)
    return invalid_argument(label + ": cannot dequantize " + std::string(dtype_name(q.dtype())) +
                            " (expected i8, u8, i4 or u4)");
  if (Status s = p.validate(q.shape()); !s) return s.with_context(label);
  // [outer, dim, inner] view around the axis (per-tensor: every element a row of one).
  int64_t outer = 1, dim = q.numel(), inner = 1;
  if (p.axis >= 0) {
    for (int d = 0; d < q.rank(); ++d) {
      if (d < p.axis) outer *= q.dim(d);
      if (d > p.axis) inner *= q.dim(d);
    }
    dim = q.dim(p.axis);
  }
  const int64_t bs = p.block_size, nb = bs > 0 ? (dim + bs - 1) / bs : 0;
  Tensor out(DType::kF32, q.shape(), q.name());
  float* y = out.mutable_data<float>();
  const uint8_t* raw = reinterpret_cast<const uint8_t*>(q.bytes());
  const DType t = q.dtype();
  const auto code = [&](int64_t i) -> int32_t {
    switch (t) {
      case DType::kI8: return static_cast<int8_t>(raw[i]);
      case DType::kU8: return raw[i];
      default: {
        const int32_t nib = i % 2 == 0 ? raw[i / 2] & 0xf : raw[i / 2] >> 4;
        return t == DType::kI4 && nib >= 8 ? nib - 16 : nib;
      }
    }
  };
  const int64_t rows = outer * dim;
  const int nt = q.numel() < (int64_t{1} << 16) ? 1 : omp_get_max_threads();  // results do not depend on it
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / dim, a = r % dim;
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t k = p.axis < 0 ? 0 : bs == 0 ? a : (o * nb + a / bs) * inner + i;
      const int32_t zp = p.zero_points.empty() ? 0 : p.zero_points[static_cast<size_t>(k)];
      y[r * inner + i] = static_cast<float>(code(r * inner + i) - zp) * p.scales[static_cast<size_t>(k)];
    }
  }
  return out;
}

QuantError quant_error(const Tensor& original_f32, const Tensor& dequantized_f32) {
  QuantError e;
  if (original_f32.dtype() != DType::kF32 || dequantized_f32.dtype() != DType::kF32 ||
      original_f32.numel() != dequantized_f32.numel()) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return QuantError{nan, nan, nan};
  }
  const float* a = original_f32.data<float>();
  const float* b = dequantized_f32.data<float>();
  double sw = 0, se = 0, sab = 0, sbb = 0, mx = 0;
  for (int64_t i = 0; i < original_f32.numel(); ++i) {
    const double wa = a[i], wb = b[i], d = wa - wb;
    sw += wa * wa;
    se += d * d;
    sab += wa * wb;
    sbb += wb * wb;
    mx = std::max(mx, std::fabs(d));
  }
  e.sqnr_db = se == 0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(sw / se);
  e.cosine = (sw == 0 || sbb == 0) ? (sw == sbb ? 1.0 : 0.0) : sab / std::sqrt(sw * sbb);
  e.max_abs = mx;
  return e;
}


}  // namespace bitsmith
