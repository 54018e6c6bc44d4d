#include "runtime/kernels/eltwise_simd.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define BS_ELT_AVX2 1
#endif

namespace bitsmith::kernels::elt::simd {

#if BS_ELT_AVX2

namespace {

inline __m256 set1(float v) { return _mm256_set1_ps(v); }

// Cephes expf: x = n ln2 + r, exp(r) by a degree-6 polynomial, scaled by 2^n in two steps
// (2^(n/2) twice) so that n from -150 to 128 needs no special exponent handling: results between
// FLT_MAX and the smallest subnormal come out finite and gradually underflowing.
inline __m256 exp8(__m256 x) {
  const __m256 hi = set1(88.7228394f);  // just below ln(FLT_MAX)
  const __m256 lo = set1(-103.972084f);  // ln of the smallest subnormal
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(xc, set1(1.44269504088896341f), set1(0.5f)));
  __m256 r = _mm256_fnmadd_ps(fx, set1(0.693359375f), xc);
  r = _mm256_fnmadd_ps(fx, set1(-2.12194440e-4f), r);
  __m256 p = set1(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, set1(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, set1(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, set1(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, set1(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, set1(5.0000001201e-1f));
  __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, set1(1.0f)));
  const __m256i n = _mm256_cvttps_epi32(fx);
  const __m256i n1 = _mm256_srai_epi32(n, 1);
  const __m256i n2 = _mm256_sub_epi32(n, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23)));
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23)));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, set1(std::numeric_limits<float>::infinity()), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

inline __m256 abs8(__m256 x) { return _mm256_andnot_ps(set1(-0.0f), x); }
// |magnitude| with the sign of `sign`.
inline __m256 copysign8(__m256 magnitude, __m256 sign) {
  return _mm256_or_ps(abs8(magnitude), _mm256_and_ps(sign, set1(-0.0f)));
}

// 1 / (1 + exp(-x)) as e / (1 + e) with e = exp(-|x|) <= 1 for negative x, so small results
// underflow gradually instead of going through an overflowing exp.
inline __m256 sigmoid8(__m256 x) {
  const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), abs8(x)));
  const __m256 r = _mm256_div_ps(set1(1.0f), _mm256_add_ps(set1(1.0f), e));
  return _mm256_blendv_ps(_mm256_mul_ps(e, r), r, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
}

inline __m256 tanh8(__m256 x) {
  const __m256 a = abs8(x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = set1(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, set1(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, set1(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, set1(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, set1(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  const __m256 e = exp8(_mm256_add_ps(a, a));
  const __m256 large = _mm256_sub_ps(set1(1.0f), _mm256_div_ps(set1(2.0f), _mm256_add_ps(e, set1(1.0f))));
  return _mm256_blendv_ps(copysign8(large, x), small, _mm256_cmp_ps(a, set1(0.625f), _CMP_LT_OQ));
}

// erf(x) for |x| < 0.5: Taylor series to x^13.
inline __m256 erf_small8(__m256 x) {
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = set1(1.0f / 9360.0f);
  p = _mm256_fmadd_ps(p, z, set1(-1.0f / 1320.0f));
  p = _mm256_fmadd_ps(p, z, set1(1.0f / 216.0f));
  p = _mm256_fmadd_ps(p, z, set1(-1.0f / 42.0f));
  p = _mm256_fmadd_ps(p, z, set1(1.0f / 10.0f));
  p = _mm256_fmadd_ps(p, z, set1(-1.0f / 3.0f));
  p = _mm256_fmadd_ps(p, z, set1(1.0f));
  return _mm256_mul_ps(_mm256_mul_ps(p, x), set1(1.12837916709551257f));  // 2/sqrt(pi)
}

// erfc(a) for a >= 0 (Numerical Recipes' erfcc, fractional error < 1.2e-7).
inline __m256 erfc_pos8(__m256 a) {
  const __m256 t = _mm256_div_ps(set1(1.0f), _mm256_fmadd_ps(set1(0.5f), a, set1(1.0f)));
  __m256 p = set1(0.17087277f);
  p = _mm256_fmadd_ps(p, t, set1(-0.82215223f));
  p = _mm256_fmadd_ps(p, t, set1(1.48851587f));
  p = _mm256_fmadd_ps(p, t, set1(-1.13520398f));
  p = _mm256_fmadd_ps(p, t, set1(0.27886807f));
  p = _mm256_fmadd_ps(p, t, set1(-0.18628806f));
  p = _mm256_fmadd_ps(p, t, set1(0.09678418f));
  p = _mm256_fmadd_ps(p, t, set1(0.37409196f));
  p = _mm256_fmadd_ps(p, t, set1(1.00002368f));
  p = _mm256_fmadd_ps(p, t, set1(-1.26551223f));
  return _mm256_mul_ps(t, exp8(_mm256_fnmadd_ps(a, a, p)));
}

// erfc(a) for 0.5 <= a < 4 by intervals [0.5 + i/2, 1 + i/2), i < 7: a degree-7 polynomial in
// s = a - center_i each (Chebyshev interpolants of erfc fitted in double, rounded to float);
// interval 7 (a >= 4, where 1 - erfc rounds to 1) is all zeros. Each lane picks its interval's
// coefficients with a permute, so there is no exp and no division. scripts/fit_erfc.py makes
// the tables (and prints their worst relative error of erf, 1.01e-7 in float).
constexpr float kErfcCenter[8] = {0.75f, 1.25f, 1.75f, 2.25f, 2.75f, 3.25f, 3.75f, 4.00f};
// kErfcPoly[j][i]: coefficient of s^j on interval i
alignas(32) constexpr float kErfcPoly[8][8] = {
    {0.288844377f, 0.0770998746f, 0.0133283287f, 0.00146271673f, 0.00010062191f, 4.30276987e-06f, 1.13725889e-07f, 0.0f},
    {-0.642931044f, -0.236521125f, -0.0527749956f, -0.00714231934f, -0.000586277281f, -2.91890119e-05f, -8.81428832e-07f, 0.0f},
    {0.482198149f, 0.295651734f, 0.092356205f, 0.0160701573f, 0.00161226746f, 9.48693341e-05f, 3.30607099e-06f, 0.0f},
    {-0.0267883502f, -0.167535886f, -0.0901573896f, -0.0217245128f, -0.00276038027f, -0.000195812623f, -7.97032772e-06f, 0.0f},
    {-0.150675625f, 0.00613203505f, 0.048105523f, 0.0190882571f, 0.00325771049f, 0.000286169437f, 1.37854086e-05f, 0.0f},
    {0.0532170907f, 0.0471865535f, -0.00661847321f, -0.0106600598f, -0.00275629107f, -0.000313628843f, -1.83300599e-05f, 0.0f},
    {0.0265828297f, -0.0205977373f, -0.00904949475f, 0.00277956529f, 0.00166785053f, 0.000273758458f, 2.06924233e-05f, 0.0f},
    {-0.017885495f, -0.00374511047f, 0.00593309943f, 0.000721526972f, -0.000635815377f, -0.000173596491f, -1.71447118e-05f, 0.0f},
};

inline __m256 erf8(__m256 x) {
  const __m256 a = abs8(x);
  const __m256 ac = _mm256_min_ps(a, set1(4.0f));  // NaN -> 4 (the NaN is restored below)
  const __m256i idx = _mm256_cvttps_epi32(_mm256_mul_ps(_mm256_sub_ps(ac, set1(0.5f)), set1(2.0f)));
  const __m256 s = _mm256_sub_ps(ac, _mm256_permutevar8x32_ps(_mm256_loadu_ps(kErfcCenter), idx));
  __m256 p = _mm256_permutevar8x32_ps(_mm256_load_ps(kErfcPoly[7]), idx);
  for (int j = 6; j >= 0; --j) p = _mm256_fmadd_ps(p, s, _mm256_permutevar8x32_ps(_mm256_load_ps(kErfcPoly[j]), idx));
  const __m256 large = copysign8(_mm256_sub_ps(set1(1.0f), p), x);
  const __m256 r = _mm256_blendv_ps(large, erf_small8(x), _mm256_cmp_ps(a, set1(0.5f), _CMP_LT_OQ));
  return _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

inline __m256 gelu_erf8(__m256 x) {
  const __m256 u = _mm256_mul_ps(x, set1(0.707106781186547524f));
  const __m256 a = abs8(u);
  const __m256 c = erfc_pos8(a);
  // 1 + erf(u): 2 - erfc(|u|) for u > 0, erfc(|u|) for u <= 0, 1 + erf(u) near 0.
  __m256 g = _mm256_blendv_ps(c, _mm256_sub_ps(set1(2.0f), c), _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_GT_OQ));
  g = _mm256_blendv_ps(g, _mm256_add_ps(set1(1.0f), erf_small8(u)), _mm256_cmp_ps(a, set1(0.5f), _CMP_LT_OQ));
  return _mm256_mul_ps(_mm256_mul_ps(set1(0.5f), x), g);
}

inline __m256 gelu_tanh8(__m256 x) {
  const __m256 k0 = set1(1.59576912160573071f);  // 2 sqrt(2/pi)
  const __m256 k1 = set1(1.59576912160573071f * 0.044715f);
  const __m256 v = _mm256_mul_ps(x, _mm256_fmadd_ps(k1, _mm256_mul_ps(x, x), k0));
  return _mm256_mul_ps(x, sigmoid8(v));
}

// Applies f to every 8-lane group; the tail goes through a zero-padded buffer so it uses f too.
template <class F>
inline void map8(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const size_t rest = static_cast<size_t>(n - i);
    std::memcpy(buf, x + i, rest * sizeof(float));
    _mm256_store_ps(buf, f(_mm256_load_ps(buf)));
    std::memcpy(y + i, buf, rest * sizeof(float));
  }
}

}  // namespace

void exp_f32(const float* x, float* y, int64_t n) { map8(x, y, n, exp8); }
void sigmoid_f32(const float* x, float* y, int64_t n) { map8(x, y, n, sigmoid8); }
void tanh_f32(const float* x, float* y, int64_t n) { map8(x, y, n, tanh8); }
void erf_f32(const float* x, float* y, int64_t n) { map8(x, y, n, erf8); }
void gelu_erf_f32(const float* x, float* y, int64_t n) { map8(x, y, n, gelu_erf8); }
void gelu_tanh_f32(const float* x, float* y, int64_t n) { map8(x, y, n, gelu_tanh8); }

float sum_f32(const float* x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + i));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  float s = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
  for (; i < n; ++i) s += x[i];
  return s;
}

float sum_sq_dev_f32(const float* x, int64_t n, float mean) {
  const __m256 vm = _mm256_set1_ps(mean);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
    acc = _mm256_fmadd_ps(d, d, acc);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  float s = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
  for (; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

float max_f32(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  if (n >= 8) {
    __m256 acc = _mm256_loadu_ps(x);
    for (i = 8; i + 8 <= n; i += 8) acc = _mm256_max_ps(acc, _mm256_loadu_ps(x + i));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, acc);
    for (float v : lanes) m = std::max(m, v);
  }
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

#else  // portable fallback: the same contracts with std:: functions

void exp_f32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}
void sigmoid_f32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
}
void tanh_f32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
void erf_f32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::erf(x[i]);
}
void gelu_erf_f32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * std::erfc(-x[i] * 0.707106781186547524f);
}
void gelu_tanh_f32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = 1.59576912160573071f * (x[i] + 0.044715f * x[i] * x[i] * x[i]);
    y[i] = x[i] / (1.0f + std::exp(-v));
  }
}
float sum_f32(const float* x, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}
float max_f32(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  return m;
}
float sum_sq_dev_f32(const float* x, int64_t n, float mean) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

#endif

}  // namespace bitsmith::kernels::elt::simd
