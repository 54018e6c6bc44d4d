// Conv (ONNX opsets 1..): f32 through conv_f32 (f16/bf16 widened to f32), f64 through the
// reference kernel. Constant weights are packed once when the kernel is created.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/conv_f32.h"
#include "runtime/kernels/conv_winograd.h"
#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/ref/conv_ref.h"

namespace bitsmith::kernels {
namespace {

constexpr int64_t kIm2colBudget = 128 * 1024;  // floats of im2col scratch per work item (L2-sized)
constexpr size_t kPadCacheFloats = size_t{2} << 20;  // padded inputs up to 8 MB reuse a per-thread buffer

}  // namespace

ConvTiling make_conv_tiling(int64_t batch, int64_t group, int64_t mg, int64_t columns, int64_t nc_max,
                            int num_threads) {
  const int64_t threads = std::max(num_threads, 1);
  ConvTiling t;
  t.batch = batch;
  t.group = group;
  t.mg = mg;
  t.out_size = columns;
  const int64_t per_image = batch * group;
  int64_t chunks = (columns + std::max<int64_t>(nc_max, 1) - 1) / std::max<int64_t>(nc_max, 1);
  // With few items, balance them: make the item count a multiple of the thread count while
  // chunks stay at least one GEMM panel wide.
  if (threads > 1 && per_image * chunks < 8 * threads)
    while ((per_image * chunks) % threads != 0 && (columns + chunks) / (chunks + 1) >= kGemmNr) ++chunks;
  t.nc = std::max<int64_t>(1, (columns + chunks - 1) / chunks);
  if (t.nc < columns) t.nc = (t.nc + kGemmNr - 1) / kGemmNr * kGemmNr;
  t.n_chunks = (columns + t.nc - 1) / t.nc;
  // Still fewer items than threads: also split the output channels (in whole panels).
  t.m_step = std::max<int64_t>(mg, 1);
  if (threads > 1 && per_image * t.n_chunks < threads) {
    const int64_t want = (threads + per_image * t.n_chunks - 1) / (per_image * t.n_chunks);
    t.m_step = ((mg + want - 1) / want + kGemmMr - 1) / kGemmMr * kGemmMr;
  }
  t.m_chunks = (mg + t.m_step - 1) / t.m_step;
  return t;
}

ConvTiling conv_tiling(const WindowGeometry& g, bool pointwise, int num_threads) {
  const int64_t k = g.in_channels / g.group * g.kernel_size();
  // Column chunk: im2col scratch within budget, multiple of the GEMM panel width.
  const int64_t nc = pointwise ? g.out_size() : std::max<int64_t>(kGemmNr, kIm2colBudget / std::max<int64_t>(k, 1) / kGemmNr * kGemmNr);
  return make_conv_tiling(g.batch, g.group, g.out_channels / g.group, g.out_size(), nc, num_threads);
}

ConvTile ConvTiling::tile(int64_t item) const {
  ConvTile r;
  const int64_t ni = item % n_chunks, mi = (item / n_chunks) % m_chunks;
  r.group = (item / (n_chunks * m_chunks)) % group;
  r.image = item / (n_chunks * m_chunks * group);
  r.n0 = ni * nc;
  r.ncount = std::min(nc, out_size - r.n0);
  r.m0 = mi * m_step;
  r.mcount = std::min(m_step, mg - r.m0);
  return r;
}

bool is_pointwise(const WindowGeometry& g) {
  for (int d = 0; d < g.rank(); ++d)
    if (g.kernel[d] != 1 || g.strides[d] != 1 || g.pads_begin[d] != 0 || g.pads_end[d] != 0) return false;
  return true;
}

void im2col_chunk(const WindowGeometry& g, const float* x_group, int64_t channels, int64_t n0, int64_t nc,
                  float* cols) {
  const int r = g.rank(), last = r - 1;
  const int64_t ow = g.out_spatial[last], iw = g.in_spatial[last], kw = g.kernel[last];
  const int64_t sw = g.strides[last], dw = g.dilations[last], pw = g.pads_begin[last];
  const int64_t in_size = g.in_size(), taps_outer = g.kernel_size() / kw;
  const int64_t row_stride = iw;  // elements between consecutive positions of dim last-1
  // Output "rows" (all dims but the last) touched by the chunk: first row and count.
  const int64_t row0 = n0 / ow, rows = (n0 + nc - 1) / ow - row0 + 1;
  // Window start of each touched row along the outer dims.
  std::vector<int64_t> row_start(static_cast<size_t>(rows * std::max(last, 1)));
  for (int64_t rr = 0; rr < rows; ++rr) {
    int64_t rem = row0 + rr;
    for (int d = last - 1; d >= 0; --d) {
      row_start[rr * last + d] = (rem % g.out_spatial[d]) * g.strides[d] - g.pads_begin[d];
      rem /= g.out_spatial[d];
    }
  }
  int64_t ko[kMaxSpatialRank] = {};
  for (int64_t c = 0; c < channels; ++c) {
    const float* xc = x_group + c * in_size;
    for (int64_t to = 0; to < taps_outer; ++to) {
      int64_t rem = to;
      for (int d = last - 1; d >= 0; --d) {
        ko[d] = rem % g.kernel[d];
        rem /= g.kernel[d];
      }
      for (int64_t kx = 0; kx < kw; ++kx) {
        float* dst = cols + ((c * taps_outer + to) * kw + kx) * nc;
        // Output columns whose input column is inside [0, iw).
        const int64_t off = kx * dw - pw;
        const int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
        const int64_t hi = iw - 1 - off < 0 ? 0 : std::min(ow, (iw - 1 - off) / sw + 1);
        int64_t j = 0, pos = n0;
        for (int64_t rr = 0; rr < rows; ++rr) {
          const int64_t ox0 = pos % ow, cnt = std::min(ow - ox0, nc - j);
          int64_t in_row = 0, stride = row_stride;
          bool inside = true;
          for (int d = last - 1; d >= 0; --d) {
            const int64_t p = row_start[rr * last + d] + ko[d] * g.dilations[d];
            if (p < 0 || p >= g.in_spatial[d]) inside = false;
            in_row += p * stride;
            stride *= g.in_spatial[d];
          }
          float* out = dst + j;
          if (!inside || lo >= hi) {
            std::fill(out, out + cnt, 0.f);
          } else {
            const float* src = xc + in_row + off;
            const int64_t a = std::clamp(lo, ox0, ox0 + cnt), b = std::clamp(hi, ox0, ox0 + cnt);
            std::fill(out, out + (a - ox0), 0.f);
            if (sw == 1) std::memcpy(out + (a - ox0), src + a, static_cast<size_t>(b - a) * sizeof(float));
            else
              for (int64_t ox = a; ox < b; ++ox) out[ox - ox0] = src[ox * sw];
            std::fill(out + (b - ox0), out + cnt, 0.f);
          }
          j += cnt;
          pos += cnt;
        }
      }
    }
  }
}

namespace {

// out[j] = src[j * stride] for j < n (n <= kGemmNr); whole 8-float groups use AVX2 for strides
// 1 and 2 (the common cases).
inline void copy_strided(float* out, const float* src, int64_t n, int64_t stride) {
  int64_t j = 0;
#if defined(__AVX2__)
  if (stride == 1) {
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(out + j, _mm256_loadu_ps(src + j));
  } else if (stride == 2) {
    // hi's lane 7 (src[2j + 15]) is never used and may lie past the input: masked off.
    const __m256i first7 = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, -1, 0);
    for (; j + 8 <= n; j += 8) {
      const __m256 lo = _mm256_loadu_ps(src + 2 * j), hi = _mm256_maskload_ps(src + 2 * j + 8, first7);
      const __m256 even = _mm256_shuffle_ps(lo, hi, 0x88);  // lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6
      _mm256_storeu_ps(out + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xD8)));
    }
  }
#endif
  for (; j < n; ++j) out[j] = src[j * stride];
}

}  // namespace

void im2col_packed(const WindowGeometry& g, const float* x_group, int64_t channels, int64_t n0, int64_t nc,
                   float* dst) {
  const int r = g.rank(), last = r - 1;
  const int64_t ow = g.out_spatial[last], iw = g.in_spatial[last], kw = g.kernel[last];
  const int64_t sw = g.strides[last], dw = g.dilations[last], pw = g.pads_begin[last];
  const int64_t in_size = g.in_size(), taps_outer = g.kernel_size() / kw, k_total = channels * taps_outer * kw;
  const int64_t n_pad = (nc + kGemmNr - 1) / kGemmNr * kGemmNr, tail = n_pad - nc;
  // Runs of consecutive output columns inside one output row, never crossing a panel.
  struct Seg {
    int64_t panel, j0, len, ox0;
    int64_t start[kMaxSpatialRank];  // window start along the outer dims
    int64_t in_row = 0;              // input offset of the row for the current outer taps
    bool inside = false;
  };
  thread_local std::vector<Seg> segs;
  segs.clear();
  for (int64_t j = 0; j < nc;) {
    const int64_t pos = n0 + j, ox0 = pos % ow;
    const int64_t len = std::min({ow - ox0, kGemmNr - j % kGemmNr, nc - j});
    Seg s{j / kGemmNr, j % kGemmNr, len, ox0, {}, 0, false};
    int64_t rem = pos / ow;
    for (int d = last - 1; d >= 0; --d) {
      s.start[d] = (rem % g.out_spatial[d]) * g.strides[d] - g.pads_begin[d];
      rem /= g.out_spatial[d];
    }
    segs.push_back(s);
    j += len;
  }
  int64_t ko[kMaxSpatialRank] = {};
  int64_t k = 0;
  for (int64_t c = 0; c < channels; ++c) {
    const float* xc = x_group + c * in_size;
    for (int64_t to = 0; to < taps_outer; ++to) {
      int64_t rem = to;
      for (int d = last - 1; d >= 0; --d) {
        ko[d] = rem % g.kernel[d];
        rem /= g.kernel[d];
      }
      for (Seg& s : segs) {
        s.in_row = 0;
        s.inside = true;
        int64_t stride = iw;
        for (int d = last - 1; d >= 0; --d) {
          const int64_t p = s.start[d] + ko[d] * g.dilations[d];
          if (p < 0 || p >= g.in_spatial[d]) s.inside = false;
          s.in_row += p * stride;
          stride *= g.in_spatial[d];
        }
      }
      for (int64_t kx = 0; kx < kw; ++kx, ++k) {
        const int64_t k0 = k / kGemmKc * kGemmKc, kc = std::min(kGemmKc, k_total - k0);
        float* base = dst + k0 * n_pad + (k - k0) * kGemmNr;
        const int64_t off = kx * dw - pw;
        const int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
        const int64_t hi = iw - 1 - off < 0 ? 0 : std::min(ow, (iw - 1 - off) / sw + 1);
        for (const Seg& s : segs) {
          float* out = base + s.panel * kGemmNr * kc + s.j0;
          const int64_t a = std::clamp(lo, s.ox0, s.ox0 + s.len), b = std::clamp(hi, s.ox0, s.ox0 + s.len);
          if (!s.inside || a >= b) {
            for (int64_t j = 0; j < s.len; ++j) out[j] = 0.f;
            continue;
          }
          const float* src = xc + s.in_row + off;
          for (int64_t ox = s.ox0; ox < a; ++ox) out[ox - s.ox0] = 0.f;
          copy_strided(out + (a - s.ox0), src + a * sw, b - a, sw);
          for (int64_t ox = b; ox < s.ox0 + s.len; ++ox) out[ox - s.ox0] = 0.f;
        }
        if (tail > 0) {
          float* out = base + (n_pad / kGemmNr - 1) * kGemmNr * kc + kGemmNr - tail;
          for (int64_t j = 0; j < tail; ++j) out[j] = 0.f;
        }
      }
    }
  }
}

namespace {

// One output plane of a 2-D conv with one input channel: y = bias + sum w[ky,kx] * x[...].
// pad is scratch for the zero-padded input plane.
void depthwise_plane(const WindowGeometry& g, const float* x, const float* w, float bias, float* y,
                     std::vector<float>& pad) {
  const int64_t ih = g.in_spatial[0], iw = g.in_spatial[1], oh = g.out_spatial[0], ow = g.out_spatial[1];
  const int64_t kh = g.kernel[0], kw = g.kernel[1], sh = g.strides[0], sw = g.strides[1];
  const int64_t dh = g.dilations[0], dw = g.dilations[1], pt = g.pads_begin[0], pl = g.pads_begin[1];
  const int64_t ph = (oh - 1) * sh + (kh - 1) * dh + 1, pw = (ow - 1) * sw + (kw - 1) * dw + 1;
  pad.assign(static_cast<size_t>(ph * pw), 0.f);
  for (int64_t r = 0; r < ph; ++r) {
    const int64_t yy = r - pt;
    if (yy < 0 || yy >= ih) continue;
    const int64_t c0 = std::max<int64_t>(0, pl), c1 = std::min(pw, iw + pl);
    if (c1 > c0) std::memcpy(&pad[r * pw + c0], x + yy * iw + (c0 - pl), static_cast<size_t>(c1 - c0) * sizeof(float));
  }
  // With a column stride, split each padded row into sw phases (columns p, p+sw, ...), so that
  // tap column ox * sw + kx * dw is entry ox + (kx*dw)/sw of phase (kx*dw)%sw: contiguous reads.
  const float* rows = pad.data();
  int64_t row_len = pw, phase_len = pw;
  if (sw > 1) {
    thread_local std::vector<float> phases;
    phase_len = (pw + sw - 1) / sw;
    row_len = phase_len * sw;
    phases.assign(static_cast<size_t>(ph * row_len), 0.f);
    for (int64_t r = 0; r < ph; ++r)
      for (int64_t col = 0; col < pw; ++col) phases[r * row_len + (col % sw) * phase_len + col / sw] = pad[r * pw + col];
    rows = phases.data();
  }
  for (int64_t oy = 0; oy < oh; ++oy) {
    float* yr = y + oy * ow;
    std::fill(yr, yr + ow, 0.f);
    for (int64_t ky = 0; ky < kh; ++ky) {
      const float* src_row = rows + (oy * sh + ky * dh) * row_len;
      for (int64_t kx = 0; kx < kw; ++kx) {
        const float wv = w[ky * kw + kx];
        const int64_t col = kx * dw;
        const float* s = src_row + (col % sw) * phase_len + col / sw;
        for (int64_t ox = 0; ox < ow; ++ox) yr[ox] += wv * s[ox];
      }
    }
    for (int64_t ox = 0; ox < ow; ++ox) yr[ox] += bias;
  }
}

void conv_depthwise(const WindowGeometry& g, const float* x, const float* w, const float* b, float* y,
                    int num_threads, const ConvEpilogue& ep) {
  const int64_t mg = g.out_channels / g.group, in_size = g.in_size(), out_size = g.out_size();
  const int64_t taps = g.kernel_size();
  parallel_items(g.batch * g.out_channels, num_threads, [&](int64_t item) {
    thread_local std::vector<float> pad;
    const int64_t n = item / g.out_channels, m = item % g.out_channels, c = m / mg;
    depthwise_plane(g, x + (n * g.in_channels + c) * in_size, w + m * taps, b ? b[m] : 0.f,
                    y + item * out_size, pad);
    if (ep.active()) ep.apply(y + item * out_size, ep.z ? ep.z + item * out_size : nullptr, out_size);
  });
}

}  // namespace

ConvWeightsF32::ConvWeightsF32(const float* w, const Shape& w_shape, int64_t group)
    : shape_(w_shape), group_(group), raw_(w, w + shape_numel(w_shape)) {
  const int64_t mg = w_shape[0] / group, k = shape_numel(w_shape) / std::max<int64_t>(w_shape[0], 1);
  packed_.reserve(static_cast<size_t>(group));
  for (int64_t gi = 0; gi < group; ++gi) packed_.emplace_back(MatView{raw_.data() + gi * mg * k, k, false}, mg, k);
  if (winograd_weights_eligible(w_shape, group)) winograd_ = winograd_transform_weights(raw_.data(), w_shape[0], w_shape[1]);
}

void pad_plane_rows(const float* src, int64_t ih, int64_t iw, int64_t pad_top, int64_t pad_left, int64_t r0,
                    int64_t rows, int64_t pw, float* dst) {
  const int64_t c0 = std::min(pad_left, pw), c1 = std::clamp<int64_t>(iw + pad_left, c0, pw);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = dst + r * pw;
    const int64_t yy = r0 + r - pad_top;
    if (yy < 0 || yy >= ih) {
      std::fill(row, row + pw, 0.f);
      continue;
    }
    std::fill(row, row + c0, 0.f);
    std::memcpy(row + c0, src + yy * iw + (c0 - pad_left), static_cast<size_t>(c1 - c0) * sizeof(float));
    std::fill(row + c1, row + pw, 0.f);
  }
}

PaddedInput::PaddedInput(const WindowGeometry& g, const float* x, int64_t ph, int64_t pw, int num_threads)
    : plane_(ph * pw), image_stride_((g.in_channels * ph * pw + 16 + 15) / 16 * 16) {
  const bool two_d = g.rank() == 2;
  const int64_t ih = two_d ? g.in_spatial[0] : 1, iw = g.in_spatial[g.rank() - 1];
  const int64_t pt = two_d ? g.pads_begin[0] : 0, pl = g.pads_begin[g.rank() - 1];
  const size_t floats = static_cast<size_t>(g.batch * image_stride_);
  thread_local std::vector<float> cached;
  if (floats <= kPadCacheFloats) {
    if (cached.size() < floats) cached.resize(floats);
    data_ = cached.data();
  } else {
    large_.reset(new float[floats]);
    data_ = large_.get();
  }
  const int64_t in_size = ih * iw, plane = plane_, stride = image_stride_;
  float* pad = data_;
  parallel_items(g.batch * g.in_channels, g.batch * g.in_channels * plane >= 32768 ? num_threads : 1, [&](int64_t p) {
    const int64_t n = p / g.in_channels, c = p % g.in_channels;
    float* dst = pad + n * stride + c * plane;
    pad_plane_rows(x + p * in_size, ih, iw, pt, pl, 0, ph, pw, dst);
    if (c == g.in_channels - 1) std::fill(dst + plane, pad + (n + 1) * stride, 0.f);
  });
}

namespace {

// A rank-1 or rank-2 window as (height, width) pairs; rank 1 has height 1.
struct Window2d {
  int64_t oh, ow, kh, kw, sh, sw, dh, dw;  // output size, kernel, strides, dilations
};
Window2d window_2d(const WindowGeometry& g) {
  const bool two_d = g.rank() == 2;
  const int last = g.rank() - 1;
  return {two_d ? g.out_spatial[0] : 1, g.out_spatial[last], two_d ? g.kernel[0] : 1, g.kernel[last],
          two_d ? g.strides[0] : 1,     g.strides[last],     two_d ? g.dilations[0] : 1, g.dilations[last]};
}

// Offset of tap k = (channel, ky, kx) in zero-padded planes of width pw (plane floats apart), from
// the window's top-left corner.
std::vector<int64_t> tap_offsets(int64_t channels, int64_t kh, int64_t kw, int64_t dh, int64_t dw, int64_t pw,
                                 int64_t plane) {
  std::vector<int64_t> offs(static_cast<size_t>(channels * kh * kw));
  for (int64_t c = 0, t = 0; c < channels; ++c)
    for (int64_t ky = 0; ky < kh; ++ky)
      for (int64_t kx = 0; kx < kw; ++kx) offs[t++] = c * plane + ky * dh * pw + kx * dw;
  return offs;
}

// Stride-1 convolutions of rank 1 or 2 (any kernel, padding, dilation) run as a shifted GEMM:
// the input is copied once into zero-padded planes of width pw = ow + (kw-1)*dw, and output
// position (oy, ox) becomes virtual column oy * pw + ox; tap (c, ky, kx) then reads the padded
// input at a constant offset c * plane + ky*dh * pw + kx*dw from the column, so B needs no
// im2col and no packing. Virtual columns with ox >= ow are computed and dropped.
// Used while the dropped columns stay under 1/8 of the work (else im2col_packed is cheaper).
bool shifted_applicable(const WindowGeometry& g) {
  if (g.rank() > 2) return false;
  for (int d = 0; d < g.rank(); ++d)
    if (g.strides[d] != 1) return false;
  const int last = g.rank() - 1;
  const int64_t extra = (g.kernel[last] - 1) * g.dilations[last];
  return extra * 8 <= g.out_spatial[last] + extra;
}

constexpr int64_t kShiftedChunk = 512;            // virtual columns per work item (before balancing)

void conv_shifted(const WindowGeometry& g, const float* x, const ConvWeightsF32& w, const float* b, float* y,
                  int num_threads, const ConvEpilogue& ep) {
  const auto [oh, ow, kh, kw, sh, sw, dh, dw] = window_2d(g);
  const int64_t ph = oh + (kh - 1) * dh, pw = ow + (kw - 1) * dw, plane = ph * pw;
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const std::vector<int64_t> offs = tap_offsets(cg, kh, kw, dh, dw, pw, plane);
  const PaddedInput padded(g, x, ph, pw, num_threads);
  const int64_t nv = (oh - 1) * pw + ow, out_size = oh * ow;
  const ConvTiling t = make_conv_tiling(g.batch, g.group, mg, nv, kShiftedChunk, num_threads);
  parallel_items(t.items(), num_threads, [&](int64_t item) {
    thread_local std::vector<float> tmp;
    const ConvTile tile = t.tile(item);
    if (tmp.size() < static_cast<size_t>(tile.mcount * tile.ncount)) tmp.resize(static_cast<size_t>(tile.mcount * tile.ncount));
    const float* src = padded.image(tile.image) + tile.group * cg * plane + tile.n0;
    sgemm_shifted_st(tile.mcount, tile.ncount, w.packed(tile.group), tile.m0, src, offs.data(), 0.f, tmp.data(),
                     tile.ncount);
    // Keep the columns with ox < ow, adding the bias.
    for (int64_t m = 0; m < tile.mcount; ++m) {
      const int64_t oc = tile.group * mg + tile.m0 + m;
      const float bias = b ? b[oc] : 0.f;
      const float* tr = tmp.data() + m * tile.ncount;
      float* yr = y + (tile.image * g.out_channels + oc) * out_size;
      for (int64_t v = tile.n0; v < tile.n0 + tile.ncount;) {
        const int64_t oy = v / pw, ox = v % pw;
        const int64_t run = std::min(pw - ox, tile.n0 + tile.ncount - v);
        const int64_t end = std::min(ow, ox + run);
        for (int64_t j = ox; j < end; ++j) yr[oy * ow + j] = tr[v - tile.n0 + j - ox] + bias;
        if (ep.active() && end > ox) {
          const int64_t at = (tile.image * g.out_channels + oc) * out_size + oy * ow + ox;
          ep.apply(y + at, ep.z ? ep.z + at : nullptr, end - ox);
        }
        v += run;
      }
    }
  });
}

// Rank-1/2 convolutions (any stride, padding, dilation) as im2col + GEMM, with the im2col read
// from a zero-padded copy of the input (PaddedInput): every column of a tile is then a plain
// strided run of a padded row, so B is packed by straight vector copies of precomputed runs,
// with no bounds checks per tap. B holds exactly im2col_packed's values, so the results are
// the same bytes.
void conv_padded_im2col(const WindowGeometry& g, const float* x, const ConvWeightsF32& w, const float* b, float* y,
                        int num_threads, const ConvEpilogue& ep) {
  const auto [oh, ow, kh, kw, sh, sw, dh, dw] = window_2d(g);
  const int64_t ph = (oh - 1) * sh + (kh - 1) * dh + 1, pw = (ow - 1) * sw + (kw - 1) * dw + 1, plane = ph * pw;
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group, k = cg * kh * kw;
  const int64_t out_size = oh * ow;
  const std::vector<int64_t> offs = tap_offsets(cg, kh, kw, dh, dw, pw, plane);  // tap k at offs[k] + run start
  const PaddedInput padded(g, x, ph, pw, num_threads);
  const ConvTiling t = conv_tiling(g, false, num_threads);
  parallel_items(t.items(), num_threads, [&](int64_t item) {
    thread_local std::vector<float> cols;
    struct Run {
      int64_t dst, src, len;  // offset inside a K row of panels, padded-plane offset, columns
    };
    thread_local std::vector<Run> runs;
    const ConvTile tile = t.tile(item);
    const int64_t nc = tile.ncount, n_pad = (nc + kGemmNr - 1) / kGemmNr * kGemmNr;
    runs.clear();
    for (int64_t j = 0; j < nc;) {
      const int64_t pos = tile.n0 + j, oy = pos / ow, ox = pos % ow;
      const int64_t len = std::min({ow - ox, kGemmNr - j % kGemmNr, nc - j});
      runs.push_back({j, oy * sh * pw + ox * sw, len});
      j += len;
    }
    const size_t need = static_cast<size_t>(packed_b_size(k, nc));
    if (cols.size() < need) cols.resize(need);
    const float* src = padded.image(tile.image) + tile.group * cg * plane;
    for (int64_t k0 = 0; k0 < k; k0 += kGemmKc) {
      const int64_t kc = std::min(kGemmKc, k - k0);
      float* block = cols.data() + k0 * n_pad;
      for (int64_t kk = 0; kk < kc; ++kk) {
        const float* s = src + offs[k0 + kk];
        float* row = block + kk * kGemmNr;  // panel p of this K row is at row + p * kGemmNr * kc
        for (const Run& r : runs)
          copy_strided(row + (r.dst / kGemmNr) * kGemmNr * kc + r.dst % kGemmNr, s + r.src, r.len, sw);
        if (n_pad > nc) std::fill(row + (n_pad / kGemmNr - 1) * kGemmNr * kc + nc % kGemmNr,
                                  row + (n_pad / kGemmNr - 1) * kGemmNr * kc + kGemmNr, 0.f);
      }
    }
    float* yb = y + (tile.image * g.out_channels + tile.group * mg + tile.m0) * out_size + tile.n0;
    float beta = 0.f;
    if (b) {
      for (int64_t m = 0; m < tile.mcount; ++m)
        std::fill(yb + m * out_size, yb + m * out_size + nc, b[tile.group * mg + tile.m0 + m]);
      beta = 1.f;
    }
    const PackedB pb = PackedB::borrow(cols.data(), k, nc);
    sgemm_st(tile.mcount, nc, k, 1.f, GemmA{{}, &w.packed(tile.group), tile.m0}, GemmB{{}, &pb, 0}, beta, yb,
             out_size);
    if (ep.active())
      for (int64_t m = 0; m < tile.mcount; ++m) {
        const int64_t at = (tile.image * g.out_channels + tile.group * mg + tile.m0 + m) * out_size + tile.n0;
        ep.apply(y + at, ep.z ? ep.z + at : nullptr, nc);
      }
  });
}

}  // namespace

void ConvEpilogue::apply(float* y_part, const float* z_part, int64_t n) const {
  if (z_part)
    for (int64_t i = 0; i < n; ++i) y_part[i] += z_part[i];
  switch (act) {
    case Act::kNone: break;
    case Act::kRelu:
      for (int64_t i = 0; i < n; ++i) y_part[i] = y_part[i] < 0.f ? 0.f : y_part[i];  // as Relu: NaN, -0 kept
      break;
    case Act::kLeakyRelu:
      for (int64_t i = 0; i < n; ++i) y_part[i] = y_part[i] >= 0.f ? y_part[i] : y_part[i] * p0;
      break;
    case Act::kClip:
      for (int64_t i = 0; i < n; ++i) y_part[i] = std::min(std::max(y_part[i], p0), p1);
      break;
    case Act::kSigmoid:
      for (int64_t i = 0; i < n; ++i) y_part[i] = 1.f / (1.f + std::exp(-y_part[i]));
      break;
    case Act::kTanh:
      for (int64_t i = 0; i < n; ++i) y_part[i] = std::tanh(y_part[i]);
      break;
    case Act::kHardSigmoid:
      for (int64_t i = 0; i < n; ++i) y_part[i] = std::max(0.f, std::min(1.f, p0 * y_part[i] + p1));
      break;
  }
}

void conv_f32(const WindowGeometry& g, const float* x, const ConvWeightsF32& w, const float* b, float* y,
              int num_threads, const ConvEpilogue& ep) {
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const int64_t out_size = g.out_size(), in_size = g.in_size(), k = cg * g.kernel_size();
  if (g.batch == 0 || g.out_channels == 0 || out_size == 0) return;
  if (cg == 1 && g.rank() == 2) {
    conv_depthwise(g, x, w.raw(), b, y, num_threads, ep);
    return;
  }
  if (w.winograd() && winograd_applicable(g)) {
    conv_winograd(g, x, *w.winograd(), b, y, num_threads, ep);
    return;
  }
  if (shifted_applicable(g)) {
    conv_shifted(g, x, w, b, y, num_threads, ep);
    return;
  }
  const bool pointwise = is_pointwise(g);
  if (!pointwise && g.rank() <= 2) {
    conv_padded_im2col(g, x, w, b, y, num_threads, ep);
    return;
  }
  const ConvTiling t = conv_tiling(g, pointwise, num_threads);
  parallel_items(t.items(), num_threads, [&](int64_t item) {
    thread_local std::vector<float> cols;
    const ConvTile tile = t.tile(item);
    const int64_t n = tile.image, grp = tile.group, n0 = tile.n0, ncount = tile.ncount, m0 = tile.m0, mcount = tile.mcount;
    const float* xg = x + (n * g.in_channels + grp * cg) * in_size;
    float* yb = y + (n * g.out_channels + grp * mg + m0) * out_size + n0;
    float beta = 0.f;
    if (b) {
      for (int64_t m = 0; m < mcount; ++m) std::fill(yb + m * out_size, yb + m * out_size + ncount, b[grp * mg + m0 + m]);
      beta = 1.f;
    }
    const GemmA ga{{}, &w.packed(grp), m0};
    if (pointwise) {
      sgemm_st(mcount, ncount, k, 1.f, ga, GemmB{MatView{xg + n0, in_size, false}}, beta, yb, out_size);
    } else {
      const size_t need = static_cast<size_t>(packed_b_size(k, ncount));
      if (cols.size() < need) cols.resize(need);
      im2col_packed(g, xg, cg, n0, ncount, cols.data());
      const PackedB pb = PackedB::borrow(cols.data(), k, ncount);
      sgemm_st(mcount, ncount, k, 1.f, ga, GemmB{{}, &pb, 0}, beta, yb, out_size);
    }
    if (ep.active())
      for (int64_t m = 0; m < mcount; ++m) {
        const int64_t at = (n * g.out_channels + grp * mg + m0 + m) * out_size + n0;
        ep.apply(y + at, ep.z ? ep.z + at : nullptr, ncount);
      }
  });
}

namespace {

class ConvKernel final : public OpKernel {
 public:
  // fused: com.microsoft FusedConv (input 3 = Z, then the activation in `epilogue`).
  ConvKernel(WindowAttrs attrs, bool fused, ConvEpilogue epilogue)
      : attrs_(std::move(attrs)), fused_(fused), epilogue_(epilogue) {}

  // Packs a constant f32/f16/bf16 weight once.
  void prepack(const Tensor& w) {
    if (w.dtype() == DType::kF64 || w.rank() < 3 || attrs_.group <= 0 || w.dim(0) % attrs_.group != 0) return;
    const Tensor wf = as_f32(w);
    packed_ = std::make_shared<ConvWeightsF32>(wf.data<float>(), wf.shape(), attrs_.group);
  }

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    BS_ASSIGN_OR_RETURN(const Tensor* w, required_input(ctx, 1, "W"));
    const Tensor* b = ctx.input(2);
    if (!is_dense_float(x->dtype())) return ctx.unsupported_error("X dtype " + std::string(dtype_name(x->dtype())) + " is not supported");
    BS_TRY(expect_dtype(ctx, *w, x->dtype(), "W"));
    if (b) BS_TRY(expect_dtype(ctx, *b, x->dtype(), "B"));
    BS_ASSIGN_OR_RETURN(WindowGeometry g, conv_geometry(attrs_, x->shape(), w->shape(), ctx.node));
    if (b && (b->rank() != 1 || b->dim(0) != g.out_channels))
      return ctx.error("B has shape " + shape_str(b->shape()) + ", expected [" + std::to_string(g.out_channels) + "]");
    const Tensor* z = fused_ ? ctx.input(3) : nullptr;
    std::optional<Shape> z_broadcast;  // set when Z only broadcasts to the output: added unfused
    if (z) {
      BS_TRY(expect_dtype(ctx, *z, x->dtype(), "Z"));
      if (z->shape() != g.out_shape()) {
        z_broadcast = broadcast_shapes({g.out_shape(), z->shape()});
        if (!z_broadcast || x->dtype() != DType::kF32)
          return ctx.error("Z has shape " + shape_str(z->shape()) + ", expected the output shape " + shape_str(g.out_shape()));
      }
    }
    if (fused_ && x->dtype() == DType::kF64) return ctx.unsupported_error("FusedConv on f64 is not supported");
    Tensor y = Tensor::uninitialized(x->dtype(), g.out_shape());  // conv_f32 writes every element
    if (x->dtype() == DType::kF64) {
      ref::conv<double>(g, x->data<double>(), w->data<double>(), b ? b->data<double>() : nullptr, y.mutable_data<double>());
    } else {
      std::shared_ptr<const ConvWeightsF32> packed = packed_;
      if (!packed || packed->shape() != w->shape()) {
        const Tensor wf = as_f32(*w);
        packed = std::make_shared<ConvWeightsF32>(wf.data<float>(), wf.shape(), g.group);
      }
      const Tensor xf = as_f32(*x);
      const Tensor bf = b ? as_f32(*b) : Tensor();
      Tensor yf = x->dtype() == DType::kF32 ? y : Tensor(DType::kF32, y.shape());
      const Tensor zf = z ? as_f32(*z) : Tensor();
      ConvEpilogue ep = epilogue_;
      ep.z = z ? zf.data<float>() : nullptr;
      if (z_broadcast) ep = ConvEpilogue{};
      conv_f32(g, xf.data<float>(), *packed, b ? bf.data<float>() : nullptr, yf.mutable_data<float>(), ctx.num_threads, ep);
      if (z_broadcast) {  // y = act(conv + Z) with Z broadcast, step by step
        Tensor sum = Tensor::uninitialized(DType::kF32, *z_broadcast);
        elt::binary_fast(yf.data<float>(), yf.shape(), zf.data<float>(), zf.shape(), sum.mutable_data<float>(),
                    *z_broadcast, [](float p, float q) { return p + q; }, ctx.num_threads);
        ConvEpilogue act = epilogue_;
        act.z = nullptr;
        if (act.active()) act.apply(sum.mutable_data<float>(), nullptr, sum.numel());
        y = std::move(sum);
      }
      if (x->dtype() != DType::kF32) y = narrow_from_f32(yf, x->dtype());
    }
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  WindowAttrs attrs_;
  bool fused_;
  ConvEpilogue epilogue_;
  std::shared_ptr<const ConvWeightsF32> packed_;
};

// FusedConv's activation attribute (ONNX Runtime's contrib op) as an epilogue.
Expected<ConvEpilogue> parse_fused_activation(const Node& node) {
  ConvEpilogue ep;
  const std::string act = node.attr_string("activation", "");
  const std::vector<float> params = node.attr_floats("activation_params");
  const auto param = [&](size_t i, float dflt) { return i < params.size() ? params[i] : dflt; };
  using Act = ConvEpilogue::Act;
  if (act.empty()) ep.act = Act::kNone;
  else if (act == "Relu") ep.act = Act::kRelu;
  else if (act == "LeakyRelu") ep = ConvEpilogue{Act::kLeakyRelu, param(0, 0.01f), 0.f, nullptr};
  else if (act == "Clip") ep = ConvEpilogue{Act::kClip, param(0, -3.4028235e38f), param(1, 3.4028235e38f), nullptr};
  else if (act == "Sigmoid") ep.act = Act::kSigmoid;
  else if (act == "Tanh") ep.act = Act::kTanh;
  else if (act == "HardSigmoid") ep = ConvEpilogue{Act::kHardSigmoid, param(0, 0.2f), param(1, 0.5f), nullptr};
  else
    return unsupported(node.describe() + ": activation \"" + act +
                       "\" is not one of [Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid]");
  return ep;
}

Expected<std::unique_ptr<OpKernel>> make_conv_kernel(const KernelInfo& info, bool fused) {
  BS_ASSIGN_OR_RETURN(WindowAttrs attrs, parse_window_attrs(info.node));
  ConvEpilogue ep;
  if (fused) {
    BS_ASSIGN_OR_RETURN(ep, parse_fused_activation(info.node));
  }
  auto kernel = std::make_unique<ConvKernel>(std::move(attrs), fused, ep);
  if (const Tensor* w = info.constant_input(1); w && is_dense_float(w->dtype())) kernel->prepack(*w);
  return std::unique_ptr<OpKernel>(std::move(kernel));
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_conv(const KernelInfo& info) { return make_conv_kernel(info, false); }

// com.microsoft FusedConv: Y = activation(Conv(X, W, B) + Z), Z optional.
Expected<std::unique_ptr<OpKernel>> make_fused_conv(const KernelInfo& info) { return make_conv_kernel(info, true); }

}  // namespace bitsmith::kernels
