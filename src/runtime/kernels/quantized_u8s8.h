// Tensor-level helpers that put the quantized kernels on the u8 x s8 GEMM (gemm_u8s8.h):
// weights of either 8-bit dtype as packed s8 with per-column zero points, activations of either
// 8-bit dtype as u8 rows. Both conversions are exact shifts: u8 weights become w - 128 with
// zero point zp - 128; s8 activations become x + 128 (xor 0x80) with zero point zp + 128, so
// (x - zp) and (w - zp) are unchanged.
#pragma once

#include <cstdint>
#include <vector>

#include "bitsmith/core/tensor.h"
#include "runtime/kernels/gemm_u8s8.h"

namespace bitsmith::kernels {

struct QWeightsU8S8 {
  PackedWeightsS8 packed;
  std::vector<int32_t> zp;  // per column (N entries), already shifted
  Shape shape;              // the source tensor's shape (to match at run time)
  std::vector<int32_t> src_zp;  // the zero points as given (1 or N entries)
  bool all_zp_zero = true;
};

// B(k, j) = w[offset + k * ld_k + j * ld_n] of an 8-bit tensor `w`; column j's zero point is
// zp[0] (1 entry) or zp[zp_offset + j].
QWeightsU8S8 prepare_qweights(const Tensor& w, const std::vector<int32_t>& zp, int64_t k, int64_t n, int64_t ld_k,
                              int64_t ld_n, int64_t offset = 0, int64_t zp_offset = 0);

// Rows of an 8-bit activation as u8 with stride round_up4(k) (or the tensor itself when it is
// already u8 with k % 4 == 0). zp is shifted for s8.
struct QActivationU8 {
  const uint8_t* data = nullptr;
  int64_t lda = 0;
  int32_t zp = 0;
  std::vector<uint8_t> buffer;
};
void activation_as_u8(const Tensor& x, int64_t rows, int64_t k, int32_t zp, QActivationU8& out);

}  // namespace bitsmith::kernels
