// LayerNormalization (opset 17): normalizes x over dims [axis, rank) (one row of
// cols = prod(dims[axis:]) values per leading index), then scales and shifts:
//   Y = (X - mean) / sqrt(var + epsilon) * Scale + B
// Scale and B broadcast onto dims[axis:]. Optional outputs Mean and InvStdDev have shape
// dims[:axis] + [1] * (rank - axis) and the dtype named by `stash_type` (default float).
// f32 rows take the fast path (rows spread over threads, fixed-order vector sums); f64 runs the
// double-precision reference; f16/bf16 are computed in f32.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/eltwise_simd.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/ref/rownorm_ref.h"

namespace bitsmith::kernels::elt {

void layernorm_rows_f32(const float* x, const float* scale, const float* bias, float* y, float* mean,
                        float* inv_std, int64_t rows, int64_t cols, float epsilon, int num_threads) {
  const int64_t rows_per_block = std::max<int64_t>(1, kEltBlock / std::max<int64_t>(cols, 1));
  const float inv_cols = 1.0f / static_cast<float>(cols);
  parallel_blocks(rows, rows_per_block, num_threads, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      const float m = simd::sum_f32(xr, cols) * inv_cols;
      const float var = simd::sum_sq_dev_f32(xr, cols, m) * inv_cols;
      const float is = 1.0f / std::sqrt(var + epsilon);
      if (bias) {
        for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - m) * is * scale[c] + bias[c];
      } else {
        for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - m) * is * scale[c];
      }
      if (mean) mean[r] = m;
      if (inv_std) inv_std[r] = is;
    }
  });
}

namespace {

class LayerNormKernel final : public OpKernel {
 public:
  LayerNormKernel(int64_t axis, float epsilon, DType stash) : axis_(axis), epsilon_(epsilon), stash_(stash) {}

  Status compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* bias = ctx.input(2);
    if (!x || !scale) return ctx.error("expects inputs X and Scale");
    const DType dt = x->dtype();
    if (scale->dtype() != dt || (bias && bias->dtype() != dt))
      return ctx.error("X, Scale and B must have the same dtype");
    const Shape& shape = x->shape();
    const int rank = x->rank();
    std::optional<int> axis = normalize_axis(axis_, rank);
    if (!axis) return ctx.error("axis " + std::to_string(axis_) + " is out of range for X shape " + shape_str(shape));
    const Shape norm_shape(shape.begin() + *axis, shape.end());
    for (const Tensor* t : {scale, bias}) {
      if (t && broadcast_shapes({norm_shape, t->shape()}) != norm_shape)
        return ctx.error("Scale/B shape " + shape_str(t->shape()) + " does not broadcast to " + shape_str(norm_shape));
    }
    const int64_t rows = dims_product(shape, 0, *axis);
    const int64_t cols = dims_product(shape, *axis, rank);
    Shape stat_shape(shape.begin(), shape.begin() + *axis);
    stat_shape.resize(shape.size(), 1);

    const Tensor xs = widen_to_f32(*x);
    Status s = dispatch_float(xs.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      const std::vector<T> sc = expand(widen_to_f32(*scale), norm_shape, ctx.num_threads, T{});
      const std::vector<T> bi = bias ? expand(widen_to_f32(*bias), norm_shape, ctx.num_threads, T{}) : std::vector<T>{};
      Tensor y = Tensor::uninitialized(xs.dtype(), shape);
      Tensor mean(xs.dtype(), stat_shape);
      Tensor inv_std(xs.dtype(), stat_shape);
      if constexpr (std::is_same_v<T, float>) {
        layernorm_rows_f32(xs.data<float>(), sc.data(), bias ? bi.data() : nullptr, y.mutable_data<float>(),
                           mean.mutable_data<float>(), inv_std.mutable_data<float>(), rows, cols, epsilon_,
                           ctx.num_threads);
      } else {
        layernorm_ref(xs.data<T>(), sc.data(), bias ? bi.data() : nullptr, y.mutable_data<T>(),
                      mean.mutable_data<double>(), inv_std.mutable_data<double>(), rows, cols,
                      static_cast<double>(epsilon_));
      }
      ctx.outputs[0] = is_half_dtype(dt) ? narrow_from_f32(y, dt) : y;
      if (ctx.outputs.size() > 1) ctx.outputs[1] = mean.dtype() == stash_ ? mean : convert_float(mean, stash_);
      if (ctx.outputs.size() > 2) ctx.outputs[2] = inv_std.dtype() == stash_ ? inv_std : convert_float(inv_std, stash_);
      return Status::ok();
    });
    return s.with_context(ctx.node.describe());
  }

 private:
  // t (already f32/f64 of type T) broadcast to norm_shape, flattened.
  template <class T>
  static std::vector<T> expand(const Tensor& t, const Shape& norm_shape, int threads, T) {
    std::vector<T> out(static_cast<size_t>(shape_numel(norm_shape)));
    broadcast_copy(t.data<T>(), t.shape(), out.data(), norm_shape, threads);
    return out;
  }

  int64_t axis_;
  float epsilon_;
  DType stash_;
};

}  // namespace

}  // namespace bitsmith::kernels::elt

namespace bitsmith::kernels {

using namespace elt;  // this file's kernels (factories below are declared in kernels.h)

Expected<std::unique_ptr<OpKernel>> elt_layernorm_factory(const KernelInfo& info) {
  const int64_t stash_code = info.node.attr_int("stash_type", 1);
  std::optional<DType> stash = dtype_from_onnx(static_cast<int>(stash_code));
  if (!stash || !(*stash == DType::kF32 || *stash == DType::kF64 || is_half_dtype(*stash)))
    return unsupported(info.node.describe() + ": stash_type " + std::to_string(stash_code) + " is not supported");
  return std::unique_ptr<OpKernel>(new LayerNormKernel(info.node.attr_int("axis", -1),
                                                       info.node.attr_float("epsilon", 1e-5f), *stash));
}

}  // namespace bitsmith::kernels
