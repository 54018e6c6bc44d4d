// Scalar reference twin of the u8 x s8 GEMM (gemm_u8s8.h): plain loops over the zero-point
// shifted values, int32 accumulation (wrapping as unsigned), then the shared epilogue.
#include <cstdint>

#include "runtime/kernels/gemm_u8s8.h"

namespace bitsmith::kernels::ref {

void qgemm_u8s8(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* b,
                const QEpilogue& ep) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      uint32_t acc = ep.bias ? static_cast<uint32_t>(ep.bias[j]) : 0u;
      const int32_t bz = ep.b_zp ? ep.b_zp[j] : 0;
      for (int64_t kk = 0; kk < k; ++kk)
        acc += static_cast<uint32_t>((static_cast<int32_t>(a[i * lda + kk]) - ep.a_zp) *
                                     (static_cast<int32_t>(b[kk * n + j]) - bz));
      qepilogue_scalar(ep, i, j, static_cast<int32_t>(acc));
    }
}

}  // namespace bitsmith::kernels::ref
