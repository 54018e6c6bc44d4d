#include "quant/quant_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/kernels/ref/quantized_ref.h"

#if defined(__AVX2__)
#include <immintrin.h>
#define BS_QUANT_AVX2 1
#endif

namespace bitsmith::quant {
namespace {

// ---- scalar reference twins ----

bool minmax_row_ref(const float* x, int64_t n, float* lo, float* hi) {
  bool finite = true;
  float l = *lo, h = *hi;
  for (int64_t j = 0; j < n; ++j) {
    const float v = x[j];
    finite &= std::isfinite(v);
    if (v < l) l = v;
    if (v > h) h = v;
  }
  *lo = l;
  *hi = h;
  return finite;
}

bool minmax_cols_ref(const float* x, int64_t rows, int64_t ld, int64_t n, float* lo, float* hi) {
  bool finite = true;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      const float v = x[r * ld + j];
      finite &= std::isfinite(v);
      if (v < lo[j]) lo[j] = v;
      if (v > hi[j]) hi[j] = v;
    }
  return finite;
}

inline uint8_t code_ref(float x, float scale, float zero_point, int32_t qmin, int32_t qmax) {
  return static_cast<uint8_t>(kernels::quantize_value(x, scale, static_cast<int32_t>(zero_point), qmin, qmax));
}

bool quantize_row_ref(const float* x, int64_t n, float scale, float zero_point, int32_t qmin, int32_t qmax,
                      uint8_t* out) {
  bool finite = true;
  for (int64_t j = 0; j < n; ++j) {
    finite &= std::isfinite(x[j]);
    out[j] = code_ref(x[j], scale, zero_point, qmin, qmax);
  }
  return finite;
}

bool quantize_row_vec_ref(const float* x, int64_t n, const float* scale, const float* zero_point, int32_t qmin,
                          int32_t qmax, uint8_t* out) {
  bool finite = true;
  for (int64_t j = 0; j < n; ++j) {
    finite &= std::isfinite(x[j]);
    out[j] = code_ref(x[j], scale[j], zero_point[j], qmin, qmax);
  }
  return finite;
}

#if BS_QUANT_AVX2

// x * 0 is +-0 for finite x and NaN for NaN/Inf; summing those keeps a NaN once one appears.
inline __m256 finite_acc(__m256 acc, __m256 v) { return _mm256_add_ps(acc, _mm256_mul_ps(v, _mm256_setzero_ps())); }

inline bool all_finite(__m256 acc) {
  return _mm256_movemask_ps(_mm256_cmp_ps(acc, acc, _CMP_UNORD_Q)) == 0;
}

// Horizontal min / max of 8 lanes (exact: any order gives the same value up to the sign of 0).
inline float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

bool minmax_row_avx2(const float* x, int64_t n, float* lo, float* hi) {
  int64_t j = 0;
  bool finite = true;
  if (n >= 8) {
    __m256 l = _mm256_set1_ps(std::numeric_limits<float>::infinity());
    __m256 h = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    __m256 l2 = l, h2 = h, acc = _mm256_setzero_ps();
    for (; j + 16 <= n; j += 16) {
      const __m256 a = _mm256_loadu_ps(x + j), b = _mm256_loadu_ps(x + j + 8);
      l = _mm256_min_ps(l, a);
      h = _mm256_max_ps(h, a);
      l2 = _mm256_min_ps(l2, b);
      h2 = _mm256_max_ps(h2, b);
      acc = finite_acc(finite_acc(acc, a), b);
    }
    for (; j + 8 <= n; j += 8) {
      const __m256 a = _mm256_loadu_ps(x + j);
      l = _mm256_min_ps(l, a);
      h = _mm256_max_ps(h, a);
      acc = finite_acc(acc, a);
    }
    finite = all_finite(acc);
    const float vl = hmin(_mm256_min_ps(l, l2)), vh = hmax(_mm256_max_ps(h, h2));
    if (vl < *lo) *lo = vl;
    if (vh > *hi) *hi = vh;
  }
  return minmax_row_ref(x + j, n - j, lo, hi) && finite;
}

// Four rows per pass over lo/hi, so the running min/max is loaded and stored once per 4 rows.
bool minmax_cols_avx2(const float* x, int64_t rows, int64_t ld, int64_t n, float* lo, float* hi) {
  __m256 acc = _mm256_setzero_ps();
  const int64_t n8 = n / 8 * 8;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float *x0 = x + r * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
    for (int64_t j = 0; j < n8; j += 8) {
      const __m256 a = _mm256_loadu_ps(x0 + j), b = _mm256_loadu_ps(x1 + j);
      const __m256 c = _mm256_loadu_ps(x2 + j), d = _mm256_loadu_ps(x3 + j);
      const __m256 mn = _mm256_min_ps(_mm256_min_ps(a, b), _mm256_min_ps(c, d));
      const __m256 mx = _mm256_max_ps(_mm256_max_ps(a, b), _mm256_max_ps(c, d));
      _mm256_storeu_ps(lo + j, _mm256_min_ps(_mm256_loadu_ps(lo + j), mn));
      _mm256_storeu_ps(hi + j, _mm256_max_ps(_mm256_loadu_ps(hi + j), mx));
      acc = finite_acc(finite_acc(finite_acc(finite_acc(acc, a), b), c), d);
    }
  }
  for (; r < rows; ++r) {
    const float* xr = x + r * ld;
    for (int64_t j = 0; j < n8; j += 8) {
      const __m256 a = _mm256_loadu_ps(xr + j);
      _mm256_storeu_ps(lo + j, _mm256_min_ps(_mm256_loadu_ps(lo + j), a));
      _mm256_storeu_ps(hi + j, _mm256_max_ps(_mm256_loadu_ps(hi + j), a));
      acc = finite_acc(acc, a);
    }
  }
  return minmax_cols_ref(x + n8, rows, ld, n - n8, lo + n8, hi + n8) && all_finite(acc);
}

// 8 codes as int32: clamp(round_half_even(x / s) + z, qmin, qmax).
inline __m256i codes8(const float* x, __m256 s, __m256 z, __m256 vmin, __m256 vmax, __m256& acc) {
  const __m256 v = _mm256_loadu_ps(x);
  acc = finite_acc(acc, v);
  __m256 r = _mm256_round_ps(_mm256_div_ps(v, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, z), vmin), vmax);
  return _mm256_cvtps_epi32(r);
}

// The low bytes of 32 int32 codes (each in [-128, 255]) in order.
inline void store_bytes32(__m256i a, __m256i b, __m256i c, __m256i d, uint8_t* out) {
  const __m256i lowbyte = _mm256_set1_epi16(0xff);
  const __m256i ab = _mm256_and_si256(_mm256_packs_epi32(a, b), lowbyte);  // [a0-3 b0-3 | a4-7 b4-7]
  const __m256i cd = _mm256_and_si256(_mm256_packs_epi32(c, d), lowbyte);
  const __m256i abcd = _mm256_packus_epi16(ab, cd);  // dwords [a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7]
  const __m256i ordered = _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), ordered);
}

bool quantize_row_avx2(const float* x, int64_t n, float scale, float zero_point, int32_t qmin, int32_t qmax,
                       uint8_t* out) {
  const __m256 s = _mm256_set1_ps(scale), z = _mm256_set1_ps(zero_point);
  const __m256 vmin = _mm256_set1_ps(static_cast<float>(qmin)), vmax = _mm256_set1_ps(static_cast<float>(qmax));
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    const __m256i a = codes8(x + j, s, z, vmin, vmax, acc), b = codes8(x + j + 8, s, z, vmin, vmax, acc);
    const __m256i c = codes8(x + j + 16, s, z, vmin, vmax, acc), d = codes8(x + j + 24, s, z, vmin, vmax, acc);
    store_bytes32(a, b, c, d, out + j);
  }
  return quantize_row_ref(x + j, n - j, scale, zero_point, qmin, qmax, out + j) && all_finite(acc);
}

bool quantize_row_vec_avx2(const float* x, int64_t n, const float* scale, const float* zero_point, int32_t qmin,
                           int32_t qmax, uint8_t* out) {
  const __m256 vmin = _mm256_set1_ps(static_cast<float>(qmin)), vmax = _mm256_set1_ps(static_cast<float>(qmax));
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  const auto at = [&](int64_t k) {
    return codes8(x + k, _mm256_loadu_ps(scale + k), _mm256_loadu_ps(zero_point + k), vmin, vmax, acc);
  };
  for (; j + 32 <= n; j += 32) {
    const __m256i a = at(j), b = at(j + 8), c = at(j + 16), d = at(j + 24);
    store_bytes32(a, b, c, d, out + j);
  }
  return quantize_row_vec_ref(x + j, n - j, scale + j, zero_point + j, qmin, qmax, out + j) && all_finite(acc);
}

#endif  // BS_QUANT_AVX2

}  // namespace

bool minmax_row(const float* x, int64_t n, float* lo, float* hi, bool scalar) {
#if BS_QUANT_AVX2
  if (!scalar) return minmax_row_avx2(x, n, lo, hi);
#endif
  return minmax_row_ref(x, n, lo, hi);
}

bool minmax_cols(const float* x, int64_t rows, int64_t ld, int64_t n, float* lo, float* hi, bool scalar) {
#if BS_QUANT_AVX2
  if (!scalar) return minmax_cols_avx2(x, rows, ld, n, lo, hi);
#endif
  return minmax_cols_ref(x, rows, ld, n, lo, hi);
}

bool quantize_row(const float* x, int64_t n, float scale, float zero_point, int32_t qmin, int32_t qmax,
                  uint8_t* out, bool scalar) {
#if BS_QUANT_AVX2
  if (!scalar) return quantize_row_avx2(x, n, scale, zero_point, qmin, qmax, out);
#endif
  return quantize_row_ref(x, n, scale, zero_point, qmin, qmax, out);
}

bool quantize_row_vec(const float* x, int64_t n, const float* scale, const float* zero_point, int32_t qmin,
                      int32_t qmax, uint8_t* out, bool scalar) {
#if BS_QUANT_AVX2
  if (!scalar) return quantize_row_vec_avx2(x, n, scale, zero_point, qmin, qmax, out);
#endif
  return quantize_row_vec_ref(x, n, scale, zero_point, qmin, qmax, out);
}

void pack_nibbles(const uint8_t* codes, int64_t n, int64_t first_pair, int64_t last_pair, uint8_t* out) {
  const int64_t full = std::min(last_pair, n / 2);  // pairs with both elements
  for (int64_t i = first_pair; i < full; ++i)
    out[i] = static_cast<uint8_t>((codes[2 * i] & 0xf) | ((codes[2 * i + 1] & 0xf) << 4));
  for (int64_t i = std::max(first_pair, full); i < last_pair; ++i) out[i] = codes[2 * i] & 0xf;
}

}  // namespace bitsmith::quant
