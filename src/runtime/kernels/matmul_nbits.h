// Weight-only low-bit MatMul (com.microsoft MatMulNBits, and blocked int4/uint4 DequantizeLinear ->
// MatMul fused by the executor): Y[m, n] = sum_k A[m, k] * W(n, k) (+ bias[n]), A f32, with
//   W(n, k) = float(code(n, k) - zp(n, k / block_size)) * scale[n * k_blocks + k / block_size]
// where B is uint8 [N, k_blocks, blob] (blob = block_size * bits / 8), codes packed low bits
// first along K, and zero points uint8 packed the same way per row ([N, ceil(k_blocks * bits / 8)])
// or absent (2^(bits - 1)).
//
// Blocks are unpacked on the fly, one row of W (K floats) at a time per thread: no dequantized
// copy of the weights is kept.
//
// Numeric contract (shared by the fast kernel and the reference twin, bit for bit): lane
// j = k % 8 accumulates fma(A[m, k], W(n, k), lane) over its k in increasing order from 0; the
// result is ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)), then + bias[n]. Independent of
// the thread count.
#pragma once

#include <cstdint>

namespace bitsmith::kernels {

struct NBitsWeights {
  int64_t n = 0, k = 0, bits = 4, block_size = 32;
  const uint8_t* b = nullptr;       // [n, k_blocks, blob]
  const float* scales = nullptr;    // [n * k_blocks]
  const uint8_t* zp = nullptr;      // packed [n, zp_row_bytes] or null
  int64_t k_blocks() const { return (k + block_size - 1) / block_size; }
  int64_t blob() const { return block_size * bits / 8; }
  int64_t zp_row_bytes() const { return (k_blocks() * bits + 7) / 8; }
  int32_t code(int64_t row, int64_t kk) const {
    const int64_t bit = (kk % block_size) * bits;
    const uint8_t byte = b[(row * k_blocks() + kk / block_size) * blob() + bit / 8];
    return (byte >> (bit % 8)) & ((1 << bits) - 1);
  }
  int32_t zero_point(int64_t row, int64_t blk) const {
    if (!zp) return 1 << (bits - 1);
    const int64_t bit = blk * bits;
    return (zp[row * zp_row_bytes() + bit / 8] >> (bit % 8)) & ((1 << bits) - 1);
  }
  float weight(int64_t row, int64_t kk) const {
    const int64_t blk = kk / block_size;
    return static_cast<float>(code(row, kk) - zero_point(row, blk)) * scales[row * k_blocks() + blk];
  }
};

// y [m, n] per the contract above; a [m, k] row-major; bias [n] or null.
void matmul_nbits_f32(int64_t m, const float* a, const NBitsWeights& w, const float* bias, float* y, int num_threads);

namespace ref {
void matmul_nbits(int64_t m, const float* a, const NBitsWeights& w, const float* bias, float* y);
}  // namespace ref

}  // namespace bitsmith::kernels
