#include "runtime/kernels/ref/quantized_ref.h"

#include <algorithm>
#include <utility>

#include "runtime/kernels/ref/conv_ref.h"

namespace bitsmith::kernels::ref {

void quantize_linear(const QuantLayout& l, const float* x, const float* scale, const int32_t* zp,
                     int32_t qmin, int32_t qmax, int32_t* q) {
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t a = 0; a < l.axis_dim; ++a)
      for (int64_t i = 0; i < l.inner; ++i) {
        const int64_t e = (o * l.axis_dim + a) * l.inner + i, p = l.param_index(o, a, i);
        q[e] = quantize_value(x[e], scale[p], zp ? zp[p] : 0, qmin, qmax);
      }
}

void dequantize_linear(const QuantLayout& l, const int32_t* q, const float* scale, const int32_t* zp, float* y) {
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t a = 0; a < l.axis_dim; ++a)
      for (int64_t i = 0; i < l.inner; ++i) {
        const int64_t e = (o * l.axis_dim + a) * l.inner + i, p = l.param_index(o, a, i);
        y[e] = static_cast<float>(q[e] - (zp ? zp[p] : 0)) * scale[p];
      }
}

void dynamic_quantize_linear(int64_t n, const float* x, uint8_t* y, float* scale, uint8_t* zero_point) {
  float lo = 0.f, hi = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const float s = hi == lo ? 1.f : (hi - lo) / 255.f;
  const int32_t zp = saturate_round(0.f - lo / s, 0, 255);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<uint8_t>(quantize_value(x[i], s, zp, 0, 255));
  *scale = s;
  *zero_point = static_cast<uint8_t>(zp);
}

template <class TA, class TB>
void matmul_integer(const MatMulPlan& p, const TA* a, const std::vector<int32_t>& a_zp, const TB* b,
                    const std::vector<int32_t>& b_zp, int32_t* y) {
  for (int64_t bi = 0; bi < p.batches(); ++bi) {
    const TA* ab = a + p.a_offsets[bi];
    const TB* bb = b + p.b_offsets[bi];
    int32_t* yb = y + bi * p.m * p.n;
    for (int64_t i = 0; i < p.m; ++i) {
      const int32_t za = a_zp.size() == 1 ? a_zp[0] : a_zp[i];
      for (int64_t j = 0; j < p.n; ++j) {
        const int32_t zb = b_zp.size() == 1 ? b_zp[0] : b_zp[j];
        int32_t acc = 0;
        for (int64_t q = 0; q < p.k; ++q)
          acc += (static_cast<int32_t>(ab[i * p.k + q]) - za) * (static_cast<int32_t>(bb[q * p.n + j]) - zb);
        yb[i * p.n + j] = acc;
      }
    }
  }
}

template <class TX, class TW>
void conv_integer(const WindowGeometry& g, const TX* x, int32_t x_zp, const TW* w,
                  const std::vector<int32_t>& w_zp, const int32_t* bias, int32_t* y) {
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const int64_t in_size = g.in_size(), out_size = g.out_size(), taps = g.kernel_size();
  std::vector<std::pair<int64_t, int64_t>> live;
  for (int64_t o = 0; o < out_size; ++o) {
    live.clear();
    for_each_tap(g, o, [&](int64_t t, int64_t in_off) { live.emplace_back(t, in_off); });
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t m = 0; m < g.out_channels; ++m) {
        const int64_t grp = m / mg;
        const int32_t zw = w_zp.size() == 1 ? w_zp[0] : w_zp[m];
        int32_t acc = bias ? bias[m] : 0;
        for (int64_t c = 0; c < cg; ++c) {
          const TX* xc = x + (n * g.in_channels + grp * cg + c) * in_size;
          const TW* wc = w + (m * cg + c) * taps;
          for (const auto& [t, in_off] : live)
            acc += (static_cast<int32_t>(xc[in_off]) - x_zp) * (static_cast<int32_t>(wc[t]) - zw);
        }
        y[(n * g.out_channels + m) * out_size + o] = acc;
      }
  }
}

#define BS_QREF_INSTANTIATE(TA, TB)                                                                    \
  template void matmul_integer<TA, TB>(const MatMulPlan&, const TA*, const std::vector<int32_t>&, const TB*, \
                                       const std::vector<int32_t>&, int32_t*);                         \
  template void conv_integer<TA, TB>(const WindowGeometry&, const TA*, int32_t, const TB*,              \
                                     const std::vector<int32_t>&, const int32_t*, int32_t*);
BS_QREF_INSTANTIATE(uint8_t, uint8_t)
BS_QREF_INSTANTIATE(uint8_t, int8_t)
BS_QREF_INSTANTIATE(int8_t, uint8_t)
BS_QREF_INSTANTIATE(int8_t, int8_t)
#undef BS_QREF_INSTANTIATE

}  // namespace bitsmith::kernels::ref
