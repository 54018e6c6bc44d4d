// Scalar reference twin of the weight-only low-bit MatMul (matmul_nbits.h): the 8-lane fma
// accumulation and fixed lane reduction of the contract, written out element by element.
#include <cmath>

#include "runtime/kernels/matmul_nbits.h"

namespace bitsmith::kernels::ref {

void matmul_nbits(int64_t m, const float* a, const NBitsWeights& w, const float* bias, float* y) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < w.n; ++j) {
      float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t kk = 0; kk < w.k; ++kk) lane[kk % 8] = std::fma(a[i * w.k + kk], w.weight(j, kk), lane[kk % 8]);
      float s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
      if (bias) s += bias[j];
      y[i * w.n + j] = s;
    }
}

}  // namespace bitsmith::kernels::ref
