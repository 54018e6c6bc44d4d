// ConvInteger and QLinearConv (ONNX opset 10), u8/i8 in any combination.
// acc = bias + sum (x - x_zp) * (w - w_zp[m]) in int32, computed exactly on the f32 GEMM
// (quantized_common.h) with the same im2col tiling as the f32 Conv; padding taps hold x_zp and
// contribute 0. QLinearConv requantizes with multiplier x_scale * w_scale[m] / y_scale.
// A constant W with a constant w_zp is shifted and packed once.
// Fast path (1-D / 2-D windows, group 1 or >= 8 output channels per group): the u8 x s8 GEMM
// (gemm_u8s8.h) on the transposed problem Y^T[pos, m] = cols[pos, K] x W^T[K, m], where cols is
// a u8 im2col with one row per output position (padding taps hold x_zp and contribute 0) and
// W^T is packed once per group at load; the requantization is fused into the GEMM epilogue.
// When the kernel rows (or taps) of the channels-last copy are whole 4-byte groups, the GEMM
// reads the windows in place (row pointers + segment offsets, no im2col copy).
// Same bytes as the f32-based path (exact sums, same requantize_value arithmetic).
#include <algorithm>
#include <cstring>
#include <memory>

#include "runtime/kernels/conv_f32.h"
#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/quantized_common.h"
#include "runtime/kernels/quantized_u8s8.h"
#include "runtime/kernels/ref/quantized_ref.h"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace bitsmith::kernels {
namespace {

bool is_8bit(DType t) { return t == DType::kU8 || t == DType::kI8; }

inline int32_t int8_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kU8 ? static_cast<int32_t>(t.data<uint8_t>()[i]) : static_cast<int32_t>(t.data<int8_t>()[i]);
}

// W [M, C/g, k...] shifted by its zero point, packed per group and K block.
struct PreparedW {
  Shape shape;
  std::vector<int32_t> zp;
  std::vector<std::vector<PackedA>> groups;
};

std::shared_ptr<PreparedW> prepare_w(const Tensor& w, const std::vector<int32_t>& zp, int64_t group) {
  auto p = std::make_shared<PreparedW>();
  p->shape = w.shape();
  p->zp = zp;
  const int64_t m = w.dim(0), k = w.numel() / std::max<int64_t>(m, 1), mg = m / group;
  std::vector<float> wf(static_cast<size_t>(w.numel()));
  for (int64_t i = 0; i < w.numel(); ++i) wf[i] = static_cast<float>(int8_at(w, i) - param_at(zp, i / k));
  for (int64_t gi = 0; gi < group; ++gi) p->groups.push_back(pack_a_blocks(MatView{wf.data() + gi * mg * k, k, false}, mg, k));
  return p;
}

// W [M, C/g, k...] as one packed W^T [K, M/g] per group, K ordered (tap, channel) to match the
// channels-last im2col rows below: B(t * cg + c, j) = W[g * mg + j, c, t].
using FastW = std::vector<QWeightsU8S8>;
std::shared_ptr<FastW> prepare_fast_w(const Tensor& w, const std::vector<int32_t>& zp, int64_t group) {
  auto f = std::make_shared<FastW>();
  const int64_t m = w.dim(0), k = w.numel() / std::max<int64_t>(m, 1), mg = m / group, cg = w.dim(1);
  const int64_t taps = cg > 0 ? k / cg : 0;
  const std::byte* src = w.bytes();
  for (int64_t gi = 0; gi < group; ++gi) {
    Tensor r(w.dtype(), {mg, k});
    std::byte* dst = r.mutable_bytes();
    for (int64_t j = 0; j < mg; ++j)
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t t = 0; t < taps; ++t) dst[j * k + t * cg + c] = src[(gi * mg + j) * k + c * taps + t];
    f->push_back(prepare_qweights(r, zp, k, mg, 1, k, 0, gi * mg));
    f->back().shape = w.shape();
  }
  return f;
}

bool fast_conv_ok(int64_t spatial_rank, int64_t group, int64_t m) {
  return (spatial_rank == 1 || spatial_rank == 2) && group > 0 && m % group == 0 && (group == 1 || m / group >= 8);
}

// 2-D view of a 1-D / 2-D window (1-D: height 1).
struct Win2 {
  int64_t ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw, ph_end, pw_end;
  explicit Win2(const WindowGeometry& g) {
    const bool two = g.rank() == 2;
    const int x = two ? 1 : 0;
    ih = two ? g.in_spatial[0] : 1, iw = g.in_spatial[x];
    oh = two ? g.out_spatial[0] : 1, ow = g.out_spatial[x];
    kh = two ? g.kernel[0] : 1, kw = g.kernel[x];
    sh = two ? g.strides[0] : 1, sw = g.strides[x];
    dh = two ? g.dilations[0] : 1, dw = g.dilations[x];
    ph = two ? g.pads_begin[0] : 0, pw = g.pads_begin[x];
    ph_end = two ? g.pads_end[0] : 0, pw_end = g.pads_end[x];
  }
  int64_t padded_h() const { return ih + ph + ph_end; }
  int64_t padded_w() const { return iw + pw + pw_end; }
};

// dst [padded_h, padded_w, cg] (channels last, u8) = one image's group of x [cg, ih, iw] with
// the padding filled with zp; s8 inputs are flipped to u8 by `flip`. Blocks of 16 channels x 16
// pixels are transposed in registers (4 rounds of byte unpacks pairing register i with i + 8).
void to_padded_nhwc(const Win2& w, const uint8_t* x_group, uint8_t flip, int64_t cg, uint8_t zp, uint8_t* dst) {
  const int64_t ih = w.ih, iw = w.iw, pw = w.padded_w(), row_bytes = pw * cg;
  std::fill(dst, dst + w.ph * row_bytes, zp);
  std::fill(dst + (w.ph + ih) * row_bytes, dst + w.padded_h() * row_bytes, zp);
  for (int64_t y = 0; y < ih; ++y) {
    uint8_t* prow = dst + (y + w.ph) * row_bytes;
    std::fill(prow, prow + w.pw * cg, zp);
    std::fill(prow + (w.pw + iw) * cg, prow + row_bytes, zp);
    uint8_t* d = prow + w.pw * cg;
    int64_t c = 0;
#if defined(__SSE2__)
    const __m128i fv = _mm_set1_epi8(static_cast<char>(flip));
    for (; c + 16 <= cg; c += 16) {
      const uint8_t* src = x_group + (c * ih + y) * iw;
      int64_t xx = 0;
      for (; xx + 16 <= iw; xx += 16) {
        __m128i r[16], t[16];
        for (int i = 0; i < 16; ++i)
          r[i] = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * ih * iw + xx)), fv);
        for (int round = 0; round < 4; ++round) {
          for (int i = 0; i < 8; ++i) {
            t[2 * i] = _mm_unpacklo_epi8(r[i], r[i + 8]);
            t[2 * i + 1] = _mm_unpackhi_epi8(r[i], r[i + 8]);
          }
          for (int i = 0; i < 16; ++i) r[i] = t[i];
        }
        for (int i = 0; i < 16; ++i) _mm_storeu_si128(reinterpret_cast<__m128i*>(d + (xx + i) * cg + c), r[i]);
      }
      for (; xx < iw; ++xx)
        for (int64_t i = 0; i < 16; ++i) d[xx * cg + c + i] = src[i * ih * iw + xx] ^ flip;
    }
#endif
    for (; c < cg; ++c) {
      const uint8_t* src = x_group + (c * ih + y) * iw;
      for (int64_t xx = 0; xx < iw; ++xx) d[xx * cg + c] = src[xx] ^ flip;
    }
  }
}

// rows [nc, kp] (u8): row j = the window of output position n0 + j, K ordered (ky, kx, channel),
// gathered from the padded channels-last image (whole kernel rows are one copy when dw == 1).
void im2col_rows_nhwc(const Win2& w, const uint8_t* xp, int64_t cg, int64_t n0, int64_t nc, int64_t kp, uint8_t* rows) {
  const int64_t pw = w.padded_w(), k = w.kh * w.kw * cg;
  for (int64_t j = 0; j < nc; ++j) {
    const int64_t pos = n0 + j, oy = pos / w.ow, ox = pos % w.ow;
    uint8_t* row = rows + j * kp;
    for (int64_t ky = 0; ky < w.kh; ++ky) {
      const uint8_t* src = xp + ((oy * w.sh + ky * w.dh) * pw + ox * w.sw) * cg;
      uint8_t* dst = row + ky * w.kw * cg;
      if (w.dw == 1) {
        std::memcpy(dst, src, static_cast<size_t>(w.kw * cg));
      } else {
        for (int64_t kx = 0; kx < w.kw; ++kx) std::memcpy(dst + kx * cg, src + kx * w.dw * cg, static_cast<size_t>(cg));
      }
    }
    std::fill(row + k, row + kp, uint8_t{0});
  }
}

class QConvKernel final : public OpKernel {
 public:
  QConvKernel(WindowAttrs attrs, bool qlinear) : attrs_(std::move(attrs)), qlinear_(qlinear) {}

  size_t w_index() const { return qlinear_ ? 3 : 1; }
  size_t w_zp_index() const { return qlinear_ ? 5 : 3; }

  void prepare(const Tensor& w, const Tensor* w_zp) {
    if (!is_8bit(w.dtype()) || w.rank() < 3 || attrs_.group <= 0 || w.dim(0) % attrs_.group != 0) return;
    if (w_zp && (w_zp->dtype() != w.dtype() || (w_zp->numel() != 1 && w_zp->numel() != w.dim(0)))) return;
    const std::vector<int32_t> zp = w_zp ? int_values32(*w_zp) : std::vector<int32_t>{0};
    if (fast_conv_ok(w.rank() - 2, attrs_.group, w.dim(0))) fast_ = prepare_fast_w(w, zp, attrs_.group);
    else prepared_ = prepare_w(w, zp, attrs_.group);
  }

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
    BS_ASSIGN_OR_RETURN(const Tensor* w, required_input(ctx, w_index(), "w"));
    if (!is_8bit(x->dtype()) || !is_8bit(w->dtype()))
      return ctx.unsupported_error("x " + std::string(dtype_name(x->dtype())) + " / w " +
                                   std::string(dtype_name(w->dtype())) + ": only u8 / i8 are supported");
    BS_ASSIGN_OR_RETURN(WindowGeometry g, conv_geometry(attrs_, x->shape(), w->shape(), ctx.node));
    const Tensor* x_zp_t = ctx.input(2);
    const Tensor* w_zp_t = ctx.input(w_zp_index());
    if (x_zp_t) {
      BS_TRY(expect_dtype(ctx, *x_zp_t, x->dtype(), "x_zero_point"));
      BS_TRY(check_param_count(ctx, *x_zp_t, 1, "x_zero_point"));
    }
    if (w_zp_t) {
      BS_TRY(expect_dtype(ctx, *w_zp_t, w->dtype(), "w_zero_point"));
      BS_TRY(check_param_count(ctx, *w_zp_t, g.out_channels, "w_zero_point"));
    }
    const int32_t x_zp = x_zp_t ? int_values32(*x_zp_t)[0] : 0;
    const std::vector<int32_t> w_zp = w_zp_t ? int_values32(*w_zp_t) : std::vector<int32_t>{0};
    Requant rq;
    if (qlinear_) BS_TRY(read_requant(ctx, g, rq));
    Tensor y(qlinear_ ? rq.out_t : DType::kI32, g.out_shape());
    if (fast_conv_ok(g.rank(), g.group, g.out_channels)) {
      std::shared_ptr<const FastW> fw = fast_;
      if (!fw || fw->empty() || (*fw)[0].shape != w->shape() || (*fw)[0].src_zp != w_zp) fw = prepare_fast_w(*w, w_zp, g.group);
      run_fast(g, *x, x_zp, *fw, rq, y, ctx.num_threads);
      ctx.outputs[0] = std::move(y);
      return Status::ok();
    }
    std::shared_ptr<const PreparedW> pw = prepared_;
    if (!pw || pw->shape != w->shape() || pw->zp != w_zp) pw = prepare_w(*w, w_zp, g.group);
    std::vector<float> xf(static_cast<size_t>(x->numel()));
    for (int64_t i = 0; i < x->numel(); ++i) xf[i] = static_cast<float>(int8_at(*x, i) - x_zp);
    run(g, xf.data(), *pw, rq, y, ctx.num_threads);
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  struct Requant {
    DType out_t = DType::kU8;
    std::vector<float> multiplier;  // per output channel
    std::vector<int32_t> bias;      // per output channel (zeros when absent)
    int32_t zp = 0, qmin = 0, qmax = 255;
  };

  // QLinearConv inputs: 1 x_scale, 4 w_scale, 6 y_scale, 7 y_zero_point, 8 B (int32).
  Status read_requant(const KernelContext& ctx, const WindowGeometry& g, Requant& rq) const {
    BS_ASSIGN_OR_RETURN(const Tensor* xs, required_input(ctx, 1, "x_scale"));
    BS_ASSIGN_OR_RETURN(const Tensor* ws, required_input(ctx, 4, "w_scale"));
    BS_ASSIGN_OR_RETURN(const Tensor* ys, required_input(ctx, 6, "y_scale"));
    const Tensor* yz = ctx.input(7);
    const Tensor* b = ctx.input(8);
    BS_TRY(check_param_count(ctx, *xs, 1, "x_scale"));
    BS_TRY(check_param_count(ctx, *ws, g.out_channels, "w_scale"));
    BS_TRY(check_param_count(ctx, *ys, 1, "y_scale"));
    rq.out_t = yz ? yz->dtype() : DType::kU8;
    if (!is_8bit(rq.out_t)) return ctx.unsupported_error("y_zero_point dtype " + std::string(dtype_name(rq.out_t)) + " is not supported");
    if (yz) BS_TRY(check_param_count(ctx, *yz, 1, "y_zero_point"));
    quant_range(rq.out_t, rq.qmin, rq.qmax);
    rq.zp = yz ? int_values32(*yz)[0] : 0;
    const float x_scale = scale_values(*xs)[0], y_scale = scale_values(*ys)[0];
    const std::vector<float> w_scale = scale_values(*ws);
    rq.multiplier.resize(static_cast<size_t>(g.out_channels));
    for (int64_t m = 0; m < g.out_channels; ++m) rq.multiplier[m] = requant_multiplier(x_scale, param_at(w_scale, m), y_scale);
    rq.bias.assign(static_cast<size_t>(g.out_channels), 0);
    if (b) {
      BS_TRY(expect_dtype(ctx, *b, DType::kI32, "B"));
      if (b->rank() != 1 || b->dim(0) != g.out_channels)
        return ctx.error("B has shape " + shape_str(b->shape()) + ", expected [" + std::to_string(g.out_channels) + "]");
      rq.bias.assign(b->data<int32_t>(), b->data<int32_t>() + g.out_channels);
    }
    return Status::ok();
  }

  void run_fast(const WindowGeometry& g, const Tensor& x, int32_t x_zp, const FastW& fw, const Requant& rq, Tensor& y,
                int num_threads) const {
    const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
    const int64_t in_size = g.in_size(), out_size = g.out_size(), k = cg * g.kernel_size(), kp = round_up4(k);
    if (g.batch == 0 || g.out_channels == 0 || out_size == 0) return;
    const uint8_t flip = x.dtype() == DType::kI8 ? 0x80 : 0;
    const int32_t zp = x_zp + (flip ? 128 : 0);
    // Per group: the epilogue (offsets into the per-channel arrays) and its column term.
    std::vector<QEpilogue> eps(static_cast<size_t>(g.group));
    std::vector<std::vector<int32_t>> col_add(static_cast<size_t>(g.group));
    for (int64_t gi = 0; gi < g.group; ++gi) {
      QEpilogue& ep = eps[gi];
      ep.a_zp = zp;
      ep.b_zp = fw[gi].all_zp_zero ? nullptr : fw[gi].zp.data();
      if (qlinear_) {
        ep.kind = QEpilogue::Kind::kQuantized;
        ep.bias = rq.bias.data() + gi * mg;
        ep.multiplier = rq.multiplier.data() + gi * mg;
        ep.zp = rq.zp;
        ep.qmin = rq.qmin;
        ep.qmax = rq.qmax;
        ep.out_signed = rq.out_t == DType::kI8;
      }
      ep.ld_row = 1;
      ep.ld_col = out_size;
      col_add[gi] = qgemm_col_add(ep, fw[gi].packed.colsum(), k);
    }
    // Channels-last padded copy of every (image, group), then items (image, group, chunk of
    // output positions); the im2col rows of a chunk stay in L2. A 1x1 / stride-1 / unpadded
    // window reads the channels-last copy directly (row stride cg; the bytes read past K are
    // multiplied by B's zero padding).
    const Win2 w2(g);
    const int64_t plane = w2.padded_h() * w2.padded_w() * cg;
    std::vector<uint8_t> xp_buf(static_cast<size_t>(g.batch * g.group * plane + 8));
    uint8_t* const xp = xp_buf.data();
    const uint8_t* xd = reinterpret_cast<const uint8_t*>(x.bytes());
    parallel_items(g.batch * g.group, g.batch * g.group * plane >= 65536 ? num_threads : 1, [&](int64_t item) {
      const int64_t image = item / g.group, gi = item % g.group;
      to_padded_nhwc(w2, xd + (image * g.in_channels + gi * cg) * in_size, flip, cg, static_cast<uint8_t>(zp),
                     xp + item * plane);
    });
    const bool direct = is_pointwise(g);
    // Implicit im2col: when every (kernel row) or (kernel tap) is a run of whole 4-byte groups
    // in the channels-last copy, the GEMM reads the windows in place (qgemm_u8s8_rows_st) with
    // K in the packed order (ky, kx, channel); otherwise rows are gathered (im2col_rows_nhwc).
    std::vector<int64_t> seg_off;
    int64_t seg_len = 0;
    if (!direct && w2.dw == 1 && (w2.kw * cg) % 4 == 0) {
      seg_len = w2.kw * cg;
      for (int64_t ky = 0; ky < w2.kh; ++ky) seg_off.push_back(ky * w2.dh * w2.padded_w() * cg);
    } else if (!direct && cg % 4 == 0) {
      seg_len = cg;
      for (int64_t ky = 0; ky < w2.kh; ++ky)
        for (int64_t kx = 0; kx < w2.kw; ++kx) seg_off.push_back((ky * w2.dh * w2.padded_w() + kx * w2.dw) * cg);
    }
    const bool implicit = seg_len > 0;
    const int64_t chunk = std::max<int64_t>(kQMr, std::min<int64_t>(256, (64 * 1024 / kp) / kQMr * kQMr));
    const int64_t chunks = (out_size + chunk - 1) / chunk;
    const double work = static_cast<double>(g.batch) * static_cast<double>(g.out_channels) * static_cast<double>(out_size) * static_cast<double>(k);
    std::byte* out = y.mutable_bytes();
    const size_t esize = qlinear_ ? 1 : 4;
    parallel_items(g.batch * g.group * chunks, work >= 2e5 ? num_threads : 1, [&](int64_t item) {
      thread_local std::vector<uint8_t> rows;
      thread_local std::vector<int32_t> rowsum;
      thread_local std::vector<const uint8_t*> row_ptrs;
      const int64_t image = item / (g.group * chunks), gi = (item / chunks) % g.group, c = item % chunks;
      const int64_t n0 = c * chunk, nc = std::min(chunk, out_size - n0);
      const uint8_t* xg = xp + (image * g.group + gi) * plane;
      QEpilogue ep = eps[gi];
      ep.out = out + static_cast<size_t>((image * g.out_channels + gi * mg) * out_size + n0) * esize;
      if (implicit) {
        row_ptrs.resize(static_cast<size_t>(nc));
        for (int64_t j = 0; j < nc; ++j) {
          const int64_t oy = (n0 + j) / w2.ow, ox = (n0 + j) % w2.ow;
          row_ptrs[j] = xg + (oy * w2.sh * w2.padded_w() + ox * w2.sw) * cg;
        }
        const QRowsU8 ra{row_ptrs.data(), seg_off.data(), static_cast<int64_t>(seg_off.size()), seg_len};
        const int32_t* rs = nullptr;
        if (ep.b_zp) {
          rowsum.resize(static_cast<size_t>(nc));
          qgemm_row_sums_rows(nc, ra, rowsum.data());
          rs = rowsum.data();
        }
        qgemm_u8s8_rows_st(nc, ra, fw[gi].packed, 0, mg, ep, col_add[gi].data(), rs, 0);
        return;
      }
      const uint8_t* a = xg + n0 * cg;
      int64_t lda = cg;
      if (!direct) {
        rows.resize(static_cast<size_t>(nc * kp));
        im2col_rows_nhwc(w2, xg, cg, n0, nc, kp, rows.data());
        a = rows.data();
        lda = kp;
      }
      const int32_t* rs = nullptr;
      if (eps[gi].b_zp) {
        rowsum.resize(static_cast<size_t>(nc));
        qgemm_row_sums(nc, k, a, lda, rowsum.data());
        rs = rowsum.data();
      }
      qgemm_u8s8_st(nc, a, lda, fw[gi].packed, 0, mg, ep, col_add[gi].data(), rs, 0);
    });
  }

  void run(const WindowGeometry& g, const float* xf, const PreparedW& pw, const Requant& rq, Tensor& y,
           int num_threads) const {
    const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
    const int64_t in_size = g.in_size(), out_size = g.out_size(), k = cg * g.kernel_size();
    if (g.batch == 0 || g.out_channels == 0 || out_size == 0) return;
    const bool pointwise = is_pointwise(g);
    const ConvTiling t = conv_tiling(g, pointwise, num_threads);
    std::byte* out = y.mutable_bytes();
    parallel_items(t.items(), num_threads, [&](int64_t item) {
      thread_local std::vector<float> cols;
      thread_local std::vector<int32_t> acc;
      const ConvTile tile = t.tile(item);
      const float* xg = xf + (tile.image * g.in_channels + tile.group * cg) * in_size;
      const int64_t first = (tile.image * g.out_channels + tile.group * mg + tile.m0) * out_size + tile.n0;
      MatView bv{xg + tile.n0, in_size, false};
      if (!pointwise) {
        if (cols.size() < static_cast<size_t>(k * tile.ncount)) cols.resize(static_cast<size_t>(k * tile.ncount));
        im2col_chunk(g, xg, cg, tile.n0, tile.ncount, cols.data());
        bv = MatView{cols.data(), tile.ncount, false};
      }
      const IntGemmA ga{{}, &pw.groups[tile.group], tile.m0};
      if (!qlinear_) {
        int32_t* yi = reinterpret_cast<int32_t*>(out) + first;
        igemm_exact_st(tile.mcount, tile.ncount, k, ga, IntGemmB{bv}, yi, out_size);
        return;
      }
      acc.resize(static_cast<size_t>(tile.mcount * tile.ncount));
      igemm_exact_st(tile.mcount, tile.ncount, k, ga, IntGemmB{bv}, acc.data(), tile.ncount);
      for (int64_t m = 0; m < tile.mcount; ++m) {
        const int64_t oc = tile.group * mg + tile.m0 + m;
        for (int64_t j = 0; j < tile.ncount; ++j) {
          const int32_t q = requantize_value(acc[m * tile.ncount + j] + rq.bias[oc], rq.multiplier[oc], rq.zp, rq.qmin, rq.qmax);
          store_int(rq.out_t, first + m * out_size + j, q, out);
        }
      }
    });
  }

  WindowAttrs attrs_;
  bool qlinear_;
  std::shared_ptr<const PreparedW> prepared_;
  std::shared_ptr<const FastW> fast_;
};

Expected<std::unique_ptr<OpKernel>> make_qconv(const KernelInfo& info, bool qlinear) {
  BS_ASSIGN_OR_RETURN(WindowAttrs attrs, parse_window_attrs(info.node));
  auto kernel = std::make_unique<QConvKernel>(std::move(attrs), qlinear);
  const Tensor* w = info.constant_input(kernel->w_index());
  const Tensor* w_zp = info.constant_input(kernel->w_zp_index());
  const bool zp_ok = w_zp || info.node.inputs.size() <= kernel->w_zp_index() || info.node.inputs[kernel->w_zp_index()].empty();
  if (w && zp_ok) kernel->prepare(*w, w_zp);
  return std::unique_ptr<OpKernel>(std::move(kernel));
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_conv_integer(const KernelInfo& info) { return make_qconv(info, false); }

Expected<std::unique_ptr<OpKernel>> make_qlinear_conv(const KernelInfo& info) { return make_qconv(info, true); }

}  // namespace bitsmith::kernels
