// The int8 GEMM shared by QLinearMatMul, MatMulInteger, QLinearConv, ConvInteger, QGemm,
// MatMulIntegerToFloat and the executor's fused QDQ units: u8 activations x s8 weights -> s32.
//
//   acc[i, j] = sum_k (A[i,k] - a_zp) * (B[k,j] - b_zp[j]) + bias[j]          (exact, int32)
//             = raw[i,j] - a_zp * colsum[j] - b_zp[j] * rowsum[i] + K * a_zp * b_zp[j] + bias[j]
// then one epilogue per element (QEpilogue): store acc (int32), requantize to u8/s8, or scale to
// f32. Integer sums are exact, so results do not depend on the blocking or on the thread count
// (determinism contract: any split of the output gives the same bytes; int32 wrap-around, which
// ONNX excludes, wraps the same way everywhere).
//
// Micro-kernel (AVX2): a kQMr x kQNr = 4 x 16 tile in 8 ymm int32 accumulators. Per group of 4
// k: 4 bytes of an A row are broadcast, vpmaddubsw multiplies them (u8) with 4 k x 8 columns of
// packed B (s8) and adds adjacent pairs into int16, vpmaddwd with ones adds the two pairs into
// int32, vpaddd accumulates. Full tiles with the requantizing epilogue finish in registers
// (zero-point terms, requantize, pack to bytes; for a transposed output, ld_row 1, 4 x 16 bytes
// are transposed so each column is one 4-byte store) with the arithmetic of qepilogue_scalar.
//
// int16 saturation guard: vpmaddubsw computes a0*b0 + a1*b1 and SATURATES to int16. With a in
// [0, 255] the pair lies in [255 * (min(b0,0) + min(b1,0)), 255 * (max(b0,0) + max(b1,0))], so
// it is exact whenever both |b| <= 64 (|sum| <= 32640), e.g. the 7-bit weights (|q| <= 63) the
// quantizer writes by default (reduce_range). PackedWeightsS8 checks every pair of the actual
// weights at pack time; when one could saturate it stores B as hi + lo with hi = b >> 1 and
// lo = b - hi (both in [-64, 64]) and the micro-kernel runs vpmaddubsw on each half: results are
// always exact, full-range weights just cost about twice as much.
//
// Layout. Packed B: per panel of kQNr columns (zero-padded past N), Kp = round_up(K, 4) / 4
// groups of 16 columns x 4 bytes (the 4 k of a column adjacent). A: u8 rows with stride lda,
// each readable up to round_up(K, 4) bytes (the bytes past K are multiplied by zero-padded B and
// may hold anything).
#pragma once

#include <cstdint>
#include <vector>

namespace bitsmith::kernels {

inline constexpr int64_t kQMr = 4;
inline constexpr int64_t kQNr = 16;

inline int64_t round_up4(int64_t k) { return (k + 3) / 4 * 4; }

// Constant weights B [K, N] (values in [-128, 127]) packed for the micro-kernel; owns its data.
class PackedWeightsS8 {
 public:
  PackedWeightsS8() = default;
  // b(k, n) = src[k * ld_k + n * ld_n] (any strides: covers [K, N] and transposed [N, K]).
  PackedWeightsS8(const int8_t* src, int64_t k, int64_t n, int64_t ld_k, int64_t ld_n);
  int64_t depth() const { return k_; }
  int64_t cols() const { return n_; }
  bool split() const { return split_; }  // full-range weights: hi/lo halves (see above)
  // sum_k b(k, j) for each column j.
  const std::vector<int32_t>& colsum() const { return colsum_; }
  const int8_t* panel(int64_t p) const { return data_.data() + p * round_up4(k_) * kQNr; }
  const int8_t* panel_lo(int64_t p) const { return lo_.data() + p * round_up4(k_) * kQNr; }

 private:
  int64_t k_ = 0, n_ = 0;
  bool split_ = false;
  std::vector<int8_t> data_, lo_;  // lo_ only when split_
  std::vector<int32_t> colsum_;
};

// What happens to each exact int32 accumulator. Element (i, j) goes to
// out + i * ld_row + j * ld_col (elements of the output dtype).
struct QEpilogue {
  enum class Kind { kInt32, kQuantized, kFloat };
  Kind kind = Kind::kInt32;
  int32_t a_zp = 0;                    // activation zero point (per tensor)
  const int32_t* b_zp = nullptr;       // per column, or null (all 0)
  const int32_t* bias = nullptr;       // int32 per column, or null
  // kQuantized: q = saturate(nearbyint(float(acc) * multiplier[j]) + zp, [qmin, qmax]) stored as
  // u8 (out_signed false) or s8 — the ONNX requantize of quantized_ref.h, bit for bit.
  const float* multiplier = nullptr;   // per column
  int32_t zp = 0, qmin = 0, qmax = 255;
  bool out_signed = false;
  // kFloat: y = fma(float(acc), scale[j], fbias[j]) (fbias null: float(acc) * scale[j]).
  const float* scale = nullptr;        // per column
  const float* fbias = nullptr;        // per column, or null
  void* out = nullptr;
  int64_t ld_row = 0, ld_col = 1;
};

// The per-element epilogue (shared by the fast kernel and the reference twin).
void qepilogue_scalar(const QEpilogue& ep, int64_t i, int64_t j, int32_t acc);

// Column term of the accumulator, computed per call from the epilogue's zero points and bias:
// col_add[j] = -a_zp * colsum[j] + K * a_zp * b_zp[j] + bias[j].
std::vector<int32_t> qgemm_col_add(const QEpilogue& ep, const std::vector<int32_t>& colsum, int64_t k);

// rowsum[i] = sum_{k < K} a[i * lda + k] (needed when some b_zp != 0).
void qgemm_row_sums(int64_t m, int64_t k, const uint8_t* a, int64_t lda, int32_t* rowsum);

// C[rows, N] via the epilogue; rows [0, m) of A are output rows row0 + i; columns [n0, n1)
// (n0 a multiple of kQNr). col_add from qgemm_col_add; rowsum null when every b_zp is 0.
// Single-threaded.
void qgemm_u8s8_st(int64_t m, const uint8_t* a, int64_t lda, const PackedWeightsS8& b, int64_t n0, int64_t n1,
                   const QEpilogue& ep, const int32_t* col_add, const int32_t* rowsum, int64_t row0);

// A given by row pointers (implicit im2col of a channels-last image): row i of A is the
// concatenation over s in [0, nseg) of the seg_len bytes at rows[i] + seg_off[s]. seg_len is a
// multiple of 4 and nseg * seg_len == round_up4(K) of the packed B (the K order of B must follow
// the segments). Same sums, epilogue and contract as qgemm_u8s8_st.
struct QRowsU8 {
  const uint8_t* const* rows = nullptr;  // m pointers
  const int64_t* seg_off = nullptr;      // nseg byte offsets
  int64_t nseg = 1, seg_len = 0;
};
void qgemm_u8s8_rows_st(int64_t m, const QRowsU8& a, const PackedWeightsS8& b, int64_t n0, int64_t n1,
                        const QEpilogue& ep, const int32_t* col_add, const int32_t* rowsum, int64_t row0);

// rowsum[i] = sum of all nseg * seg_len bytes of row i of `a` (callers use it when that is K).
void qgemm_row_sums_rows(int64_t m, const QRowsU8& a, int32_t* rowsum);

// The whole product split over up to num_threads OpenMP threads (any count: same bytes).
// Computes col_add / rowsum itself. Call from outside a parallel region (inside one it runs
// single-threaded).
void qgemm_u8s8(int64_t m, const uint8_t* a, int64_t lda, const PackedWeightsS8& b, const QEpilogue& ep,
                int num_threads);

namespace ref {
// The scalar reference twin: acc from plain loops over b(k, j) = b[k * n + j], then
// qepilogue_scalar. Exact.
void qgemm_u8s8(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* b,
                const QEpilogue& ep);
}  // namespace ref

}  // namespace bitsmith::kernels
