// Conv (ONNX opsets 1..): f32 through conv_f32 (f16/bf16 widened to f32), f64 through the
// reference kernel. Constant weights are packed once when the kernel is created.
#include <algorithm>
#include <cstring>
#include <memory>

#include "runtime/kernels/conv_f32.h"
#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/ref/conv_ref.h"

namespace bitsmith::kernels {
namespace {

constexpr int64_t kIm2colBudget = 96 * 1024;  // floats of im2col scratch per work item (L2-sized)

}  // namespace

ConvTiling conv_tiling(const WindowGeometry& g, bool pointwise, int num_threads) {
  const int64_t mg = g.out_channels / g.group, out_size = g.out_size();
  const int64_t k = g.in_channels / g.group * g.kernel_size();
  const int threads = std::max(num_threads, 1);
  ConvTiling t;
  t.batch = g.batch;
  t.group = g.group;
  t.mg = mg;
  t.out_size = out_size;
  // Column chunk: im2col scratch within budget, multiple of the GEMM panel width.
  t.nc = pointwise ? out_size : std::max<int64_t>(kGemmNr, kIm2colBudget / std::max<int64_t>(k, 1) / kGemmNr * kGemmNr);
  t.nc = std::max<int64_t>(std::min(t.nc, out_size), 1);
  t.n_chunks = (out_size + t.nc - 1) / t.nc;
  const int64_t per_image = g.batch * g.group;
  if (threads > 1 && per_image * t.n_chunks < 2 * threads && out_size > kGemmNr) {
    // Few items: cut the columns finer (at least one panel wide).
    const int64_t want = (2 * threads + per_image - 1) / per_image;
    t.nc = std::max<int64_t>(kGemmNr, (out_size + want - 1) / want / kGemmNr * kGemmNr);
    t.n_chunks = (out_size + t.nc - 1) / t.nc;
  }
  // Still fewer items than threads: also split the output channels (in whole panels).
  t.m_step = std::max<int64_t>(mg, 1);
  if (threads > 1 && per_image * t.n_chunks < threads) {
    const int64_t want = (threads + per_image * t.n_chunks - 1) / (per_image * t.n_chunks);
    t.m_step = ((mg + want - 1) / want + kGemmMr - 1) / kGemmMr * kGemmMr;
  }
  t.m_chunks = (mg + t.m_step - 1) / t.m_step;
  return t;
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
  for (int64_t oy = 0; oy < oh; ++oy) {
    float* yr = y + oy * ow;
    std::fill(yr, yr + ow, 0.f);
    for (int64_t ky = 0; ky < kh; ++ky) {
      const float* src_row = pad.data() + (oy * sh + ky * dh) * pw;
      for (int64_t kx = 0; kx < kw; ++kx) {
        const float wv = w[ky * kw + kx];
        const float* s = src_row + kx * dw;
        if (sw == 1)
          for (int64_t ox = 0; ox < ow; ++ox) yr[ox] += wv * s[ox];
        else
          for (int64_t ox = 0; ox < ow; ++ox) yr[ox] += wv * s[ox * sw];
      }
    }
    for (int64_t ox = 0; ox < ow; ++ox) yr[ox] += bias;
  }
}

void conv_depthwise(const WindowGeometry& g, const float* x, const float* w, const float* b, float* y,
                    int num_threads) {
  const int64_t mg = g.out_channels / g.group, in_size = g.in_size(), out_size = g.out_size();
  const int64_t taps = g.kernel_size();
  parallel_items(g.batch * g.out_channels, num_threads, [&](int64_t item) {
    thread_local std::vector<float> pad;
    const int64_t n = item / g.out_channels, m = item % g.out_channels, c = m / mg;
    depthwise_plane(g, x + (n * g.in_channels + c) * in_size, w + m * taps, b ? b[m] : 0.f,
                    y + item * out_size, pad);
  });
}

}  // namespace

ConvWeightsF32::ConvWeightsF32(const float* w, const Shape& w_shape, int64_t group)
    : shape_(w_shape), group_(group), raw_(w, w + shape_numel(w_shape)) {
  const int64_t mg = w_shape[0] / group, k = shape_numel(w_shape) / std::max<int64_t>(w_shape[0], 1);
  packed_.reserve(static_cast<size_t>(group));
  for (int64_t gi = 0; gi < group; ++gi) packed_.emplace_back(MatView{raw_.data() + gi * mg * k, k, false}, mg, k);
}

void conv_f32(const WindowGeometry& g, const float* x, const ConvWeightsF32& w, const float* b, float* y,
              int num_threads) {
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const int64_t out_size = g.out_size(), in_size = g.in_size(), k = cg * g.kernel_size();
  if (g.batch == 0 || g.out_channels == 0 || out_size == 0) return;
  if (cg == 1 && g.rank() == 2) {
    conv_depthwise(g, x, w.raw(), b, y, num_threads);
    return;
  }
  const bool pointwise = is_pointwise(g);
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
    MatView bv{xg + n0, in_size, false};
    if (!pointwise) {
      if (cols.size() < static_cast<size_t>(k * ncount)) cols.resize(static_cast<size_t>(k * ncount));
      im2col_chunk(g, xg, cg, n0, ncount, cols.data());
      bv = MatView{cols.data(), ncount, false};
    }
    sgemm_st(mcount, ncount, k, 1.f, GemmA{{}, &w.packed(grp), m0}, GemmB{bv}, beta, yb, out_size);
  });
}

namespace {

class ConvKernel final : public OpKernel {
 public:
  explicit ConvKernel(WindowAttrs attrs) : attrs_(std::move(attrs)) {}

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
    Tensor y(x->dtype(), g.out_shape());
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
      conv_f32(g, xf.data<float>(), *packed, b ? bf.data<float>() : nullptr, yf.mutable_data<float>(), ctx.num_threads);
      if (x->dtype() != DType::kF32) y = narrow_from_f32(yf, x->dtype());
    }
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  WindowAttrs attrs_;
  std::shared_ptr<const ConvWeightsF32> packed_;
};

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_conv(const KernelInfo& info) {
  BS_ASSIGN_OR_RETURN(WindowAttrs attrs, parse_window_attrs(info.node));
  auto kernel = std::make_unique<ConvKernel>(std::move(attrs));
  if (const Tensor* w = info.constant_input(1); w && is_dense_float(w->dtype())) kernel->prepack(*w);
  return std::unique_ptr<OpKernel>(std::move(kernel));
}

}  // namespace bitsmith::kernels
