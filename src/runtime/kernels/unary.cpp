// Unary maths ops (Abs, Neg, Sign, Sqrt, Reciprocal, Exp, Log, Floor, Ceil, Round, Erf and the
// trigonometric family) and the unary engine that activation.cpp also builds on.
//
// f32 runs unary_f32_fast() over fixed blocks (vectorized loops; exp/erf/tanh/sigmoid/gelu via
// eltwise_simd.h); f16/bf16 are computed in f32 and rounded back; f64 and integers run the
// scalar reference (ref/eltwise_ref.h).
#include <cmath>
#include <string>
#include <utility>

#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/eltwise_simd.h"
#include "runtime/kernels/kernels.h"

namespace bitsmith::kernels::elt {

void unary_f32_fast(UnaryOp op, const UnaryParams& p, const float* x, float* y, int64_t n) {
  const float alpha = static_cast<float>(p.alpha);
  const float beta = static_cast<float>(p.beta);
  switch (op) {
    case UnaryOp::kAbs:
      for (int64_t i = 0; i < n; ++i) y[i] = std::fabs(x[i]);
      return;
    case UnaryOp::kNeg:
      for (int64_t i = 0; i < n; ++i) y[i] = -x[i];
      return;
    case UnaryOp::kReciprocal:
      for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / x[i];
      return;
    case UnaryOp::kFloor:
      for (int64_t i = 0; i < n; ++i) y[i] = std::floor(x[i]);
      return;
    case UnaryOp::kCeil:
      for (int64_t i = 0; i < n; ++i) y[i] = std::ceil(x[i]);
      return;
    case UnaryOp::kRound:
      for (int64_t i = 0; i < n; ++i) y[i] = std::nearbyint(x[i]);
      return;
    case UnaryOp::kExp: simd::exp_f32(x, y, n); return;
    case UnaryOp::kErf: simd::erf_f32(x, y, n); return;
    case UnaryOp::kSigmoid: simd::sigmoid_f32(x, y, n); return;
    case UnaryOp::kTanh: simd::tanh_f32(x, y, n); return;
    case UnaryOp::kGeluErf: simd::gelu_erf_f32(x, y, n); return;
    case UnaryOp::kGeluTanh: simd::gelu_tanh_f32(x, y, n); return;
    case UnaryOp::kRelu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
      return;
    case UnaryOp::kLeakyRelu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? alpha * x[i] : x[i];
      return;
    case UnaryOp::kThresholdedRelu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] > alpha ? x[i] : 0.0f;
      return;
    case UnaryOp::kHardSigmoid:
      for (int64_t i = 0; i < n; ++i) y[i] = std::max(0.0f, std::min(1.0f, alpha * x[i] + beta));
      return;
    case UnaryOp::kHardSwish:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] * std::max(0.0f, std::min(1.0f, x[i] * (1.0f / 6.0f) + 0.5f));
      return;
    case UnaryOp::kSoftsign:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::fabs(x[i]));
      return;
    default:  // the rest (sqrt, log, trig, elu family, softplus, shrink, sign): scalar
      for (int64_t i = 0; i < n; ++i) y[i] = unary_value(op, x[i], p);
      return;
  }
}

namespace {

void unary_f32_parallel(UnaryOp op, const UnaryParams& p, const float* x, float* y, int64_t n, int threads) {
  parallel_blocks(n, kEltBlock, threads, [&](int64_t b, int64_t e) { unary_f32_fast(op, p, x + b, y + b, e - b); });
}

class UnaryKernel final : public OpKernel {
 public:
  UnaryKernel(UnaryOp op, const UnaryParams& p) : op_(op), p_(p) {}
  Status compute(KernelContext& ctx) override { return run_unary(ctx, op_, p_); }

 private:
  UnaryOp op_;
  UnaryParams p_;
};

struct NamedUnary {
  const char* op_type;
  UnaryOp op;
};
constexpr NamedUnary kMathOps[] = {
    {"Abs", UnaryOp::kAbs},     {"Neg", UnaryOp::kNeg},     {"Sign", UnaryOp::kSign},
    {"Sqrt", UnaryOp::kSqrt},   {"Reciprocal", UnaryOp::kReciprocal},
    {"Exp", UnaryOp::kExp},     {"Log", UnaryOp::kLog},     {"Floor", UnaryOp::kFloor},
    {"Ceil", UnaryOp::kCeil},   {"Round", UnaryOp::kRound}, {"Erf", UnaryOp::kErf},
    {"Sin", UnaryOp::kSin},     {"Cos", UnaryOp::kCos},     {"Tan", UnaryOp::kTan},
    {"Asin", UnaryOp::kAsin},   {"Acos", UnaryOp::kAcos},   {"Atan", UnaryOp::kAtan},
    {"Sinh", UnaryOp::kSinh},   {"Cosh", UnaryOp::kCosh},   {"Asinh", UnaryOp::kAsinh},
    {"Acosh", UnaryOp::kAcosh}, {"Atanh", UnaryOp::kAtanh},
};

}  // namespace

Status run_unary(KernelContext& ctx, UnaryOp op, const UnaryParams& p) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("input 0 is missing");
  const DType dt = x->dtype();
  const int64_t n = x->numel();
  if (dt == DType::kF32 || is_half_dtype(dt)) {
    const Tensor xf = widen_to_f32(*x);
    Tensor yf = Tensor::uninitialized(DType::kF32, x->shape());
    unary_f32_parallel(op, p, xf.data<float>(), yf.mutable_data<float>(), n, ctx.num_threads);
    ctx.outputs[0] = dt == DType::kF32 ? yf : narrow_from_f32(yf, dt);
    return Status::ok();
  }
  if (!is_float(dt) && !unary_accepts_integers(op))
    return ctx.unsupported_error("input dtype " + std::string(dtype_name(dt)) + " is not supported (float expected)");
  Status s = dispatch_numeric(dt, [&](auto tag) -> Status {
    using T = decltype(tag);
    Tensor& y = alloc_output(ctx, 0, dt, x->shape());
    const T* xs = x->data<T>();
    T* ys = y.mutable_data<T>();
    parallel_blocks(n, kEltBlock, ctx.num_threads, [&](int64_t b, int64_t e) { unary_ref(op, p, xs + b, ys + b, e - b); });
    return Status::ok();
  });
  return s.with_context(ctx.node.describe());
}

std::unique_ptr<OpKernel> make_unary_kernel(UnaryOp op, const UnaryParams& p) {
  return std::make_unique<UnaryKernel>(op, p);
}

}  // namespace bitsmith::kernels::elt

namespace bitsmith::kernels {

using namespace elt;  // this file's kernels (factories below are declared in kernels.h)

Expected<std::unique_ptr<OpKernel>> elt_unary_factory(const KernelInfo& info) {
  for (const NamedUnary& u : kMathOps)
    if (info.node.op_type == u.op_type) return make_unary_kernel(u.op, UnaryParams{});
  return unsupported(info.node.describe() + ": not a unary maths op");
}

}  // namespace bitsmith::kernels
