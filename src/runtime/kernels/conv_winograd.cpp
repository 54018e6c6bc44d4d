// Winograd F(2x2, 3x3) convolution (see conv_winograd.h).
#include "runtime/kernels/conv_winograd.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "runtime/kernels/dense_util.h"

namespace bitsmith::kernels {
namespace {

constexpr int64_t kMinChannels = 8;            // below this the transforms dominate
constexpr int64_t kChunkFloats = 64 * 1024;    // transformed input (and GEMM output) per work item
constexpr int kLanes = 8;                      // tiles transformed at once (one per SIMD lane)

// Eight lanes of floats; plain arrays so that the portable build compiles the same code.
struct Vec {
  float v[kLanes];
};
inline Vec add(const Vec& a, const Vec& b) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = a.v[i] + b.v[i];
  return r;
}
inline Vec sub(const Vec& a, const Vec& b) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = a.v[i] - b.v[i];
  return r;
}

// d[c].v[i] = row[2 * i + c] for c < 4, i < 8 (reads row[0 .. 18)).
inline void load_windows(const float* row, Vec d[4]) {
#if defined(__AVX2__)
  const auto split = [](const float* p, Vec& even, Vec& odd) {
    const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    const __m256 e = _mm256_shuffle_ps(a, b, 0x88), o = _mm256_shuffle_ps(a, b, 0xDD);
    _mm256_storeu_ps(even.v, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
    _mm256_storeu_ps(odd.v, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
  };
  split(row, d[0], d[1]);
  split(row + 2, d[2], d[3]);
#else
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < kLanes; ++i) d[c].v[i] = row[2 * i + c];
#endif
}

// Writes lanes [0, n) of v at columns [t0, t0 + n) of row `row` of a packed B (k x nc).
inline void store_packed(const Vec& v, int64_t n, float* packed, int64_t k, int64_t nc, int64_t row, int64_t t0) {
  int64_t i = 0;
  while (i < n) {
    const int64_t col = t0 + i, run = std::min(n - i, kGemmNr - col % kGemmNr);
    std::memcpy(packed + packed_b_index(k, nc, row, col), v.v + i, static_cast<size_t>(run) * sizeof(float));
    i += run;
  }
}

}  // namespace

bool winograd_weights_eligible(const Shape& w_shape, int64_t group) {
  return group == 1 && w_shape.size() == 4 && w_shape[2] == 3 && w_shape[3] == 3 && w_shape[0] >= kMinChannels &&
         w_shape[1] >= kMinChannels;
}

std::shared_ptr<const WinogradWeights> winograd_transform_weights(const float* w, int64_t m, int64_t c) {
  auto out = std::make_shared<WinogradWeights>();
  out->m = m;
  out->c = c;
  // U = G g G^T with G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]], in double.
  std::vector<std::vector<float>> u(16, std::vector<float>(static_cast<size_t>(m * c)));
  for (int64_t o = 0; o < m; ++o)
    for (int64_t ci = 0; ci < c; ++ci) {
      const float* g = w + (o * c + ci) * 9;
      double t[4][3];
      for (int col = 0; col < 3; ++col) {
        const double g0 = g[col], g1 = g[3 + col], g2 = g[6 + col];
        t[0][col] = g0;
        t[1][col] = 0.5 * (g0 + g1 + g2);
        t[2][col] = 0.5 * (g0 - g1 + g2);
        t[3][col] = g2;
      }
      for (int i = 0; i < 4; ++i) {
        const double r[4] = {t[i][0], 0.5 * (t[i][0] + t[i][1] + t[i][2]), 0.5 * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; ++j) u[static_cast<size_t>(4 * i + j)][static_cast<size_t>(o * c + ci)] = static_cast<float>(r[j]);
      }
    }
  out->u.reserve(16);
  for (int xi = 0; xi < 16; ++xi) out->u.emplace_back(MatView{u[static_cast<size_t>(xi)].data(), c, false}, m, c);
  return out;
}

bool winograd_applicable(const WindowGeometry& g) {
  if (g.rank() != 2 || g.group != 1) return false;
  for (int d = 0; d < 2; ++d)
    if (g.kernel[d] != 3 || g.strides[d] != 1 || g.dilations[d] != 1) return false;
  return g.in_channels >= kMinChannels && g.out_channels >= kMinChannels;
}

void conv_winograd(const WindowGeometry& g, const float* x, const WinogradWeights& u, const float* b, float* y,
                   int num_threads, const ConvEpilogue& ep) {
  const int64_t oh = g.out_spatial[0], ow = g.out_spatial[1], m = g.out_channels, c = g.in_channels;
  const int64_t th = (oh + 1) / 2, tw = (ow + 1) / 2;  // 2x2 output tiles
  const int64_t ph = 2 * th + 2, pw = 2 * tw + 2;       // padded input covering every tile's 4x4 window
  const int64_t ih = g.in_spatial[0], iw = g.in_spatial[1], pt = g.pads_begin[0], pleft = g.pads_begin[1];
  const int64_t out_size = oh * ow;
  (void)ph;
  // Work items: (image, band of tile rows); bands sized so the transformed input stays in L2,
  // cut finer when there are fewer items than threads. Any banding gives the same bytes.
  int64_t rows = std::clamp<int64_t>(kChunkFloats / (16 * std::max(m, c) * tw), 1, th);
  const int64_t want_items = 2 * static_cast<int64_t>(std::max(num_threads, 1));
  if (num_threads > 1 && g.batch * ((th + rows - 1) / rows) < want_items) {
    const int64_t bands = std::min(th, (want_items + g.batch - 1) / g.batch);
    rows = std::min(rows, (th + bands - 1) / bands);
  }
  const int64_t bands = (th + rows - 1) / rows;
  parallel_items(g.batch * bands, num_threads, [&](int64_t item) {
    const int64_t n = item / bands, ty0 = (item % bands) * rows, ty1 = std::min(th, ty0 + rows);
    const int64_t tc = (ty1 - ty0) * tw;  // tiles in this item
    const int64_t vsize = packed_b_size(c, tc);
    thread_local std::vector<float> vbuf, mbuf;
    if (vbuf.size() < static_cast<size_t>(16 * vsize)) vbuf.resize(static_cast<size_t>(16 * vsize));
    if (mbuf.size() < static_cast<size_t>(16 * m * tc + kLanes)) mbuf.resize(static_cast<size_t>(16 * m * tc + kLanes));
    float* vb = vbuf.data();
    float* mb = mbuf.data();
    // The band's zero-padded input rows [2 ty0, 2 ty1 + 2) of every channel, copied here so that
    // they are in cache for the transform (plus slack: the last window loads read 14 floats on).
    const int64_t row0 = 2 * ty0, band_rows = 2 * (ty1 - ty0) + 2, band_plane = band_rows * pw;
    thread_local std::vector<float> pbuf;
    if (pbuf.size() < static_cast<size_t>(c * band_plane + 2 * kGemmNr))
      pbuf.resize(static_cast<size_t>(c * band_plane + 2 * kGemmNr));
    const int64_t c0 = std::min(pleft, pw), c1 = std::clamp<int64_t>(iw + pleft, c0, pw);
    for (int64_t ci = 0; ci < c; ++ci) {
      const float* src = x + (n * c + ci) * ih * iw;
      for (int64_t r = 0; r < band_rows; ++r) {
        float* row = pbuf.data() + ci * band_plane + r * pw;
        const int64_t yy = row0 + r - pt;
        if (yy < 0 || yy >= ih) {
          std::fill(row, row + pw, 0.f);
          continue;
        }
        std::fill(row, row + c0, 0.f);
        std::memcpy(row + c0, src + yy * iw + (c0 - pleft), static_cast<size_t>(c1 - c0) * sizeof(float));
        std::fill(row + c1, row + pw, 0.f);
      }
    }
    std::fill(pbuf.data() + c * band_plane, pbuf.data() + c * band_plane + 2 * kGemmNr, 0.f);
    // Input transform V = B^T d B, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]].
    for (int64_t ci = 0; ci < c; ++ci) {
      const float* pl = pbuf.data() + ci * band_plane;
      for (int64_t ty = ty0; ty < ty1; ++ty)
        for (int64_t tx0 = 0; tx0 < tw; tx0 += kLanes) {
          const int64_t lanes = std::min<int64_t>(kLanes, tw - tx0);
          Vec e[4][4];  // e[r][j] = (d B)[r][j]
          for (int r = 0; r < 4; ++r) {
            Vec d[4];
            load_windows(pl + (2 * (ty - ty0) + r) * pw + 2 * tx0, d);
            e[r][0] = sub(d[0], d[2]);
            e[r][1] = add(d[1], d[2]);
            e[r][2] = sub(d[2], d[1]);
            e[r][3] = sub(d[1], d[3]);
          }
          const int64_t t0 = (ty - ty0) * tw + tx0;
          for (int j = 0; j < 4; ++j) {
            store_packed(sub(e[0][j], e[2][j]), lanes, vb + 0 * 4 * vsize + j * vsize, c, tc, ci, t0);
            store_packed(add(e[1][j], e[2][j]), lanes, vb + 1 * 4 * vsize + j * vsize, c, tc, ci, t0);
            store_packed(sub(e[2][j], e[1][j]), lanes, vb + 2 * 4 * vsize + j * vsize, c, tc, ci, t0);
            store_packed(sub(e[1][j], e[3][j]), lanes, vb + 3 * 4 * vsize + j * vsize, c, tc, ci, t0);
          }
        }
    }
    // The 16 products M_xi [m x tc] = U_xi [m x c] V_xi [c x tc].
    for (int xi = 0; xi < 16; ++xi) {
      const PackedB pb = PackedB::borrow(vb + xi * vsize, c, tc);
      sgemm_st(m, tc, c, 1.f, GemmA{{}, &u.u[static_cast<size_t>(xi)], 0}, GemmB{{}, &pb, 0}, 0.f, mb + xi * m * tc, tc);
    }
    // Output transform Y = A^T M A, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]], plus bias.
    for (int64_t o = 0; o < m; ++o) {
      const float bias = b ? b[o] : 0.f;
      float* yo = y + (n * m + o) * out_size;
      for (int64_t ty = ty0; ty < ty1; ++ty)
        for (int64_t tx0 = 0; tx0 < tw; tx0 += kLanes) {
          const int64_t lanes = std::min<int64_t>(kLanes, tw - tx0), t0 = (ty - ty0) * tw + tx0;
          Vec mv[16];
          for (int xi = 0; xi < 16; ++xi) std::memcpy(mv[xi].v, mb + (xi * m + o) * tc + t0, sizeof(Vec));
          Vec r0[4], r1[4];
          for (int j = 0; j < 4; ++j) {
            r0[j] = add(add(mv[j], mv[4 + j]), mv[8 + j]);
            r1[j] = sub(sub(mv[4 + j], mv[8 + j]), mv[12 + j]);
          }
          const Vec q[2][2] = {{add(add(r0[0], r0[1]), r0[2]), sub(sub(r0[1], r0[2]), r0[3])},
                               {add(add(r1[0], r1[1]), r1[2]), sub(sub(r1[1], r1[2]), r1[3])}};
          const int64_t x0 = 2 * tx0, cols = std::min(2 * lanes, ow - x0);
          for (int a = 0; a < 2; ++a) {
            const int64_t oy = 2 * ty + a;
            if (oy >= oh) break;
            float row[2 * kLanes];
            for (int i = 0; i < kLanes; ++i) {
              row[2 * i] = q[a][0].v[i] + bias;
              row[2 * i + 1] = q[a][1].v[i] + bias;
            }
            std::memcpy(yo + oy * ow + x0, row, static_cast<size_t>(cols) * sizeof(float));
          }
        }
      if (ep.active()) {
        const int64_t at = (n * m + o) * out_size + 2 * ty0 * ow, len = (std::min(oh, 2 * ty1) - 2 * ty0) * ow;
        ep.apply(y + at, ep.z ? ep.z + at : nullptr, len);
      }
    }
  });
}

}  // namespace bitsmith::kernels
