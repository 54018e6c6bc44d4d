// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (ONNX opsets 1..).
// f32 2-D pooling runs a padded-plane kernel vectorized over the output width; other ranks,
// dtypes and MaxPool with the Indices output run the reference. f16/bf16 widen to f32.
// Planes (image, channel) are spread over threads; each plane is computed by one thread.
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>

#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/ref/pool_ref.h"

namespace bitsmith::kernels {
namespace {

enum class PoolKind { kMax, kAverage };

// Window taps of output position o along one axis that fall in [lo, hi).
int64_t axis_count(const WindowGeometry& g, int d, int64_t o, int64_t lo, int64_t hi) {
  int64_t n = 0;
  for (int64_t k = 0; k < g.kernel[d]; ++k) {
    const int64_t pos = o * g.strides[d] - g.pads_begin[d] + k * g.dilations[d];
    if (pos >= lo && pos < hi) ++n;
  }
  return n;
}

// One f32 2-D plane. pad: scratch for the padded plane (pad value -inf for max, 0 for average).
// divisor: per output position, the average's divisor (average only).
void pool_plane_2d(const WindowGeometry& g, PoolKind kind, const float* x, float* y, const float* divisor,
                   std::vector<float>& pad) {
  const int64_t ih = g.in_spatial[0], iw = g.in_spatial[1], oh = g.out_spatial[0], ow = g.out_spatial[1];
  const int64_t kh = g.kernel[0], kw = g.kernel[1], sh = g.strides[0], sw = g.strides[1];
  const int64_t dh = g.dilations[0], dw = g.dilations[1], pt = g.pads_begin[0], pl = g.pads_begin[1];
  const int64_t ph = (oh - 1) * sh + (kh - 1) * dh + 1, pw = (ow - 1) * sw + (kw - 1) * dw + 1;
  const float fill = kind == PoolKind::kMax ? -std::numeric_limits<float>::infinity() : 0.f;
  pad.assign(static_cast<size_t>(ph * pw), fill);
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
    phases.assign(static_cast<size_t>(ph * row_len), fill);
    for (int64_t r = 0; r < ph; ++r)
      for (int64_t col = 0; col < pw; ++col) phases[r * row_len + (col % sw) * phase_len + col / sw] = pad[r * pw + col];
    rows = phases.data();
  }
  for (int64_t oy = 0; oy < oh; ++oy) {
    float* yr = y + oy * ow;
    std::fill(yr, yr + ow, kind == PoolKind::kMax ? std::numeric_limits<float>::lowest() : 0.f);
    for (int64_t ky = 0; ky < kh; ++ky) {
      const float* src_row = rows + (oy * sh + ky * dh) * row_len;
      for (int64_t kx = 0; kx < kw; ++kx) {
        const int64_t col = kx * dw;
        const float* s = src_row + (col % sw) * phase_len + col / sw;
        if (kind == PoolKind::kMax)
          for (int64_t ox = 0; ox < ow; ++ox) yr[ox] = s[ox] > yr[ox] ? s[ox] : yr[ox];
        else
          for (int64_t ox = 0; ox < ow; ++ox) yr[ox] += s[ox];
      }
    }
    if (kind == PoolKind::kAverage)
      for (int64_t ox = 0; ox < ow; ++ox) yr[ox] = yr[ox] / divisor[oy * ow + ox];
  }
}

void pool_f32_2d(const WindowGeometry& g, PoolKind kind, bool count_include_pad, const float* x, float* y,
                 int num_threads) {
  const int64_t oh = g.out_spatial[0], ow = g.out_spatial[1];
  std::vector<float> divisor;
  if (kind == PoolKind::kAverage) {
    divisor.resize(static_cast<size_t>(oh * ow));
    for (int64_t oy = 0; oy < oh; ++oy) {
      const int64_t cy = count_include_pad ? axis_count(g, 0, oy, -g.pads_begin[0], g.in_spatial[0] + g.pads_end[0])
                                           : axis_count(g, 0, oy, 0, g.in_spatial[0]);
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t cx = count_include_pad
                               ? axis_count(g, 1, ox, -g.pads_begin[1], g.in_spatial[1] + g.pads_end[1])
                               : axis_count(g, 1, ox, 0, g.in_spatial[1]);
        divisor[oy * ow + ox] = static_cast<float>(std::max<int64_t>(cy * cx, 1));
      }
    }
  }
  const int64_t in_size = g.in_size(), out_size = g.out_size();
  parallel_items(g.batch * g.in_channels, num_threads, [&](int64_t p) {
    thread_local std::vector<float> pad;
    pool_plane_2d(g, kind, x + p * in_size, y + p * out_size, divisor.data(), pad);
  });
}

class PoolKernel final : public OpKernel {
 public:
  PoolKernel(PoolKind kind, WindowAttrs attrs, bool count_include_pad, bool col_major)
      : kind_(kind), attrs_(std::move(attrs)), count_include_pad_(count_include_pad), col_major_(col_major) {}

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    const DType t = x->dtype();
    const bool int8 = t == DType::kI8 || t == DType::kU8;
    if (!is_dense_float(t) && !(kind_ == PoolKind::kMax && int8))
      return ctx.unsupported_error("X dtype " + std::string(dtype_name(t)) + " is not supported");
    BS_ASSIGN_OR_RETURN(WindowGeometry g, pool_geometry(attrs_, x->shape(), ctx.node));
    const bool want_indices = kind_ == PoolKind::kMax && ctx.outputs.size() > 1 && !ctx.node.outputs[1].empty();
    Tensor y(t, g.out_shape());
    Tensor indices = want_indices ? Tensor(DType::kI64, g.out_shape()) : Tensor();
    int64_t* idx = want_indices ? indices.mutable_data<int64_t>() : nullptr;
    if (t == DType::kF64) {
      if (kind_ == PoolKind::kMax) ref::max_pool<double>(g, x->data<double>(), y.mutable_data<double>(), idx, col_major_);
      else ref::average_pool<double>(g, count_include_pad_, x->data<double>(), y.mutable_data<double>());
    } else if (t == DType::kI8) {
      ref::max_pool<int8_t>(g, x->data<int8_t>(), y.mutable_data<int8_t>(), idx, col_major_);
    } else if (t == DType::kU8) {
      ref::max_pool<uint8_t>(g, x->data<uint8_t>(), y.mutable_data<uint8_t>(), idx, col_major_);
    } else {
      const Tensor xf = as_f32(*x);
      Tensor yf = t == DType::kF32 ? y : Tensor(DType::kF32, y.shape());
      if (g.rank() == 2 && !idx) {
        pool_f32_2d(g, kind_, count_include_pad_, xf.data<float>(), yf.mutable_data<float>(), ctx.num_threads);
      } else if (kind_ == PoolKind::kMax) {
        ref::max_pool<float>(g, xf.data<float>(), yf.mutable_data<float>(), idx, col_major_);
      } else {
        ref::average_pool<float>(g, count_include_pad_, xf.data<float>(), yf.mutable_data<float>());
      }
      if (t != DType::kF32) y = narrow_from_f32(yf, t);
    }
    ctx.outputs[0] = std::move(y);
    if (want_indices) ctx.outputs[1] = std::move(indices);
    return Status::ok();
  }

 private:
  PoolKind kind_;
  WindowAttrs attrs_;
  bool count_include_pad_;
  bool col_major_;
};

template <PoolKind kKind>
Status global_pool_compute(KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
  if (!is_dense_float(x->dtype())) return ctx.unsupported_error("X dtype " + std::string(dtype_name(x->dtype())) + " is not supported");
  if (x->rank() < 3) return ctx.error("X has shape " + shape_str(x->shape()) + ", expected rank >= 3");
  Shape out_shape = x->shape();
  for (size_t i = 2; i < out_shape.size(); ++i) out_shape[i] = 1;
  const int64_t planes = x->dim(0) * x->dim(1), plane = shape_numel(x->shape()) / std::max<int64_t>(planes, 1);
  Tensor y(x->dtype(), out_shape);
  if (x->dtype() == DType::kF64) {
    if (kKind == PoolKind::kMax) ref::global_max_pool<double>(planes, plane, x->data<double>(), y.mutable_data<double>());
    else ref::global_average_pool<double>(planes, plane, x->data<double>(), y.mutable_data<double>());
  } else {
    const Tensor xf = as_f32(*x);
    Tensor yf = x->dtype() == DType::kF32 ? y : Tensor(DType::kF32, out_shape);
    const float* xd = xf.data<float>();
    float* yd = yf.mutable_data<float>();
    parallel_items(planes, plane * planes >= 32768 ? ctx.num_threads : 1, [&](int64_t p) {
      const float* s = xd + p * plane;
      if (kKind == PoolKind::kMax) {
        float best = plane > 0 ? s[0] : 0.f;
        for (int64_t i = 1; i < plane; ++i) best = s[i] > best ? s[i] : best;
        yd[p] = best;
      } else {
        // 8 interleaved partial sums (vectorizable), combined in a fixed order.
        float part[8] = {};
        int64_t i = 0;
        for (; i + 8 <= plane; i += 8)
          for (int l = 0; l < 8; ++l) part[l] += s[i + l];
        float sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
        for (; i < plane; ++i) sum += s[i];
        yd[p] = plane > 0 ? sum / static_cast<float>(plane) : 0.f;
      }
    });
    if (x->dtype() != DType::kF32) y = narrow_from_f32(yf, x->dtype());
  }
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_max_pool(const KernelInfo& info) {
  BS_ASSIGN_OR_RETURN(WindowAttrs attrs, parse_window_attrs(info.node));
  const int64_t order = info.node.attr_int("storage_order", 0);
  if (order != 0 && order != 1)
    return invalid_model(info.node.describe() + ": storage_order " + std::to_string(order) + " is not 0 or 1");
  return std::unique_ptr<OpKernel>(new PoolKernel(PoolKind::kMax, std::move(attrs), false, order == 1));
}

Expected<std::unique_ptr<OpKernel>> make_average_pool(const KernelInfo& info) {
  BS_ASSIGN_OR_RETURN(WindowAttrs attrs, parse_window_attrs(info.node));
  const bool include = info.node.attr_int("count_include_pad", 0) != 0;
  return std::unique_ptr<OpKernel>(new PoolKernel(PoolKind::kAverage, std::move(attrs), include, false));
}

Expected<std::unique_ptr<OpKernel>> make_global_average_pool(const KernelInfo&) {
  return make_fn_kernel(&global_pool_compute<PoolKind::kAverage>);
}

Expected<std::unique_ptr<OpKernel>> make_global_max_pool(const KernelInfo&) {
  return make_fn_kernel(&global_pool_compute<PoolKind::kMax>);
}

}  // namespace bitsmith::kernels
