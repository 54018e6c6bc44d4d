// Internal ops "bitsmith" MatMulF16Weight / GemmF16Weight: MatMul / Gemm whose B (input 1) is a
// 2-D float16 tensor, computed in f32 as if B had been Cast to float first. Made by the executor
// fusion of Cast(f16 initializer, to=FLOAT) -> MatMul / Gemm (src/runtime/f16_weight_fusion.h).
//
// B stays float16: the f32 GEMM (gemm_f32.h, GemmB::f16) widens it one packed panel (or, for
// a few rows of A, one row chunk) at a time, so no f32 copy of B is ever held. Widening is
// exact and the GEMM's per-element arithmetic is that of the f32 path, so results are byte-
// identical to the unfused Cast + MatMul / Gemm.
//
//   MatMulF16Weight(A f32 [..., M, K], B f16 [K, N]) -> Y f32 [..., M, N]   (numpy matmul)
//   GemmF16Weight(A f32, B f16, C f32?) -> Y f32 [M, N]; attributes alpha, beta, transA, transB
//     as ONNX Gemm.
#include <memory>

#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/gemm_f32.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/ref/gemm_ref.h"
#include "runtime/kernels/ref/matmul_ref.h"

namespace bitsmith::kernels {
namespace {

// B (input 1): a 2-D float16 tensor.
Expected<const Tensor*> f16_weight(const KernelContext& ctx) {
  BS_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 1, "B"));
  BS_TRY(expect_dtype(ctx, *b, DType::kF16, "B"));
  if (b->rank() != 2) return ctx.error("B " + shape_str(b->shape()) + " must be 2-D");
  return b;
}

const uint16_t* f16_data(const Tensor& t) { return reinterpret_cast<const uint16_t*>(t.bytes()); }

class MatMulF16WeightKernel final : public OpKernel {
 public:
  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
    BS_ASSIGN_OR_RETURN(const Tensor* b, f16_weight(ctx));
    BS_TRY(expect_dtype(ctx, *a, DType::kF32, "A"));
    Expected<MatMulPlan> plan = plan_matmul(a->shape(), b->shape());
    if (!plan) return ctx.error(plan.status().message());
    const MatMulPlan& p = *plan;
    Tensor y(DType::kF32, p.out_shape);
    const float* ad = a->data<float>();
    float* yd = y.mutable_data<float>();
    GemmB gb{MatView{nullptr, p.n, false}};
    gb.f16 = f16_data(*b);
    if (p.b_shared) {
      sgemm(p.batches() * p.m, p.n, p.k, 1.f, GemmA{MatView{ad, p.k, false}}, gb, 0.f, yd, p.n, ctx.num_threads);
    } else {  // B is one matrix (b_offsets all 0); a's batches are not contiguous
      const auto one = [&](int64_t bi, int threads) {
        sgemm(p.m, p.n, p.k, 1.f, GemmA{MatView{ad + p.a_offsets[bi], p.k, false}}, gb, 0.f, yd + bi * p.m * p.n, p.n,
              threads);
      };
      if (p.batches() >= ctx.num_threads) {
        parallel_items(p.batches(), ctx.num_threads, [&](int64_t bi) { one(bi, 1); });
      } else {
        for (int64_t bi = 0; bi < p.batches(); ++bi) one(bi, ctx.num_threads);
      }
    }
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }
};

class GemmF16WeightKernel final : public OpKernel {
 public:
  GemmF16WeightKernel(float alpha, float beta, bool trans_a, bool trans_b)
      : alpha_(alpha), beta_(beta), trans_a_(trans_a), trans_b_(trans_b) {}

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
    BS_ASSIGN_OR_RETURN(const Tensor* b, f16_weight(ctx));
    const Tensor* c = ctx.input(2);
    BS_TRY(expect_dtype(ctx, *a, DType::kF32, "A"));
    if (c) BS_TRY(expect_dtype(ctx, *c, DType::kF32, "C"));
    if (a->rank() != 2) return ctx.error("A " + shape_str(a->shape()) + " must be 2-D");
    const int64_t m = trans_a_ ? a->dim(1) : a->dim(0), k = trans_a_ ? a->dim(0) : a->dim(1);
    const int64_t kb = trans_b_ ? b->dim(1) : b->dim(0), n = trans_b_ ? b->dim(0) : b->dim(1);
    if (k != kb)
      return ctx.error("op(A) is [" + std::to_string(m) + ", " + std::to_string(k) + "] but op(B) is [" +
                       std::to_string(kb) + ", " + std::to_string(n) + "] (A " + shape_str(a->shape()) + ", B " +
                       shape_str(b->shape()) + ")");
    if (c) {
      const Shape& cs = c->shape();
      const bool ok = cs.size() <= 2 && (cs.empty() || cs.back() == 1 || cs.back() == n) &&
                      (cs.size() < 2 || cs[0] == 1 || cs[0] == m);
      if (!ok)
        return ctx.error("C " + shape_str(cs) + " does not broadcast to [" + std::to_string(m) + ", " +
                         std::to_string(n) + "]");
    }
    Tensor y(DType::kF32, {m, n});
    float* yd = y.mutable_data<float>();
    float beta = 0.f;
    if (c && beta_ != 0.f && m * n > 0) {  // as the Gemm kernel: Y = C broadcast, then beta * Y
      const float* cd = c->data<float>();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) yd[i * n + j] = cd[ref::gemm_c_offset(c->shape(), i, j)];
      beta = beta_;
    }
    GemmB gb{MatView{nullptr, b->dim(1), trans_b_}};
    gb.f16 = f16_data(*b);
    sgemm(m, n, k, alpha_, GemmA{MatView{a->data<float>(), a->dim(1), trans_a_}}, gb, beta, yd, n, ctx.num_threads);
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  float alpha_, beta_;
  bool trans_a_, trans_b_;
};

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_matmul_f16_weight(const KernelInfo&) {
  return std::unique_ptr<OpKernel>(std::make_unique<MatMulF16WeightKernel>());
}

Expected<std::unique_ptr<OpKernel>> make_gemm_f16_weight(const KernelInfo& info) {
  const Node& node = info.node;
  return std::unique_ptr<OpKernel>(std::make_unique<GemmF16WeightKernel>(
      node.attr_float("alpha", 1.f), node.attr_float("beta", 1.f), node.attr_int("transA", 0) != 0,
      node.attr_int("transB", 0) != 0));
}

}  // namespace bitsmith::kernels
