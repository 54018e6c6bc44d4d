// com.microsoft QGemm (ONNX Runtime contrib op), the kernel the executor's QDQ fusion uses for
// DequantizeLinear -> Gemm / MatMul (-> QuantizeLinear) units:
//   inputs  A (u8/s8) [M, K], a_scale (scalar), a_zero_point (scalar, optional),
//           B (u8/s8) [K, N] ([N, K] with transB), b_scale (scalar or [N]),
//           b_zero_point (scalar or [N], optional), C (int32 [N] or scalar, optional; scale
//           a_scale * b_scale, zero point 0), y_scale (optional), y_zero_point (optional)
//   attrs   alpha (default 1), transA (only 0), transB
//   output  y_scale given: requantized (u8/s8 as y_zero_point, u8 when absent) with
//           multiplier alpha * a_scale * b_scale[j] / y_scale (requantize_value arithmetic);
//           otherwise f32: fma(float(acc), alpha * a_scale * b_scale[j], 0) i.e. float(acc) * scale[j].
//   acc = sum_k (A - a_zp)(B - b_zp[j]) + C[j], exact int32 (u8 x s8 GEMM, gemm_u8s8.h).
// A constant B with a constant zero point is packed once at load.
#include <memory>
#include <vector>

#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/quantized_common.h"
#include "runtime/kernels/quantized_u8s8.h"
#include "runtime/kernels/ref/quantized_ref.h"

namespace bitsmith::kernels {
namespace {

bool is_8bit(DType t) { return t == DType::kU8 || t == DType::kI8; }

class QGemmKernel final : public OpKernel {
 public:
  QGemmKernel(float alpha, bool trans_b) : alpha_(alpha), trans_b_(trans_b) {}

  void prepare(const Tensor& b, const Tensor* b_zp) {
    if (!is_8bit(b.dtype()) || b.rank() != 2) return;
    const int64_t n = trans_b_ ? b.dim(0) : b.dim(1);
    if (b_zp && (b_zp->dtype() != b.dtype() || (b_zp->numel() != 1 && b_zp->numel() != n))) return;
    weights_ = std::make_shared<QWeightsU8S8>(make_weights(b, b_zp ? int_values32(*b_zp) : std::vector<int32_t>{0}));
  }

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
    BS_ASSIGN_OR_RETURN(const Tensor* a_scale, required_input(ctx, 1, "a_scale"));
    BS_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 3, "B"));
    BS_ASSIGN_OR_RETURN(const Tensor* b_scale, required_input(ctx, 4, "b_scale"));
    const Tensor *a_zp_t = ctx.input(2), *b_zp_t = ctx.input(5), *c_t = ctx.input(6);
    const Tensor *y_scale = ctx.input(7), *y_zp_t = ctx.input(8);
    if (!is_8bit(a->dtype()) || !is_8bit(b->dtype()))
      return ctx.unsupported_error("A " + std::string(dtype_name(a->dtype())) + " / B " + std::string(dtype_name(b->dtype())) +
                                   ": only u8 / i8 are supported");
    if (a->rank() != 2 || b->rank() != 2)
      return ctx.error("A " + shape_str(a->shape()) + " and B " + shape_str(b->shape()) + " must be 2-D");
    const int64_t m = a->dim(0), k = a->dim(1);
    const int64_t bk = trans_b_ ? b->dim(1) : b->dim(0), n = trans_b_ ? b->dim(0) : b->dim(1);
    if (bk != k)
      return ctx.error("A " + shape_str(a->shape()) + " and B " + shape_str(b->shape()) + (trans_b_ ? " (transB)" : "") +
                       " do not agree on K");
    BS_TRY(check_param_count(ctx, *a_scale, 1, "a_scale"));
    BS_TRY(check_param_count(ctx, *b_scale, n, "b_scale"));
    if (a_zp_t) {
      BS_TRY(expect_dtype(ctx, *a_zp_t, a->dtype(), "a_zero_point"));
      BS_TRY(check_param_count(ctx, *a_zp_t, 1, "a_zero_point"));
    }
    if (b_zp_t) {
      BS_TRY(expect_dtype(ctx, *b_zp_t, b->dtype(), "b_zero_point"));
      BS_TRY(check_param_count(ctx, *b_zp_t, n, "b_zero_point"));
    }
    if (c_t) {
      BS_TRY(expect_dtype(ctx, *c_t, DType::kI32, "C"));
      if (c_t->numel() != 1 && !(c_t->rank() == 1 && c_t->dim(0) == n))
        return ctx.unsupported_error("C has shape " + shape_str(c_t->shape()) + "; supported: scalar or [" +
                                     std::to_string(n) + "]");
    }
    const std::vector<int32_t> b_zp = b_zp_t ? int_values32(*b_zp_t) : std::vector<int32_t>{0};
    std::shared_ptr<const QWeightsU8S8> w = weights_;
    if (!w || w->shape != b->shape() || w->src_zp != b_zp) w = std::make_shared<QWeightsU8S8>(make_weights(*b, b_zp));

    QActivationU8 act;
    activation_as_u8(*a, m, k, a_zp_t ? int_values32(*a_zp_t)[0] : 0, act);
    std::vector<int32_t> bias;
    if (c_t) {
      const std::vector<int32_t> c = int_values32(*c_t);
      bias.resize(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j) bias[j] = param_at(c, j);
    }
    QEpilogue ep;
    ep.a_zp = act.zp;
    ep.b_zp = w->all_zp_zero ? nullptr : w->zp.data();
    ep.bias = c_t ? bias.data() : nullptr;
    ep.ld_row = n;
    const float sa = scale_values(*a_scale)[0];
    const std::vector<float> sb = scale_values(*b_scale);
    std::vector<float> per_col(static_cast<size_t>(n));
    Tensor y;
    if (y_scale) {
      BS_TRY(check_param_count(ctx, *y_scale, 1, "y_scale"));
      const DType out_t = y_zp_t ? y_zp_t->dtype() : DType::kU8;
      if (!is_8bit(out_t)) return ctx.unsupported_error("y_zero_point dtype " + std::string(dtype_name(out_t)) + " is not supported");
      if (y_zp_t) BS_TRY(check_param_count(ctx, *y_zp_t, 1, "y_zero_point"));
      const float sy = scale_values(*y_scale)[0];
      for (int64_t j = 0; j < n; ++j)
        per_col[j] = alpha_ == 1.f ? requant_multiplier(sa, param_at(sb, j), sy) : alpha_ * sa * param_at(sb, j) / sy;
      ep.kind = QEpilogue::Kind::kQuantized;
      ep.multiplier = per_col.data();
      ep.zp = y_zp_t ? int_values32(*y_zp_t)[0] : 0;
      quant_range(out_t, ep.qmin, ep.qmax);
      ep.out_signed = out_t == DType::kI8;
      y = Tensor(out_t, {m, n});
    } else {
      for (int64_t j = 0; j < n; ++j) per_col[j] = alpha_ * sa * param_at(sb, j);
      ep.kind = QEpilogue::Kind::kFloat;
      ep.scale = per_col.data();
      y = Tensor(DType::kF32, {m, n});
    }
    ep.out = y.mutable_bytes();
    qgemm_u8s8(m, act.data, act.lda, w->packed, ep, ctx.num_threads);
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  QWeightsU8S8 make_weights(const Tensor& b, const std::vector<int32_t>& zp) const {
    // B(k, j) = b[k, j], or b[j, k] with transB.
    return trans_b_ ? prepare_qweights(b, zp, b.dim(1), b.dim(0), 1, b.dim(1))
                    : prepare_qweights(b, zp, b.dim(0), b.dim(1), b.dim(1), 1);
  }

  float alpha_;
  bool trans_b_;
  std::shared_ptr<const QWeightsU8S8> weights_;
};

// com.microsoft MatMulIntegerToFloat: inputs A (u8/s8) [..., K], B (u8/s8) [K, N], a_scale
// (scalar), b_scale (scalar or [N]), a_zero_point (scalar, optional), b_zero_point (scalar or
// [N], optional), bias (f32 [N], optional); Y f32 [..., N] = fma(float(acc), a_scale * b_scale[j],
// bias[j]) (float(acc) * scale[j] without bias). Only a 2-D B (shared by all rows) is supported.
class MatMulIntegerToFloatKernel final : public OpKernel {
 public:
  void prepare(const Tensor& b, const Tensor* b_zp) {
    if (!is_8bit(b.dtype()) || b.rank() != 2) return;
    if (b_zp && (b_zp->dtype() != b.dtype() || (b_zp->numel() != 1 && b_zp->numel() != b.dim(1)))) return;
    weights_ = std::make_shared<QWeightsU8S8>(
        prepare_qweights(b, b_zp ? int_values32(*b_zp) : std::vector<int32_t>{0}, b.dim(0), b.dim(1), b.dim(1), 1));
  }

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
    BS_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 1, "B"));
    BS_ASSIGN_OR_RETURN(const Tensor* a_scale, required_input(ctx, 2, "a_scale"));
    BS_ASSIGN_OR_RETURN(const Tensor* b_scale, required_input(ctx, 3, "b_scale"));
    const Tensor *a_zp_t = ctx.input(4), *b_zp_t = ctx.input(5), *bias_t = ctx.input(6);
    if (!is_8bit(a->dtype()) || !is_8bit(b->dtype()))
      return ctx.unsupported_error("A " + std::string(dtype_name(a->dtype())) + " / B " + std::string(dtype_name(b->dtype())) +
                                   ": only u8 / i8 are supported");
    if (a->rank() < 1 || b->rank() != 2)
      return ctx.unsupported_error("A " + shape_str(a->shape()) + " x B " + shape_str(b->shape()) + ": only a 2-D B is supported");
    const int64_t k = b->dim(0), n = b->dim(1);
    if (a->dim(-1) != k) return ctx.error("A " + shape_str(a->shape()) + " and B " + shape_str(b->shape()) + " do not agree on K");
    BS_TRY(check_param_count(ctx, *a_scale, 1, "a_scale"));
    BS_TRY(check_param_count(ctx, *b_scale, n, "b_scale"));
    if (a_zp_t) {
      BS_TRY(expect_dtype(ctx, *a_zp_t, a->dtype(), "a_zero_point"));
      BS_TRY(check_param_count(ctx, *a_zp_t, 1, "a_zero_point"));
    }
    if (b_zp_t) {
      BS_TRY(expect_dtype(ctx, *b_zp_t, b->dtype(), "b_zero_point"));
      BS_TRY(check_param_count(ctx, *b_zp_t, n, "b_zero_point"));
    }
    std::vector<float> fbias;
    if (bias_t) {
      BS_TRY(expect_dtype(ctx, *bias_t, DType::kF32, "bias"));
      BS_TRY(check_param_count(ctx, *bias_t, n, "bias"));
      const std::vector<float> bv = scale_values(*bias_t);
      for (int64_t j = 0; j < n; ++j) fbias.push_back(param_at(bv, j));
    }
    const std::vector<int32_t> b_zp = b_zp_t ? int_values32(*b_zp_t) : std::vector<int32_t>{0};
    std::shared_ptr<const QWeightsU8S8> w = weights_;
    if (!w || w->shape != b->shape() || w->src_zp != b_zp)
      w = std::make_shared<QWeightsU8S8>(prepare_qweights(*b, b_zp, k, n, n, 1));
    const int64_t rows = k > 0 ? a->numel() / k : 0;
    QActivationU8 act;
    activation_as_u8(*a, rows, k, a_zp_t ? int_values32(*a_zp_t)[0] : 0, act);
    const float sa = scale_values(*a_scale)[0];
    const std::vector<float> sb = scale_values(*b_scale);
    std::vector<float> scale(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) scale[j] = sa * param_at(sb, j);
    Shape out_shape = a->shape();
    out_shape.back() = n;
    Tensor y(DType::kF32, out_shape);
    QEpilogue ep;
    ep.kind = QEpilogue::Kind::kFloat;
    ep.a_zp = act.zp;
    ep.b_zp = w->all_zp_zero ? nullptr : w->zp.data();
    ep.scale = scale.data();
    ep.fbias = bias_t ? fbias.data() : nullptr;
    ep.out = y.mutable_bytes();
    ep.ld_row = n;
    qgemm_u8s8(rows, act.data, act.lda, w->packed, ep, ctx.num_threads);
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  std::shared_ptr<const QWeightsU8S8> weights_;
};

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_matmul_integer_to_float(const KernelInfo& info) {
  auto kernel = std::make_unique<MatMulIntegerToFloatKernel>();
  const Tensor* b = info.constant_input(1);
  const Tensor* b_zp = info.constant_input(5);
  const bool zp_ok = b_zp || info.node.inputs.size() <= 5 || info.node.inputs[5].empty();
  if (b && zp_ok) kernel->prepare(*b, b_zp);
  return std::unique_ptr<OpKernel>(std::move(kernel));
}

Expected<std::unique_ptr<OpKernel>> make_qgemm(const KernelInfo& info) {
  if (info.node.attr_int("transA", 0) != 0)
    return unsupported(info.node.describe() + ": transA=1 is not supported");
  auto kernel = std::make_unique<QGemmKernel>(info.node.attr_float("alpha", 1.f), info.node.attr_int("transB", 0) != 0);
  const Tensor* b = info.constant_input(3);
  const Tensor* b_zp = info.constant_input(5);
  const bool zp_ok = b_zp || info.node.inputs.size() <= 5 || info.node.inputs[5].empty();
  if (b && zp_ok) kernel->prepare(*b, b_zp);
  return std::unique_ptr<OpKernel>(std::move(kernel));
}

}  // namespace bitsmith::kernels
