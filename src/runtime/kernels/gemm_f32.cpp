#include "runtime/kernels/gemm_f32.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "bitsmith/core/half.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define BS_GEMM_AVX2 1
#endif

namespace bitsmith::kernels {
namespace {

constexpr int64_t kMr = kGemmMr;
constexpr int64_t kNr = kGemmNr;
constexpr int64_t kKc = kGemmKc;
constexpr int64_t kMc = kGemmMc;
constexpr int64_t kNc = kGemmNc;
constexpr int64_t kPackSlack = 8;  // spare floats after packed A buffers (see pack_a_rows6)
static_assert(kMc % kMr == 0 && kNc % kNr == 0, "block sizes must be panel multiples");

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

#ifdef BS_GEMM_AVX2
// Transposes 8 k-values of 6 rows at a time: dst[k][r] = src[r][k] for k < kc rounded down to 8;
// returns how many k were done. Each 8-float store spills 2 floats past its 6, which the next
// store (or the caller's tail, or the next panel) overwrites; buffers keep kPackSlack spare.
int64_t pack_a_rows6(const float* const* src, int64_t kc, float* dst) {
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    const __m256 r0 = _mm256_loadu_ps(src[0] + k), r1 = _mm256_loadu_ps(src[1] + k);
    const __m256 r2 = _mm256_loadu_ps(src[2] + k), r3 = _mm256_loadu_ps(src[3] + k);
    const __m256 r4 = _mm256_loadu_ps(src[4] + k), r5 = _mm256_loadu_ps(src[5] + k);
    const __m256 z = _mm256_setzero_ps();
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, z, 0x44), s5 = _mm256_shuffle_ps(t4, z, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, z, 0x44), s7 = _mm256_shuffle_ps(t5, z, 0xEE);
    float* d = dst + k * kMr;
    _mm256_storeu_ps(d + 0 * kMr, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(d + 1 * kMr, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(d + 2 * kMr, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(d + 3 * kMr, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(d + 4 * kMr, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(d + 5 * kMr, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(d + 6 * kMr, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(d + 7 * kMr, _mm256_permute2f128_ps(s3, s7, 0x31));
  }
  return k;
}
#endif

// Packs rows [i0, i0+mc) x depth [k0, k0+kc) of A into panels of kMr rows: dst[p][k][r].
void pack_a(const MatView& a, int64_t m, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* dst) {
  for (int64_t p = 0; p < mc; p += kMr, dst += kMr * kc) {
    const int64_t rows = std::min(kMr, std::min(mc - p, m - i0 - p));
    if (a.trans) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = a.data + (k0 + k) * a.ld + i0 + p;
        float* d = dst + k * kMr;
        int64_t r = 0;
        for (; r < rows; ++r) d[r] = src[r];
        for (; r < kMr; ++r) d[r] = 0.f;
      }
    } else {
      const float* src[kMr];
      for (int64_t r = 0; r < kMr; ++r) src[r] = r < rows ? a.data + (i0 + p + r) * a.ld + k0 : nullptr;
      int64_t k = 0;
#ifdef BS_GEMM_AVX2
      if (rows == kMr) k = pack_a_rows6(src, kc, dst);
#endif
      for (; k < kc; ++k) {
        float* d = dst + k * kMr;
        for (int64_t r = 0; r < kMr; ++r) d[r] = r < rows ? src[r][k] : 0.f;
      }
    }
  }
}

// Packs depth [k0, k0+kc) x columns [j0, j0+nc) of B into panels of kNr columns: dst[q][k][j].
void pack_b(const MatView& b, int64_t n, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* dst) {
  for (int64_t q = 0; q < nc; q += kNr, dst += kNr * kc) {
    const int64_t cols = std::min(kNr, std::min(nc - q, n - j0 - q));
    if (!b.trans) {
      const float* src = b.data + k0 * b.ld + j0 + q;
      if (cols == kNr) {
        for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * kNr, src + k * b.ld, kNr * sizeof(float));
      } else {
        for (int64_t k = 0; k < kc; ++k) {
          float* d = dst + k * kNr;
          int64_t j = 0;
          for (; j < cols; ++j) d[j] = src[k * b.ld + j];
          for (; j < kNr; ++j) d[j] = 0.f;
        }
      }
    } else {
      // Element (k, j) is data[j * ld + k]: walk each column's contiguous run.
      for (int64_t j = 0; j < kNr; ++j) {
        if (j < cols) {
          const float* src = b.data + (j0 + q + j) * b.ld + k0;
          for (int64_t k = 0; k < kc; ++k) dst[k * kNr + j] = src[k];
        } else {
          for (int64_t k = 0; k < kc; ++k) dst[k * kNr + j] = 0.f;
        }
      }
    }
  }
}

// Widens 16 consecutive float16 values (exact).
inline void widen16(const uint16_t* src, float* dst) {
#if defined(BS_GEMM_AVX2) && defined(__F16C__)
  _mm256_storeu_ps(dst, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src))));
  _mm256_storeu_ps(dst + 8, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 8))));
#else
  for (int i = 0; i < 16; ++i) dst[i] = f16_to_f32(src[i]);
#endif
}

// pack_b for float16 B (elements at h laid out as `b` says, b.data unused): the same panels
// holding the exactly widened values.
void pack_b_f16(const uint16_t* h, const MatView& b, int64_t n, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                float* dst) {
  float run[kKc];
  for (int64_t q = 0; q < nc; q += kNr, dst += kNr * kc) {
    const int64_t cols = std::min(kNr, std::min(nc - q, n - j0 - q));
    if (!b.trans) {
      const uint16_t* src = h + k0 * b.ld + j0 + q;
      for (int64_t k = 0; k < kc; ++k) {
        float* d = dst + k * kNr;
        if (cols == kNr) {
          widen16(src + k * b.ld, d);
          continue;
        }
        int64_t j = 0;
        for (; j < cols; ++j) d[j] = f16_to_f32(src[k * b.ld + j]);
        for (; j < kNr; ++j) d[j] = 0.f;
      }
    } else {
      for (int64_t j = 0; j < kNr; ++j) {
        if (j < cols) {
          f16_to_f32_n(h + (j0 + q + j) * b.ld + k0, run, static_cast<size_t>(kc));
          for (int64_t k = 0; k < kc; ++k) dst[k * kNr + j] = run[k];
        } else {
          for (int64_t k = 0; k < kc; ++k) dst[k * kNr + j] = 0.f;
        }
      }
    }
  }
}

// Row k of a packed B panel (kNr floats per row).
struct PanelRows {
  const float* b;
  const float* row(int64_t k) const { return b + k * kNr; }
};
// Row k of the shifted-window B of a stride-1 convolution: src + offs[k].
struct ShiftedRows {
  const float* src;
  const int64_t* offs;
  const float* row(int64_t k) const { return src + offs[k]; }
};

// Column k of A as the micro-kernels read it: at(r) is row r's value at the current k, next()
// moves to k + 1. A packed panel (kMr values per k), or kMr rows of a plain row-major A read in
// place (no packing; the rows must exist: R-row kernels read only their R rows).
struct PackedCols {
  const float* a;
  const float* at(int r) const { return a + r; }
  void next() { a += kMr; }
};
struct StridedCols {
  const float* a;
  int64_t lda;
  const float* at(int r) const { return a + r * lda; }
  void next() { ++a; }
};

#ifdef BS_GEMM_AVX2
// Lanes [0, n) on, for masked loads/stores of a partial 8-wide vector.
inline __m256i lane_mask(int64_t n) {
  static const int32_t kMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMask + 8 - std::clamp<int64_t>(n, 0, 8)));
}

// out = first ? (beta == 0 ? alpha*acc : fma(alpha, acc, beta*c)) : fma(alpha, acc, c)
inline __m256 epilogue(__m256 acc, __m256 c, __m256 alpha, __m256 beta, bool first, bool beta_zero) {
  if (first) return beta_zero ? _mm256_mul_ps(alpha, acc) : _mm256_fmadd_ps(alpha, acc, _mm256_mul_ps(beta, c));
  return _mm256_fmadd_ps(alpha, acc, c);
}

__attribute__((always_inline)) inline void store_row(float* c, __m256 acc0, __m256 acc1, int64_t nr, __m256 alpha, __m256 beta, bool first,
               bool beta_zero) {
  const bool need_c = !(first && beta_zero);
  if (nr == kNr) {
    const __m256 c0 = need_c ? _mm256_loadu_ps(c) : _mm256_setzero_ps();
    const __m256 c1 = need_c ? _mm256_loadu_ps(c + 8) : _mm256_setzero_ps();
    _mm256_storeu_ps(c, epilogue(acc0, c0, alpha, beta, first, beta_zero));
    _mm256_storeu_ps(c + 8, epilogue(acc1, c1, alpha, beta, first, beta_zero));
    return;
  }
  const __m256i m0 = lane_mask(nr), m1 = lane_mask(nr - 8);
  const __m256 c0 = need_c ? _mm256_maskload_ps(c, m0) : _mm256_setzero_ps();
  const __m256 c1 = need_c ? _mm256_maskload_ps(c + 8, m1) : _mm256_setzero_ps();
  _mm256_maskstore_ps(c, m0, epilogue(acc0, c0, alpha, beta, first, beta_zero));
  if (nr > 8) _mm256_maskstore_ps(c + 8, m1, epilogue(acc1, c1, alpha, beta, first, beta_zero));
}

// C tile (mr x nr at c) from a kc x kMr panel of A and kc rows of 16 B values; b.row(k) gives
// row k (a packed panel, or a shifted window of a conv input).
template <class ACols, class BRows>
void micro_kernel(int64_t kc, ACols a, BRows b, float* c, int64_t ldc, int64_t mr, int64_t nr,
                  float alpha_s, float beta_s, bool first) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const float* br = b.row(k);
    const __m256 b0 = _mm256_loadu_ps(br);
    const __m256 b1 = _mm256_loadu_ps(br + 8);
    __m256 av = _mm256_broadcast_ss(a.at(0));
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a.at(1));
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a.at(2));
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a.at(3));
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a.at(4));
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a.at(5));
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
    a.next();
  }
  const __m256 alpha = _mm256_set1_ps(alpha_s), beta = _mm256_set1_ps(beta_s);
  const bool bz = beta_s == 0.f;
  store_row(c, c00, c01, nr, alpha, beta, first, bz);
  if (mr > 1) store_row(c + ldc, c10, c11, nr, alpha, beta, first, bz);
  if (mr > 2) store_row(c + 2 * ldc, c20, c21, nr, alpha, beta, first, bz);
  if (mr > 3) store_row(c + 3 * ldc, c30, c31, nr, alpha, beta, first, bz);
  if (mr > 4) store_row(c + 4 * ldc, c40, c41, nr, alpha, beta, first, bz);
  if (mr > 5) store_row(c + 5 * ldc, c50, c51, nr, alpha, beta, first, bz);
}

// The same for tiles of R < kMr rows (same per-element arithmetic, less wasted work). The
// accumulators are named variables, not an array, so that they stay in registers.
template <int R, class ACols, class BRows>
void micro_kernel_rows(int64_t kc, ACols a, BRows b, float* c, int64_t ldc, int64_t nr, float alpha_s,
                       float beta_s, bool first) {
  static_assert(R >= 1 && R < kMr, "R-row tiles are 1..5 rows");
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const float* br = b.row(k);
    const __m256 b0 = _mm256_loadu_ps(br);
    const __m256 b1 = _mm256_loadu_ps(br + 8);
    __m256 av = _mm256_broadcast_ss(a.at(0));
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    if constexpr (R > 1) {
      av = _mm256_broadcast_ss(a.at(1));
      c10 = _mm256_fmadd_ps(av, b0, c10);
      c11 = _mm256_fmadd_ps(av, b1, c11);
    }
    if constexpr (R > 2) {
      av = _mm256_broadcast_ss(a.at(2));
      c20 = _mm256_fmadd_ps(av, b0, c20);
      c21 = _mm256_fmadd_ps(av, b1, c21);
    }
    if constexpr (R > 3) {
      av = _mm256_broadcast_ss(a.at(3));
      c30 = _mm256_fmadd_ps(av, b0, c30);
      c31 = _mm256_fmadd_ps(av, b1, c31);
    }
    if constexpr (R > 4) {
      av = _mm256_broadcast_ss(a.at(4));
      c40 = _mm256_fmadd_ps(av, b0, c40);
      c41 = _mm256_fmadd_ps(av, b1, c41);
    }
    a.next();
  }
  const __m256 alpha = _mm256_set1_ps(alpha_s), beta = _mm256_set1_ps(beta_s);
  const bool bz = beta_s == 0.f;
  store_row(c, c00, c01, nr, alpha, beta, first, bz);
  if constexpr (R > 1) store_row(c + ldc, c10, c11, nr, alpha, beta, first, bz);
  if constexpr (R > 2) store_row(c + 2 * ldc, c20, c21, nr, alpha, beta, first, bz);
  if constexpr (R > 3) store_row(c + 3 * ldc, c30, c31, nr, alpha, beta, first, bz);
  if constexpr (R > 4) store_row(c + 4 * ldc, c40, c41, nr, alpha, beta, first, bz);
}

template <class ACols, class BRows>
void micro(int64_t kc, ACols a, BRows b, float* c, int64_t ldc, int64_t mr, int64_t nr, float alpha,
           float beta, bool first) {
  switch (mr) {
    case 1: micro_kernel_rows<1>(kc, a, b, c, ldc, nr, alpha, beta, first); return;
    case 2: micro_kernel_rows<2>(kc, a, b, c, ldc, nr, alpha, beta, first); return;
    case 3: micro_kernel_rows<3>(kc, a, b, c, ldc, nr, alpha, beta, first); return;
    case 4: micro_kernel_rows<4>(kc, a, b, c, ldc, nr, alpha, beta, first); return;
    case 5: micro_kernel_rows<5>(kc, a, b, c, ldc, nr, alpha, beta, first); return;
    default: micro_kernel(kc, a, b, c, ldc, mr, nr, alpha, beta, first); return;
  }
}
#else
// Portable micro-kernel with the same arithmetic (fma per product, same epilogue).
template <class ACols, class BRows>
void micro_kernel(int64_t kc, ACols a, BRows b, float* c, int64_t ldc, int64_t mr, int64_t nr,
                  float alpha, float beta, bool first) {
  float acc[kMr][kNr] = {};
  for (int64_t k = 0; k < kc; ++k, a.next()) {
    const float* br = b.row(k);
    for (int64_t r = 0; r < mr; ++r)
      for (int64_t j = 0; j < kNr; ++j) acc[r][j] = std::fma(*a.at(static_cast<int>(r)), br[j], acc[r][j]);
  }
  for (int64_t r = 0; r < mr; ++r)
    for (int64_t j = 0; j < nr; ++j) {
      float& o = c[r * ldc + j];
      if (first) o = beta == 0.f ? alpha * acc[r][j] : std::fma(alpha, acc[r][j], beta * o);
      else o = std::fma(alpha, acc[r][j], o);
    }
}

template <class ACols, class BRows>
void micro(int64_t kc, ACols a, BRows b, float* c, int64_t ldc, int64_t mr, int64_t nr, float alpha,
           float beta, bool first) {
  micro_kernel(kc, a, b, c, ldc, mr, nr, alpha, beta, first);
}
#endif

// Thread-local scratch that only grows (OpenMP worker threads persist, so it is reused).
float* scratch(std::vector<float>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
}

}  // namespace

PackedA::PackedA(MatView a, int64_t m, int64_t k) : m_(m), k_(k), m_pad_(round_up(m, kMr)) {
  data_.assign(static_cast<size_t>(m_pad_ * k + kPackSlack), 0.f);
  for (int64_t k0 = 0; k0 < k; k0 += kKc) {
    const int64_t kc = std::min(kKc, k - k0);
    pack_a(a, m, 0, m_pad_, k0, kc, data_.data() + k0 * m_pad_);
  }
}

const float* PackedA::panel(int64_t k0, int64_t panel_index) const {
  const int64_t kc = std::min(kKc, k_ - k0);
  return data_.data() + k0 * m_pad_ + panel_index * kMr * kc;
}

PackedB::PackedB(MatView b, int64_t k, int64_t n) : k_(k), n_(n), n_pad_(round_up(n, kNr)) {
  data_.assign(static_cast<size_t>(n_pad_ * k), 0.f);
  for (int64_t k0 = 0; k0 < k; k0 += kKc) {
    const int64_t kc = std::min(kKc, k - k0);
    pack_b(b, n, k0, kc, 0, n_pad_, data_.data() + k0 * n_pad_);
  }
}

PackedB PackedB::borrow(const float* data, int64_t k, int64_t n) {
  PackedB p;
  p.k_ = k;
  p.n_ = n;
  p.n_pad_ = round_up(n, kNr);
  p.borrowed_ = data;
  return p;
}

const float* PackedB::panel(int64_t k0, int64_t panel_index) const {
  const int64_t kc = std::min(kKc, k_ - k0);
  return (borrowed_ ? borrowed_ : data_.data()) + k0 * n_pad_ + panel_index * kNr * kc;
}

#ifdef BS_GEMM_AVX2
constexpr int64_t kGemvCols = 1024;  // columns of C accumulated at once by gemv_rows

#if defined(__F16C__)
// A C tile of R <= kMr rows x nr <= kNr columns against a row-major float16 B (row k at
// h + k * ldb), B widened as it is read: micro_kernel_rows' arithmetic (fma chain over the K
// block from 0, then store_row's epilogue), accumulators in registers.
template <int R>
void f16_rows_tile(int64_t kc, const float* a, const uint16_t* h, int64_t ldb, float* c, int64_t ldc, int64_t nr,
                   float alpha_s, float beta_s, bool first) {
  __m256 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  uint16_t tail[kNr] = {};
  for (int64_t k = 0; k < kc; ++k, a += kMr) {
    const uint16_t* hr = h + k * ldb;
    if (nr < kNr) {
      std::memcpy(tail, hr, static_cast<size_t>(nr) * sizeof(uint16_t));
      hr = tail;
    }
    const __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hr)));
    const __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hr + 8)));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
  }
  const __m256 alpha = _mm256_set1_ps(alpha_s), beta = _mm256_set1_ps(beta_s);
  for (int r = 0; r < R; ++r) store_row(c + r * ldc, acc0[r], acc1[r], nr, alpha, beta, first, beta_s == 0.f);
}

// m <= kMr rows of A against a row-major float16 B (ldb), 16 columns at a time per K block.
void gemv_rows_f16(int64_t m, int64_t n, int64_t k, float alpha, const GemmA& a, const uint16_t* h, int64_t ldb,
                   float beta, float* c, int64_t ldc, float* pa) {
  for (int64_t pc = 0; pc < k; pc += kKc) {
    const int64_t kc = std::min(kKc, k - pc);
    const float* ap = a.packed ? a.packed->panel(pc, a.offset / kMr) : pa;
    if (!a.packed) pack_a(a.view, m, 0, kMr, pc, kc, pa);
    const uint16_t* hb = h + pc * ldb;
    for (int64_t j = 0; j < n; j += kNr) {
      const int64_t nr = std::min(kNr, n - j);
      float* cj = c + j;
      switch (m) {
        case 1: f16_rows_tile<1>(kc, ap, hb + j, ldb, cj, ldc, nr, alpha, beta, pc == 0); break;
        case 2: f16_rows_tile<2>(kc, ap, hb + j, ldb, cj, ldc, nr, alpha, beta, pc == 0); break;
        case 3: f16_rows_tile<3>(kc, ap, hb + j, ldb, cj, ldc, nr, alpha, beta, pc == 0); break;
        case 4: f16_rows_tile<4>(kc, ap, hb + j, ldb, cj, ldc, nr, alpha, beta, pc == 0); break;
        case 5: f16_rows_tile<5>(kc, ap, hb + j, ldb, cj, ldc, nr, alpha, beta, pc == 0); break;
        default: f16_rows_tile<6>(kc, ap, hb + j, ldb, cj, ldc, nr, alpha, beta, pc == 0); break;
      }
    }
  }
}
#endif

// m <= kMr rows against a plain row-major B, streaming B row by row (no packing): per K block
// and column chunk, acc[r][j] = fma chain over k from 0, then the micro-kernel's epilogue, so
// every element is computed exactly as by the micro-kernel.
// A float16 B (b16 set; b.data unused) is widened one row chunk at a time into `wide` (builds
// without F16C; with it, gemv_rows_f16 is used instead).
void gemv_rows(int64_t m, int64_t n, int64_t k, float alpha, const GemmA& a, const MatView& b, const uint16_t* b16,
               float beta, float* c, int64_t ldc, float* pa, float* acc, float* wide) {
  const __m256 alpha_v = _mm256_set1_ps(alpha), beta_v = _mm256_set1_ps(beta);
  for (int64_t jc = 0; jc < n; jc += kGemvCols) {
    const int64_t nc = std::min(kGemvCols, n - jc);
    for (int64_t pc = 0; pc < k; pc += kKc) {
      const int64_t kc = std::min(kKc, k - pc);
      const float* ap = a.packed ? a.packed->panel(pc, a.offset / kMr) : pa;
      if (!a.packed) pack_a(a.view, m, 0, kMr, pc, kc, pa);
      std::fill(acc, acc + m * kGemvCols, 0.f);
      for (int64_t q = 0; q < kc; ++q) {
        const float* brow = b16 ? wide : b.data + (pc + q) * b.ld + jc;
        if (b16) f16_to_f32_n(b16 + (pc + q) * b.ld + jc, wide, static_cast<size_t>(nc));
        for (int64_t r = 0; r < m; ++r) {
          const float as = ap[q * kMr + r];
          const __m256 av = _mm256_set1_ps(as);
          float* ar = acc + r * kGemvCols;
          int64_t j = 0;
          for (; j + 8 <= nc; j += 8) _mm256_storeu_ps(ar + j, _mm256_fmadd_ps(av, _mm256_loadu_ps(brow + j), _mm256_loadu_ps(ar + j)));
          for (; j < nc; ++j) ar[j] = std::fma(as, brow[j], ar[j]);
        }
      }
      for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < nc; j += kNr) {
          const float* ar = acc + r * kGemvCols + j;
          store_row(c + r * ldc + jc + j, _mm256_loadu_ps(ar), _mm256_loadu_ps(ar + 8), std::min(kNr, nc - j), alpha_v,
                    beta_v, pc == 0, beta == 0.f);
        }
    }
  }
}
#endif

void sgemm_st(int64_t m, int64_t n, int64_t k, float alpha, const GemmA& a, const GemmB& b,
              float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  thread_local std::vector<float> buf_a, buf_b;
#ifdef BS_GEMM_AVX2
#if defined(__F16C__)
  if (m <= kMr && !b.packed && !b.view.trans && b.f16) {
    gemv_rows_f16(m, n, k, alpha, a, b.f16, b.view.ld, beta, c, ldc, scratch(buf_a, kMr * kKc + kPackSlack));
    return;
  }
#endif
  if (m <= kMr && !b.packed && !b.view.trans) {
    float* acc = scratch(buf_b, (kMr + 1) * kGemvCols);
    gemv_rows(m, n, k, alpha, a, b.view, b.f16, beta, c, ldc, scratch(buf_a, kMr * kKc + kPackSlack), acc,
              acc + kMr * kGemvCols);
    return;
  }
#endif
  // A plain row-major A is read in place by the micro-kernels (its rows stay in L1/L2 while a
  // block of B is swept); a transposed one is packed.
  const bool direct_a = !a.packed && !a.view.trans;
  float* pa = a.packed || direct_a ? nullptr : scratch(buf_a, kMc * kKc + kPackSlack);
  float* pb = b.packed ? nullptr : scratch(buf_b, kNc * kKc);
  for (int64_t jc = 0; jc < n; jc += kNc) {
    const int64_t nc = std::min(kNc, n - jc);
    for (int64_t pc = 0; pc < k; pc += kKc) {
      const int64_t kc = std::min(kKc, k - pc);
      const bool first = pc == 0;
      if (!b.packed && b.f16) pack_b_f16(b.f16, b.view, n, pc, kc, jc, round_up(nc, kNr), pb);
      else if (!b.packed) pack_b(b.view, n, pc, kc, jc, round_up(nc, kNr), pb);
      for (int64_t ic = 0; ic < m; ic += kMc) {
        const int64_t mc = std::min(kMc, m - ic);
        if (!a.packed && !direct_a) pack_a(a.view, m, ic, round_up(mc, kMr), pc, kc, pa);
        for (int64_t jr = 0; jr < nc; jr += kNr) {
          const float* bp = b.packed ? b.packed->panel(pc, (b.offset + jc + jr) / kNr) : pb + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += kMr) {
            float* ct = c + (ic + ir) * ldc + jc + jr;
            const int64_t mr = std::min(kMr, mc - ir), nr = std::min(kNr, nc - jr);
            if (direct_a) {
              micro(kc, StridedCols{a.view.data + (ic + ir) * a.view.ld + pc, a.view.ld}, PanelRows{bp}, ct, ldc, mr, nr,
                    alpha, beta, first);
            } else {
              const float* ap = a.packed ? a.packed->panel(pc, (a.offset + ic + ir) / kMr) : pa + ir * kc;
              micro(kc, PackedCols{ap}, PanelRows{bp}, ct, ldc, mr, nr, alpha, beta, first);
            }
          }
        }
      }
    }
  }
}

void sgemm_shifted_st(int64_t m, int64_t n, const PackedA& a, int64_t a_row0, const float* src,
                      const int64_t* offs, float beta, float* c, int64_t ldc) {
  const int64_t k = a.depth();
  for (int64_t pc = 0; pc < k; pc += kKc) {
    const int64_t kc = std::min(kKc, k - pc);
    for (int64_t jr = 0; jr < n; jr += kNr)
      for (int64_t ir = 0; ir < m; ir += kMr)
        micro(kc, PackedCols{a.panel(pc, (a_row0 + ir) / kMr)}, ShiftedRows{src + jr, offs + pc}, c + ir * ldc + jr, ldc,
                     std::min(kMr, m - ir), std::min(kNr, n - jr), 1.f, beta, pc == 0);
  }
}

void sgemm(int64_t m, int64_t n, int64_t k, float alpha, const GemmA& a, const GemmB& b, float beta,
           float* c, int64_t ldc, int num_threads) {
  const int64_t m_tiles = (m + kMr - 1) / kMr, n_tiles = (n + kNr - 1) / kNr;
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  int threads = num_threads;
  if (flops < 2e5 || omp_in_parallel()) threads = 1;
  // Split the side whose operand is not pre-packed (the other side is then shared, not repacked).
  bool split_n = n_tiles >= m_tiles;
  if (a.packed && !b.packed) split_n = true;
  if (b.packed && !a.packed) split_n = false;
  if (split_n && n_tiles < threads && m_tiles >= threads) split_n = false;
  if (!split_n && m_tiles < threads && n_tiles >= threads) split_n = true;
  threads = static_cast<int>(std::min<int64_t>(threads, split_n ? n_tiles : m_tiles));
  if (threads <= 1) {
    sgemm_st(m, n, k, alpha, a, b, beta, c, ldc);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t tiles = split_n ? n_tiles : m_tiles;
    const int64_t t0 = tiles * t / nt, t1 = tiles * (t + 1) / nt;
    if (split_n) {
      const int64_t j0 = t0 * kNr, j1 = std::min(n, t1 * kNr);
      GemmB bs = b;
      if (bs.packed) bs.offset += j0;
      else if (bs.f16) bs.f16 += bs.view.trans ? j0 * bs.view.ld : j0;
      else bs.view.data += bs.view.trans ? j0 * bs.view.ld : j0;
      sgemm_st(m, j1 - j0, k, alpha, a, bs, beta, c + j0, ldc);
    } else {
      const int64_t i0 = t0 * kMr, i1 = std::min(m, t1 * kMr);
      GemmA as = a;
      if (as.packed) as.offset += i0;
      else as.view.data += as.view.trans ? i0 : i0 * as.view.ld;
      sgemm_st(i1 - i0, n, k, alpha, as, b, beta, c + i0 * ldc, ldc);
    }
  }
}

}  // namespace bitsmith::kernels
