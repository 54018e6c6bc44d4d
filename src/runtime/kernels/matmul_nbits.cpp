// Weight-only low-bit MatMul engine (see matmul_nbits.h for layout and contract).
#include "runtime/kernels/matmul_nbits.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/kernels/dense_util.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace bitsmith::kernels {
namespace {

// wrow[k] = W(row, k) for k < K (+ zeros up to a multiple of 8).
void unpack_row(const NBitsWeights& w, int64_t row, float* wrow) {
  const int64_t kb = w.k_blocks();
  for (int64_t blk = 0; blk < kb; ++blk) {
    const int64_t k0 = blk * w.block_size, k1 = std::min(w.k, k0 + w.block_size);
    const float scale = w.scales[row * kb + blk];
    const int32_t zp = w.zero_point(row, blk);
    const uint8_t* src = w.b + (row * kb + blk) * w.blob();
    if (w.bits == 4) {
      for (int64_t kk = k0; kk < k1; ++kk) {
        const int64_t i = kk - k0;
        const int32_t code = (src[i / 2] >> ((i % 2) * 4)) & 0xF;
        wrow[kk] = static_cast<float>(code - zp) * scale;
      }
    } else {
      for (int64_t kk = k0; kk < k1; ++kk) wrow[kk] = w.weight(row, kk);
    }
  }
  for (int64_t kk = w.k; kk % 8 != 0; ++kk) wrow[kk] = 0.f;
}

inline float reduce8(const float* l) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); }

// y[i, row] for rows i in [0, m) of a, given the unpacked weight row.
void dot_rows(int64_t m, const float* a, int64_t k, const float* wrow, float bias, bool has_bias, float* y, int64_t ldy) {
  const int64_t k8 = k / 8 * 8;
  int64_t i = 0;
#if defined(__AVX2__) && defined(__FMA__)
  for (; i + 4 <= m; i += 4) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t kk = 0; kk < k8; kk += 8) {
      const __m256 wv = _mm256_loadu_ps(wrow + kk);
      for (int r = 0; r < 4; ++r) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(a + (i + r) * k + kk), wv, acc[r]);
    }
    for (int r = 0; r < 4; ++r) {
      alignas(32) float lane[8];
      _mm256_store_ps(lane, acc[r]);
      for (int64_t kk = k8; kk < k; ++kk) lane[kk % 8] = std::fma(a[(i + r) * k + kk], wrow[kk], lane[kk % 8]);
      const float s = reduce8(lane);
      y[(i + r) * ldy] = has_bias ? s + bias : s;
    }
  }
#endif
  for (; i < m; ++i) {
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t kk = 0; kk < k; ++kk) lane[kk % 8] = std::fma(a[i * k + kk], wrow[kk], lane[kk % 8]);
    const float s = reduce8(lane);
    y[i * ldy] = has_bias ? s + bias : s;
  }
}

}  // namespace

void matmul_nbits_f32(int64_t m, const float* a, const NBitsWeights& w, const float* bias, float* y, int num_threads) {
  if (m <= 0 || w.n <= 0) return;
  // Items: chunks of 8 weight rows (columns of y); each unpacks its rows once for all of A.
  const int64_t chunk = 8, items = (w.n + chunk - 1) / chunk;
  const double work = static_cast<double>(m) * static_cast<double>(w.n) * static_cast<double>(w.k);
  parallel_items(items, work >= 1e5 ? num_threads : 1, [&](int64_t item) {
    thread_local std::vector<float> wrow;
    wrow.resize(static_cast<size_t>((w.k + 7) / 8 * 8));
    for (int64_t j = item * chunk; j < std::min(w.n, (item + 1) * chunk); ++j) {
      unpack_row(w, j, wrow.data());
      dot_rows(m, a, w.k, wrow.data(), bias ? bias[j] : 0.f, bias != nullptr, y + j, w.n);
    }
  });
}

}  // namespace bitsmith::kernels
