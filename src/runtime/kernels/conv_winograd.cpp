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

// Eight lanes of floats (GCC vector extension: one AVX register with -mavx2, scalar code
// otherwise); loads and stores go through memcpy, so any alignment is fine.
typedef float Vec __attribute__((vector_size(32)));
typedef int VecIdx __attribute__((vector_size(32)));

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store(float* p, Vec v) { std::memcpy(p, &v, sizeof(v)); }

// d[c][i] = row[2 * i + c] for c < 4, i < 8 (reads row[0 .. 18)).
inline void load_windows(const float* row, Vec d[4]) {
  const VecIdx even = {0, 2, 4, 6, 8, 10, 12, 14}, odd = {1, 3, 5, 7, 9, 11, 13, 15};
  const Vec a = load(row), b = load(row + 8), a2 = load(row + 2), b2 = load(row + 10);
  d[0] = __builtin_shuffle(a, b, even);
  d[1] = __builtin_shuffle(a, b, odd);
  d[2] = __builtin_shuffle(a2, b2, even);
  d[3] = __builtin_shuffle(a2, b2, odd);
}

// Stores lanes [0, n) of v at p (n <= kLanes).
inline void store_first(float* p, Vec v, int64_t n) {
#if defined(__AVX2__)
  static const int32_t kMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  _mm256_maskstore_ps(p, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMask + kLanes - n)), v);
#else
  float lanes[kLanes];
  store(lanes, v);
  std::memcpy(p, lanes, static_cast<size_t>(n) * sizeof(float));
#endif
}

// Writes lanes [0, n) of v at columns [t0, t0 + n) of row `row` of a packed B (k x nc); the
// columns may straddle two panels.
inline void store_packed(Vec v, int64_t n, float* packed, int64_t k, int64_t nc, int64_t row, int64_t t0) {
  const int64_t n1 = std::min(n, kGemmNr - t0 % kGemmNr);
  store_first(packed + packed_b_index(k, nc, row, t0), v, n1);
  if (n1 == n) return;
  const VecIdx shift = {0, 1, 2, 3, 4, 5, 6, 7};
  const Vec rest = __builtin_shuffle(v, v, (shift + static_cast<int>(n1)) & 7);
  store_first(packed + packed_b_index(k, nc, row, t0 + n1), rest, n - n1);
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
  const int64_t pw = 2 * tw + 2;  // padded row width covering every tile's 4x4 window
  const int64_t ih = g.in_spatial[0], iw = g.in_spatial[1], pt = g.pads_begin[0], pleft = g.pads_begin[1];
  const int64_t out_size = oh * ow;
  // Work items: (image, band of tile rows, block of output channels). Bands are sized so the
  // transformed input stays in L2; with fewer items than 2 per thread, bands are cut finer
  // while they keep 32 tiles (two GEMM panels); when the items still do not divide among the
  // threads, the output channels are split too (each block then transforms the band itself).
  // Any cut gives the same bytes.
  const int64_t threads = std::max(num_threads, 1), want = 2 * threads;
  const int64_t min_rows = std::clamp<int64_t>((32 + tw - 1) / tw, 1, th);  // 32 tiles: two GEMM panels
  int64_t rows = std::clamp<int64_t>(kChunkFloats / (16 * std::max(m, c) * tw), 1, th);
  if (threads > 1 && g.batch * ((th + rows - 1) / rows) < want) {
    const int64_t bands_wanted = (want + g.batch - 1) / g.batch;
    rows = std::max(min_rows, std::min(rows, (th + bands_wanted - 1) / bands_wanted));
  }
  int64_t bands = (th + rows - 1) / rows;
  // Few items: make their count a multiple of the thread count where bands allow, and bands equal.
  if (threads > 1 && g.batch * bands < 8 * threads)
    while ((g.batch * bands) % threads != 0 && bands < th && (th + bands) / (bands + 1) >= min_rows) ++bands;
  rows = (th + bands - 1) / bands;
  bands = (th + rows - 1) / rows;
  int64_t m_step = m;
  if (threads > 1 && (g.batch * bands < threads || (g.batch * bands) % threads != 0)) {
    int64_t chunks = std::max<int64_t>(1, (threads + g.batch * bands - 1) / (g.batch * bands));
    while ((g.batch * bands * chunks) % threads != 0) ++chunks;
    chunks = std::min(chunks, std::max<int64_t>(1, m / (2 * kGemmMr)));
    m_step = ((m + chunks - 1) / chunks + kGemmMr - 1) / kGemmMr * kGemmMr;
  }
  const int64_t m_chunks = (m + m_step - 1) / m_step;
  parallel_items(g.batch * bands * m_chunks, num_threads, [&](int64_t item) {
    const int64_t mi = item % m_chunks, band = (item / m_chunks) % bands, n = item / (m_chunks * bands);
    const int64_t ty0 = band * rows, ty1 = std::min(th, ty0 + rows);
    const int64_t m0 = mi * m_step, mc = std::min(m_step, m - m0);
    const int64_t tc = (ty1 - ty0) * tw;  // tiles in this item
    const int64_t vsize = packed_b_size(c, tc);
    thread_local std::vector<float> vbuf, mbuf;
    if (vbuf.size() < static_cast<size_t>(16 * vsize)) vbuf.resize(static_cast<size_t>(16 * vsize));
    if (mbuf.size() < static_cast<size_t>(16 * mc * tc + kLanes)) mbuf.resize(static_cast<size_t>(16 * mc * tc + kLanes));
    float* vb = vbuf.data();
    float* mb = mbuf.data();
    // The band's zero-padded input rows [2 ty0, 2 ty1 + 2) of every channel, copied here so that
    // they are in cache for the transform (plus slack: the last window loads read 14 floats on).
    const int64_t row0 = 2 * ty0, band_rows = 2 * (ty1 - ty0) + 2, band_plane = band_rows * pw;
    thread_local std::vector<float> pbuf;
    if (pbuf.size() < static_cast<size_t>(c * band_plane + 2 * kGemmNr))
      pbuf.resize(static_cast<size_t>(c * band_plane + 2 * kGemmNr));
    for (int64_t ci = 0; ci < c; ++ci)
      pad_plane_rows(x + (n * c + ci) * ih * iw, ih, iw, pt, pleft, row0, band_rows, pw, pbuf.data() + ci * band_plane);
    std::fill(pbuf.data() + c * band_plane, pbuf.data() + c * band_plane + 2 * kGemmNr, 0.f);
    // Input transform V = B^T d B, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]].
    // (Sizes are copied to locals: stores through float pointers would otherwise make the
    // compiler reload them from the closure after every store.)
    const int64_t cc = c, tcc = tc, vs = vsize, tww = tw, pww = pw, tyb = ty0, tye = ty1;
    const float* const pb0 = pbuf.data();
    for (int64_t ci = 0; ci < cc; ++ci) {
      const float* pl = pb0 + ci * band_plane;
      for (int64_t ty = tyb; ty < tye; ++ty)
        for (int64_t tx0 = 0; tx0 < tww; tx0 += kLanes) {
          const int64_t lanes = std::min<int64_t>(kLanes, tww - tx0);
          Vec e[4][4];  // e[r][j] = (d B)[r][j]
          for (int r = 0; r < 4; ++r) {
            Vec d[4];
            load_windows(pl + (2 * (ty - tyb) + r) * pww + 2 * tx0, d);
            e[r][0] = d[0] - d[2];
            e[r][1] = d[1] + d[2];
            e[r][2] = d[2] - d[1];
            e[r][3] = d[1] - d[3];
          }
          Vec v[16];
          for (int j = 0; j < 4; ++j) {
            v[0 * 4 + j] = e[0][j] - e[2][j];
            v[1 * 4 + j] = e[1][j] + e[2][j];
            v[2 * 4 + j] = e[2][j] - e[1][j];
            v[3 * 4 + j] = e[1][j] - e[3][j];
          }
          const int64_t t0 = (ty - tyb) * tww + tx0;
          if (lanes == kLanes && t0 % kGemmNr + kLanes <= kGemmNr) {
            float* dst = vb + packed_b_index(cc, tcc, ci, t0);
            for (int xi = 0; xi < 16; ++xi) store(dst + xi * vs, v[xi]);
          } else {
            for (int xi = 0; xi < 16; ++xi) store_packed(v[xi], lanes, vb + xi * vs, cc, tcc, ci, t0);
          }
        }
    }
    // The 16 products M_xi [m x tc] = U_xi [m x c] V_xi [c x tc].
    for (int xi = 0; xi < 16; ++xi) {
      const PackedB pb = PackedB::borrow(vb + xi * vsize, c, tc);
      sgemm_st(mc, tc, c, 1.f, GemmA{{}, &u.u[static_cast<size_t>(xi)], m0}, GemmB{{}, &pb, 0}, 0.f, mb + xi * mc * tc, tc);
    }
    // Output transform Y = A^T M A, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]], plus bias.
    for (int64_t o = m0; o < m0 + mc; ++o) {
      const float bias = b ? b[o] : 0.f;
      float* yo = y + (n * m + o) * out_size;
      for (int64_t ty = ty0; ty < ty1; ++ty)
        for (int64_t tx0 = 0; tx0 < tw; tx0 += kLanes) {
          const int64_t lanes = std::min<int64_t>(kLanes, tw - tx0), t0 = (ty - ty0) * tw + tx0;
          Vec mv[16];
          for (int xi = 0; xi < 16; ++xi) mv[xi] = load(mb + (xi * mc + o - m0) * tc + t0);
          Vec r0[4], r1[4];
          for (int j = 0; j < 4; ++j) {
            r0[j] = (mv[j] + mv[4 + j]) + mv[8 + j];
            r1[j] = (mv[4 + j] - mv[8 + j]) - mv[12 + j];
          }
          const Vec q[2][2] = {{((r0[0] + r0[1]) + r0[2]) + bias, ((r0[1] - r0[2]) - r0[3]) + bias},
                               {((r1[0] + r1[1]) + r1[2]) + bias, ((r1[1] - r1[2]) - r1[3]) + bias}};
          const int64_t x0 = 2 * tx0, cols = std::min(2 * lanes, ow - x0);
          const VecIdx lo = {0, 8, 1, 9, 2, 10, 3, 11}, hi = {4, 12, 5, 13, 6, 14, 7, 15};
          for (int a = 0; a < 2; ++a) {
            const int64_t oy = 2 * ty + a;
            if (oy >= oh) break;
            float* dst = yo + oy * ow + x0;
            const Vec first = __builtin_shuffle(q[a][0], q[a][1], lo), second = __builtin_shuffle(q[a][0], q[a][1], hi);
            if (cols == 2 * kLanes) {
              store(dst, first);
              store(dst + kLanes, second);
            } else {
              store_first(dst, first, std::min<int64_t>(cols, kLanes));
              if (cols > kLanes) store_first(dst + kLanes, second, cols - kLanes);
            }
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
