// Scalar reference kernels and the shared arithmetic of the ONNX quantized ops:
// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, ConvInteger,
// QLinearMatMul, QLinearConv.
//
//   real = scale * (q - zero_point)
//   quantize:    q = saturate(round_half_even(x / scale) + zero_point)      (float division)
//   dequantize:  x = float(q - zero_point) * scale
//   requantize:  q = saturate(round_half_even(float(acc) * multiplier) + zero_point),
//                multiplier = (in_scale * w_scale) / out_scale, all in float.
// The fast kernels (quantized*.cpp) use these same inline helpers, so they match the references
// bit for bit; the integer accumulations are exact.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/ref/matmul_ref.h"

namespace bitsmith::kernels {

// Rounds half to even (the default FE_TONEAREST mode), clamps to [qmin, qmax]; NaN -> qmin.
inline int32_t saturate_round(float v, int32_t qmin, int32_t qmax) {
  v = std::nearbyint(v);
  if (v >= static_cast<float>(qmax)) return qmax;
  if (v >= static_cast<float>(qmin)) return static_cast<int32_t>(v);
  return qmin;
}

inline int32_t quantize_value(float x, float scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const float v = std::nearbyint(x / scale) + static_cast<float>(zero_point);
  return saturate_round(v, qmin, qmax);
}

inline int32_t requantize_value(int32_t acc, float multiplier, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const float v = std::nearbyint(static_cast<float>(acc) * multiplier) + static_cast<float>(zero_point);
  return saturate_round(v, qmin, qmax);
}

inline float requant_multiplier(float in_scale, float w_scale, float out_scale) {
  return in_scale * w_scale / out_scale;
}

// Where the scale / zero point of element (outer, a, inner) of a tensor viewed as
// [outer, axis_dim, inner] lives: per-tensor (index 0), per-axis (index a) or blocked along the
// axis with block_size (index (outer * ceil(axis_dim / block) + a / block) * inner + inner).
struct QuantLayout {
  int64_t outer = 1, axis_dim = 1, inner = 1;
  bool per_tensor = true;
  int64_t block_size = 0;  // > 0: blocked
  int64_t param_index(int64_t o, int64_t a, int64_t i) const {
    if (per_tensor) return 0;
    if (block_size <= 0) return a;
    const int64_t nb = (axis_dim + block_size - 1) / block_size;
    return (o * nb + a / block_size) * inner + i;
  }
};

namespace ref {

// q[i] = quantize_value(x[i], scale[p], zp[p]) with p from the layout; zp null means 0.
void quantize_linear(const QuantLayout& l, const float* x, const float* scale, const int32_t* zp,
                     int32_t qmin, int32_t qmax, int32_t* q);

// y[i] = float(q[i] - zp[p]) * scale[p].
void dequantize_linear(const QuantLayout& l, const int32_t* q, const float* scale, const int32_t* zp, float* y);

// DynamicQuantizeLinear (uint8): range [min(0, min x), max(0, max x)], scale = range / 255
// (1 when the range is empty), zero point = saturate(round(0 - min / scale)).
void dynamic_quantize_linear(int64_t n, const float* x, uint8_t* y, float* scale, uint8_t* zero_point);

// y[b, i, j] = sum_k (a - a_zp[i or 0]) * (b - b_zp[j or 0]) in int32. Zero-point vectors have 1
// entry (per tensor) or M (a, per row) / N (b, per column) entries.
template <class TA, class TB>
void matmul_integer(const MatMulPlan& p, const TA* a, const std::vector<int32_t>& a_zp, const TB* b,
                    const std::vector<int32_t>& b_zp, int32_t* y);

// y[n, m, o] = bias[m] + sum (x - x_zp) * (w - w_zp[m or 0]) over the window taps inside x
// (padding taps hold x_zp and contribute 0). bias may be null.
template <class TX, class TW>
void conv_integer(const WindowGeometry& g, const TX* x, int32_t x_zp, const TW* w,
                  const std::vector<int32_t>& w_zp, const int32_t* bias, int32_t* y);

}  // namespace ref
}  // namespace bitsmith::kernels
