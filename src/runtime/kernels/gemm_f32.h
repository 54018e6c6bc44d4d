// The f32 GEMM shared by Conv, ConvTranspose, Gemm and MatMul: AVX2/FMA, BLIS-style packing.
//
//   C[M,N] = alpha * A[M,K] * B[K,N] + beta * C      (beta == 0: C is not read, NaNs in it vanish)
//
// Operands are row-major views with a leading dimension and an optional transpose, or matrices
// packed once ahead of time (constant weights, see PackedA / PackedB).
//
// Determinism contract: element C[i,j] is always computed the same way: K is cut into fixed
// blocks of kKc (independent of M, N and of the thread count); within a block the products are
// summed in k order with FMA starting from 0; blocks are added to C in k order. So any split of
// the output between threads gives the same bytes.
//
// Per block, the epilogue is: first block C = alpha*acc (beta == 0) or fma(alpha, acc, beta*C);
// later blocks C = fma(alpha, acc, C). Every code path below (6-row and R-row micro-kernels,
// the few-row path that streams B in place, the shifted conv GEMM) follows this exactly, which
// the tests check by splitting M and N every way.
//
// Micro-kernel: kMr x kNr = 6 x 16 tile (12 ymm accumulators). Packed A holds, per K block, the
// rows in panels of kMr (each panel kc x kMr, zero-padded past M); packed B holds, per K block,
// the columns in panels of kNr (kc x kNr, zero-padded past N). Without AVX2/FMA a portable
// micro-kernel with the same arithmetic (std::fma) is used.
#pragma once

#include <cstdint>
#include <vector>

namespace bitsmith::kernels {

inline constexpr int64_t kGemmMr = 6;
inline constexpr int64_t kGemmNr = 16;
inline constexpr int64_t kGemmKc = 256;  // K block; part of the numeric contract above
inline constexpr int64_t kGemmMc = 144;  // rows of A kept in L2 (multiple of kGemmMr)
inline constexpr int64_t kGemmNc = 3072; // columns of B per packed block (multiple of kGemmNr)

// A row-major matrix view: element (r, c) is data[r * ld + c], or data[c * ld + r] when trans.
struct MatView {
  const float* data = nullptr;
  int64_t ld = 0;
  bool trans = false;
  float at(int64_t r, int64_t c) const { return trans ? data[c * ld + r] : data[r * ld + c]; }
};

// The left operand (M x K) packed for the micro-kernel. Owns its buffer.
class PackedA {
 public:
  PackedA() = default;
  PackedA(MatView a, int64_t m, int64_t k);
  int64_t rows() const { return m_; }
  int64_t depth() const { return k_; }
  // The panel holding rows [panel*kMr, +kMr) for the K block starting at k0 (kc = its length).
  const float* panel(int64_t k0, int64_t panel_index) const;

 private:
  int64_t m_ = 0, k_ = 0, m_pad_ = 0;
  std::vector<float> data_;
};

// The right operand (K x N) packed for the micro-kernel. Owns its buffer.
// Either owns its buffer or views one the caller filled in the same layout (borrowed: the
// caller keeps it alive; see packed_b_index()).
class PackedB {
 public:
  PackedB() = default;
  PackedB(MatView b, int64_t k, int64_t n);
  // A view of external packed data (packed_b_size(k, n) floats).
  static PackedB borrow(const float* data, int64_t k, int64_t n);
  int64_t depth() const { return k_; }
  int64_t cols() const { return n_; }
  const float* panel(int64_t k0, int64_t panel_index) const;

 private:
  int64_t k_ = 0, n_ = 0, n_pad_ = 0;
  std::vector<float> data_;
  const float* borrowed_ = nullptr;
};

// Floats in a packed B of k x n, and the index of element (row, col) in that layout.
inline int64_t packed_b_size(int64_t k, int64_t n) { return (n + kGemmNr - 1) / kGemmNr * kGemmNr * k; }
inline int64_t packed_b_index(int64_t k, int64_t n, int64_t row, int64_t col) {
  const int64_t n_pad = (n + kGemmNr - 1) / kGemmNr * kGemmNr, k0 = row / kGemmKc * kGemmKc;
  const int64_t kc = k - k0 < kGemmKc ? k - k0 : kGemmKc;
  return k0 * n_pad + (col / kGemmNr) * kGemmNr * kc + (row - k0) * kGemmNr + col % kGemmNr;
}

// One operand: a plain view, or a packed matrix plus the first row (A) / column (B) to use.
struct GemmA {
  MatView view;
  const PackedA* packed = nullptr;
  int64_t offset = 0;  // first row of `packed` (a multiple of kGemmMr)
};
struct GemmB {
  MatView view;
  const PackedB* packed = nullptr;
  int64_t offset = 0;  // first column of `packed` (a multiple of kGemmNr)
  // When set (and `packed` is not): B's elements are IEEE float16 bits laid out as `view` says
  // (view.ld, view.trans; view.data is not read). They are widened to f32 (exactly) panel by
  // panel while packing / streaming, never all at once; the result is byte-identical to passing
  // the widened f32 matrix as `view`.
  const uint16_t* f16 = nullptr;
};

// Single-threaded GEMM on the calling thread (uses thread-local pack buffers).
void sgemm_st(int64_t m, int64_t n, int64_t k, float alpha, const GemmA& a, const GemmB& b,
              float beta, float* c, int64_t ldc);

// The same, split over up to `num_threads` OpenMP threads by output tiles; bytes identical to
// sgemm_st for any thread count. Call from outside a parallel region.
void sgemm(int64_t m, int64_t n, int64_t k, float alpha, const GemmA& a, const GemmB& b,
           float beta, float* c, int64_t ldc, int num_threads);

// The "shifted" GEMM of a stride-1 convolution:
//   C[i, j] = sum_k A[a_row0 + i, k] * src[j + offs[k]]   (+ beta * C on the first K block)
// for i < m, j < n: B is never materialised; row k of it is src shifted by offs[k] (offs has
// a.depth() entries). src must be readable up to index n + 15 + max(offs). Same per-element
// arithmetic and K blocking as sgemm_st. Single-threaded; a_row0 a multiple of kGemmMr.
void sgemm_shifted_st(int64_t m, int64_t n, const PackedA& a, int64_t a_row0, const float* src,
                      const int64_t* offs, float beta, float* c, int64_t ldc);

// Convenience: plain views on both sides.
inline void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                  int64_t ldc, int num_threads) {
  sgemm(m, n, k, alpha, GemmA{MatView{a, lda, trans_a}}, GemmB{MatView{b, ldb, trans_b}}, beta, c,
        ldc, num_threads);
}

}  // namespace bitsmith::kernels
