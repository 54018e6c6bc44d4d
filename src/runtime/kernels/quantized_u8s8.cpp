// Conversions onto the u8 x s8 GEMM (see quantized_u8s8.h).
#include "runtime/kernels/quantized_u8s8.h"

#include <cstring>

namespace bitsmith::kernels {

QWeightsU8S8 prepare_qweights(const Tensor& w, const std::vector<int32_t>& zp, int64_t k, int64_t n, int64_t ld_k,
                              int64_t ld_n, int64_t offset, int64_t zp_offset) {
  QWeightsU8S8 q;
  q.shape = w.shape();
  q.src_zp = zp;
  const bool u8 = w.dtype() == DType::kU8;
  const int64_t span = k > 0 && n > 0 ? (k - 1) * ld_k + (n - 1) * ld_n + 1 : 0;
  std::vector<int8_t> s(static_cast<size_t>(span));
  if (u8) {
    const uint8_t* src = w.data<uint8_t>() + offset;
    for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<int8_t>(static_cast<int32_t>(src[i]) - 128);
  } else if (span > 0) {
    std::memcpy(s.data(), w.data<int8_t>() + offset, s.size());
  }
  q.packed = PackedWeightsS8(s.data(), k, n, ld_k, ld_n);
  q.zp.resize(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    q.zp[j] = (zp.size() == 1 ? zp[0] : zp[zp_offset + j]) - (u8 ? 128 : 0);
    q.all_zp_zero = q.all_zp_zero && q.zp[j] == 0;
  }
  return q;
}

void activation_as_u8(const Tensor& x, int64_t rows, int64_t k, int32_t zp, QActivationU8& out) {
  const int64_t kp = round_up4(k);
  if (x.dtype() == DType::kU8 && kp == k) {
    out.data = x.data<uint8_t>();
    out.lda = k;
    out.zp = zp;
    return;
  }
  out.buffer.assign(static_cast<size_t>(rows * kp), 0);
  const uint8_t* src = reinterpret_cast<const uint8_t*>(x.bytes());
  const uint8_t flip = x.dtype() == DType::kI8 ? 0x80 : 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < k; ++c) out.buffer[r * kp + c] = src[r * k + c] ^ flip;
  out.data = out.buffer.data();
  out.lda = kp;
  out.zp = zp + (flip ? 128 : 0);
}

}  // namespace bitsmith::kernels
