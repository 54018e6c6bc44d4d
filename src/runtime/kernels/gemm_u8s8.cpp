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

// Where the rows of one tile come from: row r is the concatenation over s < nseg of
// seg_groups * 4 bytes at row[r] + seg_off[s] (plain A: one segment at offset 0).
struct TileRows {
  const uint8_t* row[kQMr];
  const int64_t* seg_off;
  int64_t nseg, seg_groups;
};

#if defined(__AVX2__)
// acc[r][0..2) = sum over the k groups of the 4 products of A row r and the panel (raw, no zero
// points). Panel column c of group g sits at byte c*4 of the 64: the 8 int32 lanes of b0 are
// columns 0..7 and of b1 columns 8..15, in order.
template <int MR, bool kSplit>
inline void micro_u8s8(const TileRows& a, const int8_t* bp, const int8_t* bl, __m256i (&acc)[MR][2]) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t s = 0; s < a.nseg; ++s) {
    const uint8_t* ar[MR];
    for (int r = 0; r < MR; ++r) ar[r] = a.row[r] + a.seg_off[s];
    for (int64_t g = 0; g < a.seg_groups; ++g, bp += 64) {
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 32));
      __m256i l0, l1;
      if constexpr (kSplit) {
        l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bl));
        l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bl + 32));
        bl += 64;
      }
      for (int r = 0; r < MR; ++r) {
        int32_t word;
        std::memcpy(&word, ar[r] + g * 4, 4);
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
  }
}

// The requantizing epilogue of a full tile (16 columns) in registers: the zero-point terms of
// finish_tile (wrapping int32), then requantize_value's arithmetic (cvt, mul, round half even,
// + zp, clamp; each op correctly rounded, so identical to the scalar path), packed to 16 bytes
// per row. Stores rows of 16 bytes (ld_col 1) or, for MR 4 and ld_row 1, one 4-byte word per
// column. Returns false (nothing stored) for other layouts.
template <int MR>
inline bool quantized_tile(const QEpilogue& ep, int64_t row, int64_t j0, __m256i (&acc)[MR][2],
                           const int32_t* col_add, const int32_t* rowsum, int64_t rowsum_base) {
  const bool rows_out = ep.ld_col == 1, cols_out = MR == 4 && ep.ld_row == 1;
  if (!rows_out && !cols_out) return false;
  const __m256i ca0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(col_add + j0));
  const __m256i ca1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(col_add + j0 + 8));
  __m256i bz0 = _mm256_setzero_si256(), bz1 = bz0;
  if (rowsum) {
    bz0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ep.b_zp + j0));
    bz1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ep.b_zp + j0 + 8));
  }
  const __m256 m0 = _mm256_loadu_ps(ep.multiplier + j0), m1 = _mm256_loadu_ps(ep.multiplier + j0 + 8);
  const __m256 zp = _mm256_set1_ps(static_cast<float>(ep.zp));
  const __m256 lo = _mm256_set1_ps(static_cast<float>(ep.qmin)), hi = _mm256_set1_ps(static_cast<float>(ep.qmax));
  auto requant = [&](__m256i v, __m256 mult) {
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), mult);
    f = _mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    f = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(f, zp), lo), hi);
    return _mm256_cvtps_epi32(f);
  };
  __m128i bytes[MR];
  for (int r = 0; r < MR; ++r) {
    __m256i v0 = _mm256_add_epi32(acc[r][0], ca0), v1 = _mm256_add_epi32(acc[r][1], ca1);
    if (rowsum) {
      const __m256i rs = _mm256_set1_epi32(rowsum[rowsum_base + r]);
      v0 = _mm256_sub_epi32(v0, _mm256_mullo_epi32(bz0, rs));
      v1 = _mm256_sub_epi32(v1, _mm256_mullo_epi32(bz1, rs));
    }
    // 16 x i16 in column order, then bytes (values already within [qmin, qmax]).
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(requant(v0, m0), requant(v1, m1)), 0xD8);
    const __m128i w0 = _mm256_castsi256_si128(w), w1 = _mm256_extracti128_si256(w, 1);
    bytes[r] = ep.out_signed ? _mm_packs_epi16(w0, w1) : _mm_packus_epi16(w0, w1);
  }
  uint8_t* out = static_cast<uint8_t*>(ep.out);
  if (rows_out) {
    for (int r = 0; r < MR; ++r)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (row + r) * ep.ld_row + j0), bytes[r]);
    return true;
  }
  if constexpr (MR == 4) {
    // 4 rows x 16 columns -> 16 columns x 4 rows: word c of quad q is column 4q + c.
    const __m128i t01l = _mm_unpacklo_epi8(bytes[0], bytes[1]), t01h = _mm_unpackhi_epi8(bytes[0], bytes[1]);
    const __m128i t23l = _mm_unpacklo_epi8(bytes[2], bytes[3]), t23h = _mm_unpackhi_epi8(bytes[2], bytes[3]);
    const __m128i quad[4] = {_mm_unpacklo_epi16(t01l, t23l), _mm_unpackhi_epi16(t01l, t23l),
                             _mm_unpacklo_epi16(t01h, t23h), _mm_unpackhi_epi16(t01h, t23h)};
    uint8_t* o = out + row + j0 * ep.ld_col;
    for (int q = 0; q < 4; ++q) {
      alignas(16) uint32_t words[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(words), quad[q]);
      for (int c = 0; c < 4; ++c) std::memcpy(o + (4 * q + c) * ep.ld_col, &words[c], 4);
    }
  }
  return true;
}

template <int MR, bool kSplit>
void tile_u8s8(const TileRows& a, const int8_t* bp, const int8_t* bl, const QEpilogue& ep, int64_t row, int64_t j0,
               int64_t nc, const int32_t* col_add, const int32_t* rowsum, int64_t rowsum_base) {
  __m256i acc[MR][2];
  micro_u8s8<MR, kSplit>(a, bp, bl, acc);
  if (nc == kQNr && ep.kind == QEpilogue::Kind::kQuantized &&
      quantized_tile<MR>(ep, row, j0, acc, col_add, rowsum, rowsum_base))
    return;
  alignas(32) int32_t tile[kQMr * kQNr];
  for (int r = 0; r < MR; ++r) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(tile + r * kQNr), acc[r][0]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(tile + r * kQNr + 8), acc[r][1]);
  }
  finish_tile(ep, row, j0, MR, nc, tile, col_add, rowsum, rowsum_base);
}

template <bool kSplit>
void tile_dispatch(int mr, const TileRows& a, const int8_t* bp, const int8_t* bl, const QEpilogue& ep, int64_t row,
                   int64_t j0, int64_t nc, const int32_t* col_add, const int32_t* rowsum, int64_t rowsum_base) {
  switch (mr) {
    case 4: tile_u8s8<4, kSplit>(a, bp, bl, ep, row, j0, nc, col_add, rowsum, rowsum_base); break;
    case 3: tile_u8s8<3, kSplit>(a, bp, bl, ep, row, j0, nc, col_add, rowsum, rowsum_base); break;
    case 2: tile_u8s8<2, kSplit>(a, bp, bl, ep, row, j0, nc, col_add, rowsum, rowsum_base); break;
    default: tile_u8s8<1, kSplit>(a, bp, bl, ep, row, j0, nc, col_add, rowsum, rowsum_base); break;
  }
}
#else
// Portable micro-kernel: the same exact sums.
void tile_portable(int mr, const TileRows& a, const int8_t* bp, const int8_t* bl, const QEpilogue& ep, int64_t row,
                   int64_t j0, int64_t nc, const int32_t* col_add, const int32_t* rowsum, int64_t rowsum_base) {
  alignas(32) int32_t tile[kQMr * kQNr];
  for (int r = 0; r < mr; ++r)
    for (int c = 0; c < kQNr; ++c) {
      int32_t s = 0;
      int64_t g = 0;
      for (int64_t seg = 0; seg < a.nseg; ++seg)
        for (int64_t gs = 0; gs < a.seg_groups; ++gs, ++g)
          for (int q = 0; q < 4; ++q) {
            const int32_t b = bp[g * 64 + c * 4 + q] + (bl ? bl[g * 64 + c * 4 + q] : 0);
            s += static_cast<int32_t>(a.row[r][a.seg_off[seg] + gs * 4 + q]) * b;
          }
      tile[r * kQNr + c] = s;
    }
  finish_tile(ep, row, j0, mr, nc, tile, col_add, rowsum, rowsum_base);
}
#endif

// Tiles of rows [0, m) x columns [n0, n1); row_ptr(i) gives A row i's base pointer.
template <class RowPtr>
void qgemm_tiles(int64_t m, RowPtr row_ptr, const int64_t* seg_off, int64_t nseg, int64_t seg_groups,
                 const PackedWeightsS8& b, int64_t n0, int64_t n1, const QEpilogue& ep, const int32_t* col_add,
                 const int32_t* rowsum, int64_t row0) {
  TileRows t{};
  t.seg_off = seg_off;
  t.nseg = nseg;
  t.seg_groups = seg_groups;
  for (int64_t j0 = n0; j0 < n1; j0 += kQNr) {
    const int64_t p = j0 / kQNr, nc = std::min(kQNr, n1 - j0);
    const int8_t* bp = b.panel(p);
    const int8_t* bl = b.split() ? b.panel_lo(p) : nullptr;
    for (int64_t i = 0; i < m; i += kQMr) {
      const int mr = static_cast<int>(std::min(kQMr, m - i));
      for (int r = 0; r < mr; ++r) t.row[r] = row_ptr(i + r);
#if defined(__AVX2__)
      if (bl) tile_dispatch<true>(mr, t, bp, bl, ep, row0 + i, j0, nc, col_add, rowsum, i);
      else tile_dispatch<false>(mr, t, bp, bl, ep, row0 + i, j0, nc, col_add, rowsum, i);
#else
      tile_portable(mr, t, bp, bl, ep, row0 + i, j0, nc, col_add, rowsum, i);
#endif
    }
  }
}

}  // namespace

void qgemm_u8s8_st(int64_t m, const uint8_t* a, int64_t lda, const PackedWeightsS8& b, int64_t n0, int64_t n1,
                   const QEpilogue& ep, const int32_t* col_add, const int32_t* rowsum, int64_t row0) {
  const int64_t zero = 0;
  qgemm_tiles(m, [&](int64_t i) { return a + i * lda; }, &zero, 1, round_up4(b.depth()) / 4, b, n0, n1, ep, col_add,
              rowsum, row0);
}

void qgemm_u8s8_rows_st(int64_t m, const QRowsU8& a, const PackedWeightsS8& b, int64_t n0, int64_t n1,
                        const QEpilogue& ep, const int32_t* col_add, const int32_t* rowsum, int64_t row0) {
  qgemm_tiles(m, [&](int64_t i) { return a.rows[i]; }, a.seg_off, a.nseg, a.seg_len / 4, b, n0, n1, ep, col_add,
              rowsum, row0);
}

void qgemm_row_sums_rows(int64_t m, const QRowsU8& a, int32_t* rowsum) {
  for (int64_t i = 0; i < m; ++i) {
    int32_t s = 0;
    for (int64_t seg = 0; seg < a.nseg; ++seg)
      for (int64_t kk = 0; kk < a.seg_len; ++kk) s += a.rows[i][a.seg_off[seg] + kk];
    rowsum[i] = s;
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
