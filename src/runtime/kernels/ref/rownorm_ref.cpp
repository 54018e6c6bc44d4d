#include "runtime/kernels/ref/rownorm_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bitsmith::kernels::elt {

template <class T>
void softmax_ref(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      const T* xs = x + o * n * inner + j;
      T* ys = y + o * n * inner + j;
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < n; ++k) m = std::max(m, static_cast<double>(xs[k * inner]));
      double sum = 0.0;
      for (int64_t k = 0; k < n; ++k) sum += std::exp(static_cast<double>(xs[k * inner]) - m);
      const double log_sum = std::log(sum);
      for (int64_t k = 0; k < n; ++k) {
        const double d = static_cast<double>(xs[k * inner]) - m;
        ys[k * inner] = static_cast<T>(log ? d - log_sum : std::exp(d) / sum);
      }
    }
  }
}

template <class T>
void hardmax_ref(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      const T* xs = x + o * n * inner + j;
      T* ys = y + o * n * inner + j;
      int64_t best = 0;
      for (int64_t k = 1; k < n; ++k)
        if (xs[k * inner] > xs[best * inner]) best = k;
      for (int64_t k = 0; k < n; ++k) ys[k * inner] = k == best ? T(1) : T(0);
    }
  }
}

template <class T>
void layernorm_ref(const T* x, const T* scale, const T* bias, T* y, double* mean, double* inv_std, int64_t rows,
                   int64_t cols, double epsilon) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    double sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum += static_cast<double>(xr[c]);
    const double m = sum / static_cast<double>(cols);
    double sq = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      const double d = static_cast<double>(xr[c]) - m;
      sq += d * d;
    }
    const double is = 1.0 / std::sqrt(sq / static_cast<double>(cols) + epsilon);
    for (int64_t c = 0; c < cols; ++c) {
      double v = (static_cast<double>(xr[c]) - m) * is * static_cast<double>(scale[c]);
      if (bias) v += static_cast<double>(bias[c]);
      yr[c] = static_cast<T>(v);
    }
    if (mean) mean[r] = m;
    if (inv_std) inv_std[r] = is;
  }
}

template void softmax_ref<float>(const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax_ref<double>(const double*, double*, int64_t, int64_t, int64_t, bool);
template void hardmax_ref<float>(const float*, float*, int64_t, int64_t, int64_t);
template void hardmax_ref<double>(const double*, double*, int64_t, int64_t, int64_t);
template void layernorm_ref<float>(const float*, const float*, const float*, float*, double*, double*, int64_t,
                                   int64_t, double);
template void layernorm_ref<double>(const double*, const double*, const double*, double*, double*, double*,
                                    int64_t, int64_t, double);

}  // namespace bitsmith::kernels::elt
