#include "runtime/kernels/ref/conv_ref.h"

#include <utility>
#include <vector>

namespace bitsmith::kernels::ref {

template <class T>
void conv(const WindowGeometry& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const int64_t in_size = g.in_size(), out_size = g.out_size(), taps = g.kernel_size();
  std::vector<std::pair<int64_t, int64_t>> live;  // (tap, input offset) inside the input
  for (int64_t o = 0; o < out_size; ++o) {
    live.clear();
    for_each_tap(g, o, [&](int64_t t, int64_t in_off) { live.emplace_back(t, in_off); });
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t m = 0; m < g.out_channels; ++m) {
        const int64_t grp = m / mg;
        double acc = b ? static_cast<double>(b[m]) : 0.0;
        for (int64_t c = 0; c < cg; ++c) {
          const T* xc = x + (n * g.in_channels + grp * cg + c) * in_size;
          const T* wc = w + (m * cg + c) * taps;
          for (const auto& [t, in_off] : live) acc += static_cast<double>(xc[in_off]) * static_cast<double>(wc[t]);
        }
        y[(n * g.out_channels + m) * out_size + o] = static_cast<T>(acc);
      }
  }
}

template <class T>
void conv_transpose(const WindowGeometry& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const int64_t in_size = g.in_size(), out_size = g.out_size(), taps = g.kernel_size();
  const int r = g.rank();
  std::vector<double> acc(static_cast<size_t>(g.batch * g.out_channels * out_size), 0.0);
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t m = 0; m < g.out_channels; ++m)
      for (int64_t o = 0; o < out_size; ++o) acc[(n * g.out_channels + m) * out_size + o] = b ? b[m] : 0.0;
  for (int64_t i = 0; i < in_size; ++i) {
    int64_t in_c[kMaxSpatialRank];
    int64_t rem = i;
    for (int d = r - 1; d >= 0; --d) {
      in_c[d] = rem % g.in_spatial[d];
      rem /= g.in_spatial[d];
    }
    for (int64_t t = 0; t < taps; ++t) {
      int64_t trem = t, out_off = 0, stride = 1;
      bool inside = true;
      for (int d = r - 1; d >= 0; --d) {
        const int64_t k = trem % g.kernel[d];
        trem /= g.kernel[d];
        const int64_t pos = in_c[d] * g.strides[d] + k * g.dilations[d] - g.pads_begin[d];
        if (pos < 0 || pos >= g.out_spatial[d]) inside = false;
        out_off += pos * stride;
        stride *= g.out_spatial[d];
      }
      if (!inside) continue;
      for (int64_t n = 0; n < g.batch; ++n)
        for (int64_t c = 0; c < g.in_channels; ++c) {
          const double xv = x[(n * g.in_channels + c) * in_size + i];
          const int64_t grp = c / cg;
          for (int64_t ml = 0; ml < mg; ++ml) {
            const double wv = w[(c * mg + ml) * taps + t];
            acc[(n * g.out_channels + grp * mg + ml) * out_size + out_off] += xv * wv;
          }
        }
    }
  }
  for (size_t j = 0; j < acc.size(); ++j) y[j] = static_cast<T>(acc[j]);
}

template void conv<float>(const WindowGeometry&, const float*, const float*, const float*, float*);
template void conv<double>(const WindowGeometry&, const double*, const double*, const double*, double*);
template void conv_transpose<float>(const WindowGeometry&, const float*, const float*, const float*, float*);
template void conv_transpose<double>(const WindowGeometry&, const double*, const double*, const double*,
                                     double*);

}  // namespace bitsmith::kernels::ref
