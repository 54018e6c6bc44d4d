#include "runtime/kernels/ref/gemm_ref.h"

namespace bitsmith::kernels::ref {

int64_t gemm_c_offset(const Shape& c_shape, int64_t i, int64_t j) {
  const size_t r = c_shape.size();
  const int64_t cols = r >= 1 ? c_shape[r - 1] : 1;
  const int64_t rows = r >= 2 ? c_shape[r - 2] : 1;
  return (rows == 1 ? 0 : i) * cols + (cols == 1 ? 0 : j);
}

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, const T* b,
          T beta, const T* c, const Shape& c_shape, T* y) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = trans_a ? a[p * m + i] : a[i * k + p];
        const double bv = trans_b ? b[j * k + p] : b[p * n + j];
        acc += av * bv;
      }
      double out = static_cast<double>(alpha) * acc;
      if (c && beta != T(0)) out += static_cast<double>(beta) * static_cast<double>(c[gemm_c_offset(c_shape, i, j)]);
      y[i * n + j] = static_cast<T>(out);
    }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, const float*, float,
                          const float*, const Shape&, float*);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, const double*,
                           double, const double*, const Shape&, double*);

}  // namespace bitsmith::kernels::ref
