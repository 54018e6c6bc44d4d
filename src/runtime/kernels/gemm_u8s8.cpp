// The u8 x s8 -> s32 GEMM (see gemm_u8s8.h for the contract, layout and saturation guard).
#include "runtime/kernels/gemm_u8s8.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/ref/quantized_ref.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace bitsmith::kernels {

PackedWeightsS8::PackedWeightsS8(const int8_t* src, int64_t k, int64_t n, int64_t ld_k, int64_t ld_n)
    : k_(k), n_(n) {
  const int64_t kp = round_up4(k), panels = (n + kQNr - 1) / kQNr;
  auto at = [&](int64_t kk, int64_t j) -> int32_t {
    return kk < k && j < n ? static_cast<int32_t>(src[kk * ld_k + j * ld_n]) : 0;
  };
  // Saturation check on every pair (k, k+1), k even, that vpmaddubsw adds: with a in [0, 255]
  // the pair sum is exact iff 255 * (max(b0,0) + max(b1,0)) <= 32767 and
  // 255 * (min(b0,0) + min(b1,0)) >= -32768.
  colsum_.assign(static_cast<size_t>(n), 0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t kk = 0; kk < kp; kk += 2) {
      const int32_t b0 = at(kk, j), b1 = at(kk + 1, j);
      colsum_[j] += b0 + b1;
      const int32_t hi = 255 * (std::max(b0, 0) + std::max(b1, 0)), lo = 255 * (std::min(b0, 0) + std::min(b1, 0));
      if (hi > 32767 || lo < -32768) split_ = true;
    }
  data_.assign(static_cast<size_t>(panels * kp * kQNr), 0);
  if (split_) lo_.assign(data_.size(), 0);
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t kk = 0; kk < kp; ++kk)
      for (int64_t c = 0; c < kQNr; ++c) {
        const int32_t v = at(kk, p * kQNr + c);
        const size_t idx = static_cast<size_t>(p * kp * kQNr + (kk / 4) * kQNr * 4 + c * 4 + kk % 4);
        if (!split_) {
          data_[idx] = static_cast<int8_t>(v);
        } else {
          const int32_t hi = v >> 1;  // floor(v / 2): v = hi + lo, both in [-64, 64]
          data_[idx] = static_cast<int8_t>(hi);
          lo_[idx] = static_cast<int8_t>(v - hi);
        }
      }
}

void qepilogue_scalar(const QEpilogue& ep, int64_t i, int64_t j, int32_t acc) {
  const int64_t at = i * ep.ld_row + j * ep.ld_col;
  switch (ep.kind) {
    case QEpilogue::Kind::kInt32:
      static_cast<int32_t*>(ep.out)[at] = acc;
      break;
    case QEpilogue::Kind::kQuantized: {
      const int32_t q = requantize_value(acc, ep.multiplier[j], ep.zp, ep.qmin, ep.qmax);
      if (ep.out_signed) static_cast<int8_t*>(ep.out)[at] = static_cast<int8_t>(q);
      else static_cast<uint8_t*>(ep.out)[at] = static_cast<uint8_t>(q);
      break;
    }
    case QEpilogue::Kind::kFloat: {
      const float v = static_cast<float>(acc);
      static_cast<float*>(ep.out)[at] = ep.fbias ? std::fma(v, ep.scale[j], ep.fbias[j]) : v * ep.scale[j];
      break;
    }
  }
}

std::vector<int32_t> qgemm_col_add(const QEpilogue& ep, const std::vector<int32_t>& colsum, int64_t k) {
  std::vector<int32_t> add(colsum.size());
  for (size_t j = 0; j < add.size(); ++j) {
    // Wrapping int32 arithmetic (unsigned), as the reference's int32 sum wraps.
    uint32_t v = static_cast<uint32_t>(-static_cast<int64_t>(ep.a_zp) * colsum[j]);
    if (ep.b_zp) v += static_cast<uint32_t>(k * ep.a_zp * ep.b_zp[j]);
    if (ep.bias) v += static_cast<uint32_t>(ep.bias[j]);
    add[j] = static_cast<int32_t>(v);
  }
  return add;
}

void qgemm_row_sums(int64_t m, int64_t k, const uint8_t* a, int64_t lda, int32_t* rowsum) {
  for (int64_t i = 0; i < m; ++i) {
    int32_t s = 0;
    for (int64_t kk = 0; kk < k; ++kk) s += a[i * lda + kk];
    rowsum[i] = s;
  }
}

namespace {

inline int32_t wrap_add(int32_t a, int32_t b) { return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b)); }

// acc tile [mr][kQNr] -> epilogue for columns [j0, j0 + nc).
void finish_tile(const QEpilogue& ep, int64_t row, int64_t j0, int mr, int64_t nc, int32_t* tile,
                 const int32_t* col_add, const int32_t* rowsum, int64_t rowsum_base) {
  for (int r = 0; r < mr; ++r) {
    int32_t* t = tile + r * kQNr;
    for (int64_t c = 0; c < nc; ++c) {
      int32_t v = wrap_add(t[c], col_add[j0 + c]);
      if (rowsum) v = wrap_add(v, static_cast<int32_t>(static_cast<uint32_t>(-ep.b_zp[j0 + c]) *
                                                      static_cast<uint32_t>(rowsum[rowsum_base + r])));
      t[c] = v;
    }
#if defined(__AVX2__)
    if (nc == kQNr && ep.kind == QEpilogue::Kind::kQuantized) {
      // Same arithmetic as requantize_value: cvt (exact rounding), mul, round half even, + zp,
      // clamp — each op correctly rounded, so identical to the scalar path.
      const __m256 zp = _mm256_set1_ps(static_cast<float>(ep.zp));
      const __m256 lo = _mm256_set1_ps(static_cast<float>(ep.qmin)), hi = _mm256_set1_ps(static_cast<float>(ep.qmax));
      alignas(32) int32_t q[kQNr];
      for (int h = 0; h < 2; ++h) {
        __m256 v = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 8 * h)));
        v = _mm256_mul_ps(v, _mm256_loadu_ps(ep.multiplier + j0 + 8 * h));
        v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, zp), lo), hi);
        _mm256_store_si256(reinterpret_cast<__m256i*>(q + 8 * h), _mm256_cvtps_epi32(v));
      }
      if (ep.ld_col != 1) {  // transposed output (conv): one byte per column
        const int64_t base = (row + r) * ep.ld_row + j0 * ep.ld_col;
        for (int64_t c = 0; c < kQNr; ++c) {
          if (ep.out_signed) static_cast<int8_t*>(ep.out)[base + c * ep.ld_col] = static_cast<int8_t>(q[c]);
          else static_cast<uint8_t*>(ep.out)[base + c * ep.ld_col] = static_cast<uint8_t>(q[c]);
        }
        continue;
      }
      const __m256i q0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(q));
      const __m256i q1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 8));
      const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);  // 16 x i16 in order
      const __m128i w0 = _mm256_castsi256_si128(w), w1 = _mm256_extracti128_si256(w, 1);
      const __m128i b = ep.out_signed ? _mm_packs_epi16(w0, w1) : _mm_packus_epi16(w0, w1);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint8_t*>(ep.out) + (row + r) * ep.ld_row + j0), b);
      continue;
    }
    if (nc == kQNr && ep.ld_col == 1 && ep.kind == QEpilogue::Kind::kFloat) {
      float* o = static_cast<float*>(ep.out) + (row + r) * ep.ld_row + j0;
      for (int h = 0; h < 2; ++h) {
        const __m256 v = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 8 * h)));
        const __m256 s = _mm256_loadu_ps(ep.scale + j0 + 8 * h);
        _mm256_storeu_ps(o + 8 * h, ep.fbias ? _mm256_fmadd_ps(v, s, _mm256_loadu_ps(ep.fbias + j0 + 8 * h))
                                             : _mm256_mul_ps(v, s));
      }
      continue;
    }
#endif
    for (int64_t c = 0; c < nc; ++c) qepilogue_scalar(ep, row + r, j0 + c, t[c]);
  }
}

#if defined(__AVX2__)
// tile[r][0..16) = sum over kg of the 4 products of A row r and the panel (raw, no zero points).
template <int MR, bool kSplit>
void micro_u8s8(const uint8_t* a, int64_t lda, const int8_t* bp, const int8_t* bl, int64_t kgroups, int32_t* tile) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t g = 0; g < kgroups; ++g) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + g * 64));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + g * 64 + 32));
    __m256i l0, l1;
    if constexpr (kSplit) {
      l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bl + g * 64));
      l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bl + g * 64 + 32));
    }
    for (int r = 0; r < MR; ++r) {
      int32_t word;
      std::memcpy(&word, a + r * lda + g * 4, 4);
      const __m256i av = _mm256_set1_epi32(word);
      __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(av, b0), ones);
      __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(av, b1), ones);
      if constexpr (kSplit) {
        p0 = _mm256_add_epi32(p0, _mm256_madd_epi16(_mm256_maddubs_epi16(av, l0), ones));
        p1 = _mm256_add_epi32(p1, _mm256_madd_epi16(_mm256_maddubs_epi16(av, l1), ones));
      }
      acc[r][0] = _mm256_add_epi32(acc[r][0], p0);
      acc[r][1] = _mm256_add_epi32(acc[r][1], p1);
    }
  }
  // Panel column c of group g sits at byte c*4 of the 64: the 8 int32 lanes of b0 are columns
  // 0..7 and of b1 columns 8..15, in order.
  for (int r = 0; r < MR; ++r) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + r * kQNr), acc[r][0]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + r * kQNr + 8), acc[r][1]);
  }
}

template <bool kSplit>
void micro_dispatch(int mr, const uint8_t* a, int64_t lda, const int8_t* bp, const int8_t* bl, int64_t kg,
                    int32_t* tile) {
  switch (mr) {
    case 4: micro_u8s8<4, kSplit>(a, lda, bp, bl, kg, tile); break;
    case 3: micro_u8s8<3, kSplit>(a, lda, bp, bl, kg, tile); break;
    case 2: micro_u8s8<2, kSplit>(a, lda, bp, bl, kg, tile); break;
    default: micro_u8s8<1, kSplit>(a, lda, bp, bl, kg, tile); break;
  }
}
#else
// Portable micro-kernel: the same exact sums.
void micro_portable(int mr, const uint8_t* a, int64_t lda, const int8_t* bp, const int8_t* bl, int64_t kg,
                    int32_t* tile) {
  for (int r = 0; r < mr; ++r)
    for (int c = 0; c < kQNr; ++c) {
      int32_t s = 0;
      for (int64_t g = 0; g < kg; ++g)
        for (int q = 0; q < 4; ++q) {
          const int32_t b = bp[g * 64 + c * 4 + q] + (bl ? bl[g * 64 + c * 4 + q] : 0);
          s += static_cast<int32_t>(a[r * lda + g * 4 + q]) * b;
        }
      tile[r * kQNr + c] = s;
    }
}
#endif

}  // namespace

void qgemm_u8s8_st(int64_t m, const uint8_t* a, int64_t lda, const PackedWeightsS8& b, int64_t n0, int64_t n1,
                   const QEpilogue& ep, const int32_t* col_add, const int32_t* rowsum, int64_t row0) {
  const int64_t kg = round_up4(b.depth()) / 4;
  alignas(32) int32_t tile[kQMr * kQNr];
  for (int64_t j0 = n0; j0 < n1; j0 += kQNr) {
    const int64_t p = j0 / kQNr, nc = std::min(kQNr, n1 - j0);
    const int8_t* bp = b.panel(p);
    const int8_t* bl = b.split() ? b.panel_lo(p) : nullptr;
    for (int64_t i = 0; i < m; i += kQMr) {
      const int mr = static_cast<int>(std::min(kQMr, m - i));
#if defined(__AVX2__)
      if (bl) micro_dispatch<true>(mr, a + i * lda, lda, bp, bl, kg, tile);
      else micro_dispatch<false>(mr, a + i * lda, lda, bp, bl, kg, tile);
#else
      micro_portable(mr, a + i * lda, lda, bp, bl, kg, tile);
#endif
      finish_tile(ep, row0 + i, j0, mr, nc, tile, col_add, rowsum, i);
    }
  }
}

void qgemm_u8s8(int64_t m, const uint8_t* a, int64_t lda, const PackedWeightsS8& b, const QEpilogue& ep,
                int num_threads) {
  const int64_t n = b.cols(), k = b.depth();
  if (m <= 0 || n <= 0) return;
  const std::vector<int32_t> col_add = qgemm_col_add(ep, b.colsum(), k);
  bool any_bzp = false;
  for (int64_t j = 0; ep.b_zp && j < n; ++j) any_bzp = any_bzp || ep.b_zp[j] != 0;
  std::vector<int32_t> rowsum;
  if (any_bzp) {
    rowsum.resize(static_cast<size_t>(m));
    qgemm_row_sums(m, k, a, lda, rowsum.data());
  }
  // Items: row blocks of up to 64 rows x column blocks of up to 256 columns (B block of
  // K x 256 bytes stays in L2 while the rows stream). Blocking never changes the exact sums.
  const int threads = std::max(num_threads, 1);
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const int64_t rb = 64, nb = 256;
  int64_t row_blocks = (m + rb - 1) / rb, col_blocks = (n + nb - 1) / nb;
  int64_t cb = nb;
  // Few items: cut columns finer (whole panels) so every thread gets work.
  while (row_blocks * col_blocks < 2 * threads && cb > kQNr) {
    cb /= 2;
    col_blocks = (n + cb - 1) / cb;
  }
  parallel_items(row_blocks * col_blocks, work >= 2e5 ? threads : 1, [&](int64_t item) {
    const int64_t r0 = (item / col_blocks) * rb, c0 = (item % col_blocks) * cb;
    const int64_t r1 = std::min(m, r0 + rb), c1 = std::min(n, c0 + cb);
    qgemm_u8s8_st(r1 - r0, a + r0 * lda, lda, b, c0, c1, ep, col_add.data(), any_bzp ? rowsum.data() + r0 : nullptr,
                  r0);
  });
}

}  // namespace bitsmith::kernels
