#include "runtime/kernels/ref/norm_ref.h"

#include <cmath>
#include <vector>

namespace bitsmith::kernels::ref {

template <class T>
void batch_norm(int64_t n, int64_t c, int64_t s, const T* x, const T* scale, const T* bias, const T* mean,
                const T* var, double epsilon, T* y) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      const double inv = 1.0 / std::sqrt(static_cast<double>(var[ch]) + epsilon);
      const int64_t base = (i * c + ch) * s;
      for (int64_t j = 0; j < s; ++j) {
        const double v = (static_cast<double>(x[base + j]) - mean[ch]) * inv * scale[ch] + bias[ch];
        y[base + j] = static_cast<T>(v);
      }
    }
}

template <class T>
void batch_norm_training(int64_t n, int64_t c, int64_t s, const T* x, const T* scale, const T* bias,
                         const T* mean, const T* var, double epsilon, double momentum, T* y,
                         T* running_mean, T* running_var, T* batch_mean, T* batch_var) {
  const double count = static_cast<double>(n * s);
  std::vector<T> bmean(c), bvar(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0.0, sq = 0.0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < s; ++j) sum += static_cast<double>(x[(i * c + ch) * s + j]);
    const double mu = count > 0 ? sum / count : 0.0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < s; ++j) {
        const double d = static_cast<double>(x[(i * c + ch) * s + j]) - mu;
        sq += d * d;
      }
    bmean[ch] = static_cast<T>(mu);
    bvar[ch] = static_cast<T>(count > 0 ? sq / count : 0.0);
    if (running_mean) running_mean[ch] = static_cast<T>(mean[ch] * momentum + mu * (1.0 - momentum));
    if (running_var) running_var[ch] = static_cast<T>(var[ch] * momentum + bvar[ch] * (1.0 - momentum));
    if (batch_mean) batch_mean[ch] = bmean[ch];
    if (batch_var) batch_var[ch] = bvar[ch];
  }
  batch_norm(n, c, s, x, scale, bias, bmean.data(), bvar.data(), epsilon, y);
}

template void batch_norm<float>(int64_t, int64_t, int64_t, const float*, const float*, const float*,
                                const float*, const float*, double, float*);
template void batch_norm<double>(int64_t, int64_t, int64_t, const double*, const double*, const double*,
                                 const double*, const double*, double, double*);
template void batch_norm_training<float>(int64_t, int64_t, int64_t, const float*, const float*, const float*,
                                         const float*, const float*, double, double, float*, float*, float*,
                                         float*, float*);
template void batch_norm_training<double>(int64_t, int64_t, int64_t, const double*, const double*,
                                          const double*, const double*, const double*, double, double,
                                          double*, double*, double*, double*, double*);

}  // namespace bitsmith::kernels::ref
