// ConvInteger and QLinearConv (ONNX opset 10), u8/i8 in any combination.
// acc = bias + sum (x - x_zp) * (w - w_zp[m]) in int32, computed exactly on the f32 GEMM
// (quantized_common.h) with the same im2col tiling as the f32 Conv; padding taps hold x_zp and
// contribute 0. QLinearConv requantizes with multiplier x_scale * w_scale[m] / y_scale.
// A constant W with a constant w_zp is shifted and packed once.
#include <algorithm>
#include <memory>

#include "runtime/kernels/conv_f32.h"
#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/quantized_common.h"
#include "runtime/kernels/ref/quantized_ref.h"

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

class QConvKernel final : public OpKernel {
 public:
  QConvKernel(WindowAttrs attrs, bool qlinear) : attrs_(std::move(attrs)), qlinear_(qlinear) {}

  size_t w_index() const { return qlinear_ ? 3 : 1; }
  size_t w_zp_index() const { return qlinear_ ? 5 : 3; }

  void prepare(const Tensor& w, const Tensor* w_zp) {
    if (!is_8bit(w.dtype()) || w.rank() < 3 || attrs_.group <= 0 || w.dim(0) % attrs_.group != 0) return;
    if (w_zp && (w_zp->dtype() != w.dtype() || (w_zp->numel() != 1 && w_zp->numel() != w.dim(0)))) return;
    prepared_ = prepare_w(w, w_zp ? int_values32(*w_zp) : std::vector<int32_t>{0}, attrs_.group);
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
    std::shared_ptr<const PreparedW> pw = prepared_;
    if (!pw || pw->shape != w->shape() || pw->zp != w_zp) pw = prepare_w(*w, w_zp, g.group);

    Requant rq;
    if (qlinear_) BS_TRY(read_requant(ctx, g, rq));
    Tensor y(qlinear_ ? rq.out_t : DType::kI32, g.out_shape());
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
