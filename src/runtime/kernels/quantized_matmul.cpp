// MatMulInteger and QLinearMatMul (ONNX opsets 10 / 21), u8/i8 in any combination.
// acc = (A - a_zp) @ (B - b_zp) in int32, computed exactly on the f32 GEMM (quantized_common.h);
// QLinearMatMul then requantizes with multiplier a_scale[i] * b_scale[j] / y_scale.
// a_zp / a_scale: scalar or per row [M]; b_zp / b_scale: scalar or per column [N].
// A constant 2-D B with a constant zero point is packed once for the fast path below.
// Fast path (per-tensor a_zp / a_scale, one 2-D B shared by every batch): the u8 x s8 GEMM
// (gemm_u8s8.h) with the requantization fused into its epilogue; B constant is packed at load.
// Same bytes as the path below (exact sums, same requantize_value arithmetic).
#include <algorithm>
#include <memory>

#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/quantized_common.h"
#include "runtime/kernels/quantized_u8s8.h"
#include "runtime/kernels/ref/quantized_ref.h"

namespace bitsmith::kernels {
namespace {

bool is_8bit(DType t) { return t == DType::kU8 || t == DType::kI8; }

// Integer value of element i of an 8-bit tensor.
inline int32_t int8_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kU8 ? static_cast<int32_t>(t.data<uint8_t>()[i]) : static_cast<int32_t>(t.data<int8_t>()[i]);
}

// (B - b_zp[col]) as floats, same layout as B.
std::vector<float> shifted_b(const Tensor& b, const std::vector<int32_t>& zp, int64_t n) {
  std::vector<float> f(static_cast<size_t>(b.numel()));
  for (int64_t i = 0; i < b.numel(); ++i) f[i] = static_cast<float>(int8_at(b, i) - param_at(zp, i % n));
  return f;
}

struct PreparedB {
  Shape shape;
  std::vector<int32_t> zp;
  std::vector<PackedB> blocks;
};

// acc [batches * M, N] = (A - a_zp) @ (B - b_zp) per the plan.
void qmatmul_acc(const MatMulPlan& p, const Tensor& a, const std::vector<int32_t>& a_zp, const Tensor& b,
                 const std::vector<int32_t>& b_zp, const PreparedB* prepared, int32_t* acc, int num_threads) {
  const std::vector<float> bf = prepared ? std::vector<float>() : shifted_b(b, b_zp, p.n);
  const int64_t batches = p.b_shared ? 1 : p.batches(), rows = p.b_shared ? p.batches() * p.m : p.m;
  const int threads = std::max(num_threads, 1);
  int64_t rc = (rows + 2 * threads - 1) / (2 * threads);
  rc = std::clamp<int64_t>((rc + kGemmMr - 1) / kGemmMr * kGemmMr, kGemmMr, 96);
  const int64_t chunks = (rows + rc - 1) / rc;
  const double work = static_cast<double>(rows) * static_cast<double>(p.n) * static_cast<double>(p.k) * batches;
  parallel_items(batches * chunks, work >= 1e5 ? threads : 1, [&](int64_t item) {
    thread_local std::vector<float> af;
    const int64_t bi = item / chunks, r0 = (item % chunks) * rc, r1 = std::min(rows, r0 + rc);
    af.resize(static_cast<size_t>((r1 - r0) * p.k));
    for (int64_t r = r0; r < r1; ++r) {
      // Row r of the fused [batches * M, K] view, or of batch bi's [M, K] matrix.
      const int64_t a_off = p.b_shared ? p.a_offsets[r / p.m] + (r % p.m) * p.k : p.a_offsets[bi] + r * p.k;
      const int32_t z = param_at(a_zp, r % p.m);
      float* dst = af.data() + (r - r0) * p.k;
      for (int64_t q = 0; q < p.k; ++q) dst[q] = static_cast<float>(int8_at(a, a_off + q) - z);
    }
    IntGemmB gb;
    if (prepared) gb.blocks = &prepared->blocks;
    else gb.view = MatView{bf.data() + (p.b_shared ? 0 : p.b_offsets[bi]), p.n, false};
    int32_t* c = acc + (p.b_shared ? r0 : bi * p.m + r0) * p.n;
    igemm_exact_st(r1 - r0, p.n, p.k, IntGemmA{MatView{af.data(), p.k, false}}, gb, c, p.n);
  });
}

class QMatMulKernel final : public OpKernel {
 public:
  explicit QMatMulKernel(bool qlinear) : qlinear_(qlinear) {}

  // Index of B and of its zero point among the node inputs.
  size_t b_index() const { return qlinear_ ? 3 : 1; }
  size_t b_zp_index() const { return qlinear_ ? 5 : 3; }

  // Packs a constant B for the u8 x s8 fast path (the rare per-row a_zp case shifts B per call).
  void prepare(const Tensor& b, const Tensor* b_zp) {
    if (!is_8bit(b.dtype()) || b.rank() < 2 || b.numel() != b.dim(-2) * b.dim(-1)) return;
    if (b_zp && (b_zp->dtype() != b.dtype() || (b_zp->numel() != 1 && b_zp->numel() != b.dim(-1)))) return;
    const std::vector<int32_t> zp = b_zp ? int_values32(*b_zp) : std::vector<int32_t>{0};
    fast_ = std::make_shared<QWeightsU8S8>(prepare_qweights(b, zp, b.dim(-2), b.dim(-1), b.dim(-1), 1));
  }

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
    BS_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, b_index(), "B"));
    if (!is_8bit(a->dtype()) || !is_8bit(b->dtype()))
      return ctx.unsupported_error("A " + std::string(dtype_name(a->dtype())) + " / B " +
                                   std::string(dtype_name(b->dtype())) + ": only u8 / i8 are supported");
    Expected<MatMulPlan> plan = plan_matmul(a->shape(), b->shape());
    if (!plan) return ctx.error(plan.status().message());
    const MatMulPlan& p = *plan;
    const Tensor* a_zp_t = ctx.input(2);
    const Tensor* b_zp_t = ctx.input(b_zp_index());
    if (a_zp_t) {
      BS_TRY(expect_dtype(ctx, *a_zp_t, a->dtype(), "a_zero_point"));
      BS_TRY(check_param_count(ctx, *a_zp_t, p.m, "a_zero_point"));
    }
    if (b_zp_t) {
      BS_TRY(expect_dtype(ctx, *b_zp_t, b->dtype(), "b_zero_point"));
      BS_TRY(check_param_count(ctx, *b_zp_t, p.n, "b_zero_point"));
    }
    const std::vector<int32_t> a_zp = a_zp_t ? int_values32(*a_zp_t) : std::vector<int32_t>{0};
    const std::vector<int32_t> b_zp = b_zp_t ? int_values32(*b_zp_t) : std::vector<int32_t>{0};
    if (a_zp.size() == 1 && p.b_shared && (p.a_offsets.empty() || p.a_offsets[0] == 0) &&
        b->numel() == p.k * p.n && (!qlinear_ || (ctx.input(1) && ctx.input(1)->numel() == 1)))
      return compute_fast(ctx, p, *a, *b, a_zp[0], b_zp);
    const PreparedB* prepared = prepared_ && prepared_->shape == b->shape() && prepared_->zp == b_zp ? prepared_.get() : nullptr;
    Tensor acc(DType::kI32, p.out_shape);
    qmatmul_acc(p, *a, a_zp, *b, b_zp, prepared, acc.mutable_data<int32_t>(), ctx.num_threads);
    if (!qlinear_) {
      ctx.outputs[0] = std::move(acc);
      return Status::ok();
    }
    return requantize(ctx, p, acc);
  }

 private:
  Status compute_fast(KernelContext& ctx, const MatMulPlan& p, const Tensor& a, const Tensor& b, int32_t a_zp,
                      const std::vector<int32_t>& b_zp) {
    std::shared_ptr<const QWeightsU8S8> w = fast_;
    if (!w || w->shape != b.shape() || w->src_zp != b_zp)
      w = std::make_shared<QWeightsU8S8>(prepare_qweights(b, b_zp, p.k, p.n, p.n, 1));
    const int64_t rows = p.batches() * p.m;
    QActivationU8 act;
    activation_as_u8(a, rows, p.k, a_zp, act);
    QEpilogue ep;
    ep.a_zp = act.zp;
    ep.b_zp = w->all_zp_zero ? nullptr : w->zp.data();
    ep.ld_row = p.n;
    std::vector<float> mult;
    if (!qlinear_) {
      Tensor acc(DType::kI32, p.out_shape);
      ep.out = acc.mutable_data<int32_t>();
      qgemm_u8s8(rows, act.data, act.lda, w->packed, ep, ctx.num_threads);
      ctx.outputs[0] = std::move(acc);
      return Status::ok();
    }
    BS_ASSIGN_OR_RETURN(const Tensor* a_scale_t, required_input(ctx, 1, "a_scale"));
    BS_ASSIGN_OR_RETURN(const Tensor* b_scale_t, required_input(ctx, 4, "b_scale"));
    BS_ASSIGN_OR_RETURN(const Tensor* y_scale_t, required_input(ctx, 6, "y_scale"));
    const Tensor* y_zp_t = ctx.input(7);
    BS_TRY(check_param_count(ctx, *b_scale_t, p.n, "b_scale"));
    BS_TRY(check_param_count(ctx, *y_scale_t, 1, "y_scale"));
    const DType out_t = y_zp_t ? y_zp_t->dtype() : DType::kU8;
    if (!is_8bit(out_t)) return ctx.unsupported_error("y_zero_point dtype " + std::string(dtype_name(out_t)) + " is not supported");
    if (y_zp_t) BS_TRY(check_param_count(ctx, *y_zp_t, 1, "y_zero_point"));
    const float as = scale_values(*a_scale_t)[0], ys = scale_values(*y_scale_t)[0];
    const std::vector<float> bs = scale_values(*b_scale_t);
    mult.resize(static_cast<size_t>(p.n));
    for (int64_t j = 0; j < p.n; ++j) mult[j] = requant_multiplier(as, param_at(bs, j), ys);
    ep.kind = QEpilogue::Kind::kQuantized;
    ep.multiplier = mult.data();
    ep.zp = y_zp_t ? int_values32(*y_zp_t)[0] : 0;
    quant_range(out_t, ep.qmin, ep.qmax);
    ep.out_signed = out_t == DType::kI8;
    Tensor y(out_t, p.out_shape);
    ep.out = y.mutable_bytes();
    qgemm_u8s8(rows, act.data, act.lda, w->packed, ep, ctx.num_threads);
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

  // QLinearMatMul inputs: 1 a_scale, 4 b_scale, 6 y_scale, 7 y_zero_point.
  Status requantize(KernelContext& ctx, const MatMulPlan& p, const Tensor& acc) {
    BS_ASSIGN_OR_RETURN(const Tensor* a_scale_t, required_input(ctx, 1, "a_scale"));
    BS_ASSIGN_OR_RETURN(const Tensor* b_scale_t, required_input(ctx, 4, "b_scale"));
    BS_ASSIGN_OR_RETURN(const Tensor* y_scale_t, required_input(ctx, 6, "y_scale"));
    const Tensor* y_zp_t = ctx.input(7);
    BS_TRY(check_param_count(ctx, *a_scale_t, p.m, "a_scale"));
    BS_TRY(check_param_count(ctx, *b_scale_t, p.n, "b_scale"));
    BS_TRY(check_param_count(ctx, *y_scale_t, 1, "y_scale"));
    const DType out_t = y_zp_t ? y_zp_t->dtype() : DType::kU8;
    if (!is_8bit(out_t)) return ctx.unsupported_error("y_zero_point dtype " + std::string(dtype_name(out_t)) + " is not supported");
    if (y_zp_t) BS_TRY(check_param_count(ctx, *y_zp_t, 1, "y_zero_point"));
    const std::vector<float> as = scale_values(*a_scale_t), bs = scale_values(*b_scale_t);
    const float ys = scale_values(*y_scale_t)[0];
    const int32_t yz = y_zp_t ? int_values32(*y_zp_t)[0] : 0;
    int32_t qmin = 0, qmax = 0;
    quant_range(out_t, qmin, qmax);
    Tensor y(out_t, p.out_shape);
    const int32_t* ad = acc.data<int32_t>();
    const int64_t rows = acc.numel() / std::max<int64_t>(p.n, 1);
    std::byte* out = y.mutable_bytes();
    for (int64_t r = 0; r < rows; ++r) {
      const float sa = param_at(as, r % p.m);
      for (int64_t j = 0; j < p.n; ++j) {
        const int32_t q = requantize_value(ad[r * p.n + j], requant_multiplier(sa, param_at(bs, j), ys), yz, qmin, qmax);
        store_int(out_t, r * p.n + j, q, out);
      }
    }
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

  bool qlinear_;
  std::shared_ptr<const PreparedB> prepared_;
  std::shared_ptr<const QWeightsU8S8> fast_;
};

Expected<std::unique_ptr<OpKernel>> make_qmatmul(const KernelInfo& info, bool qlinear) {
  auto kernel = std::make_unique<QMatMulKernel>(qlinear);
  const Tensor* b = info.constant_input(kernel->b_index());
  const Tensor* b_zp = info.constant_input(kernel->b_zp_index());
  const bool zp_ok = b_zp || info.node.inputs.size() <= kernel->b_zp_index() || info.node.inputs[kernel->b_zp_index()].empty();
  if (b && zp_ok) kernel->prepare(*b, b_zp);
  return std::unique_ptr<OpKernel>(std::move(kernel));
}

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_matmul_integer(const KernelInfo& info) { return make_qmatmul(info, false); }

Expected<std::unique_ptr<OpKernel>> make_qlinear_matmul(const KernelInfo& info) { return make_qmatmul(info, true); }

}  // namespace bitsmith::kernels
