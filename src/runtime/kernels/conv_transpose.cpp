// ConvTranspose (ONNX opsets 1..). f32 per (image, group): a GEMM
//   cols[M/g * taps, in] = W_g^T[M/g * taps, C/g] * X_g[C/g, in]
// then col2im scatters cols into Y (bias first, then taps in order, inputs in order), one output
// channel per work item, so results do not depend on the thread count. f64 runs the reference;
// f16/bf16 widen to f32. A constant W is packed once.
#include <algorithm>
#include <memory>

#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/gemm_f32.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/ref/conv_ref.h"

namespace bitsmith::kernels {
namespace {

// y_plane (out_spatial) += scatter of cols_m ([taps][in_size]) for one output channel.
void col2im_channel(const WindowGeometry& g, const float* cols_m, float* y_plane) {
  const int r = g.rank(), last = r - 1;
  const int64_t in_size = g.in_size(), taps = g.kernel_size(), kw = g.kernel[last];
  const int64_t iw = g.in_spatial[last], ow = g.out_spatial[last];
  const int64_t sw = g.strides[last], dw = g.dilations[last], pw = g.pads_begin[last];
  const int64_t in_rows = in_size / std::max<int64_t>(iw, 1);
  for (int64_t t = 0; t < taps; ++t) {
    int64_t k[kMaxSpatialRank];
    int64_t rem = t;
    for (int d = r - 1; d >= 0; --d) {
      k[d] = rem % g.kernel[d];
      rem /= g.kernel[d];
    }
    const int64_t kx = t % kw, off = kx * dw - pw;  // ox = ix * sw + off
    // Input columns whose output column is inside [0, ow).
    const int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
    const int64_t hi = ow - 1 - off < 0 ? 0 : std::min(iw, (ow - 1 - off) / sw + 1);
    if (lo >= hi) continue;
    for (int64_t row = 0; row < in_rows; ++row) {
      int64_t rrem = row, out_row = 0, stride = ow;
      bool inside = true;
      for (int d = last - 1; d >= 0; --d) {
        const int64_t i = rrem % g.in_spatial[d];
        rrem /= g.in_spatial[d];
        const int64_t o = i * g.strides[d] + k[d] * g.dilations[d] - g.pads_begin[d];
        if (o < 0 || o >= g.out_spatial[d]) inside = false;
        out_row += o * stride;
        stride *= g.out_spatial[d];
      }
      if (!inside) continue;
      const float* src = cols_m + t * in_size + row * iw;
      float* dst = y_plane + out_row + off;
      if (sw == 1)
        for (int64_t ix = lo; ix < hi; ++ix) dst[ix] += src[ix];
      else
        for (int64_t ix = lo; ix < hi; ++ix) dst[ix * sw] += src[ix];
    }
  }
}

class ConvTransposeKernel final : public OpKernel {
 public:
  explicit ConvTransposeKernel(WindowAttrs attrs) : attrs_(std::move(attrs)) {}

  void prepack(const Tensor& w) {
    if (w.rank() < 3 || w.dtype() == DType::kF64 || w.dim(0) % attrs_.group != 0) return;
    const Tensor wf = as_f32(w);
    const int64_t cg = w.dim(0) / attrs_.group, rows = w.numel() / std::max<int64_t>(w.dim(0), 1);
    for (int64_t gi = 0; gi < attrs_.group; ++gi)
      packed_.emplace_back(MatView{wf.data<float>() + gi * cg * rows, rows, true}, rows, cg);
    packed_shape_ = w.shape();
  }

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    BS_ASSIGN_OR_RETURN(const Tensor* w, required_input(ctx, 1, "W"));
    const Tensor* b = ctx.input(2);
    if (!is_dense_float(x->dtype())) return ctx.unsupported_error("X dtype " + std::string(dtype_name(x->dtype())) + " is not supported");
    BS_TRY(expect_dtype(ctx, *w, x->dtype(), "W"));
    if (b) BS_TRY(expect_dtype(ctx, *b, x->dtype(), "B"));
    BS_ASSIGN_OR_RETURN(WindowGeometry g, conv_transpose_geometry(attrs_, x->shape(), w->shape(), ctx.node));
    if (b && (b->rank() != 1 || b->dim(0) != g.out_channels))
      return ctx.error("B has shape " + shape_str(b->shape()) + ", expected [" + std::to_string(g.out_channels) + "]");
    Tensor y(x->dtype(), g.out_shape());
    if (x->dtype() == DType::kF64) {
      ref::conv_transpose<double>(g, x->data<double>(), w->data<double>(), b ? b->data<double>() : nullptr,
                                  y.mutable_data<double>());
    } else {
      const Tensor xf = as_f32(*x), wf = as_f32(*w);
      const Tensor bf = b ? as_f32(*b) : Tensor();
      Tensor yf = x->dtype() == DType::kF32 ? y : Tensor(DType::kF32, y.shape());
      run_f32(g, xf.data<float>(), wf.data<float>(), packed_shape_ == w->shape(), b ? bf.data<float>() : nullptr,
              yf.mutable_data<float>(), ctx.num_threads);
      if (x->dtype() != DType::kF32) y = narrow_from_f32(yf, x->dtype());
    }
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  void run_f32(const WindowGeometry& g, const float* x, const float* w, bool use_packed, const float* b, float* y,
               int num_threads) const {
    const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
    const int64_t in_size = g.in_size(), out_size = g.out_size(), taps = g.kernel_size(), rows = mg * taps;
    std::vector<float> cols(static_cast<size_t>(rows * in_size));
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t grp = 0; grp < g.group; ++grp) {
        const GemmA ga = use_packed ? GemmA{{}, &packed_[grp], 0} : GemmA{MatView{w + grp * cg * rows, rows, true}};
        const GemmB gb{MatView{x + (n * g.in_channels + grp * cg) * in_size, in_size, false}};
        sgemm(rows, in_size, cg, 1.f, ga, gb, 0.f, cols.data(), in_size, num_threads);
        parallel_items(mg, out_size * rows >= 16384 ? num_threads : 1, [&](int64_t m) {
          const int64_t oc = grp * mg + m;
          float* plane = y + (n * g.out_channels + oc) * out_size;
          std::fill(plane, plane + out_size, b ? b[oc] : 0.f);
          col2im_channel(g, cols.data() + m * taps * in_size, plane);
        });
      }
  }

  WindowAttrs attrs_;
  std::vector<PackedA> packed_;
  Shape packed_shape_;
};

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_conv_transpose(const KernelInfo& info) {
  BS_ASSIGN_OR_RETURN(WindowAttrs attrs, parse_window_attrs(info.node));
  auto kernel = std::make_unique<ConvTransposeKernel>(std::move(attrs));
  if (const Tensor* w = info.constant_input(1); w && is_dense_float(w->dtype())) kernel->prepack(*w);
  return std::unique_ptr<OpKernel>(std::move(kernel));
}

}  // namespace bitsmith::kernels
