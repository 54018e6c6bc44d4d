// Gemm (ONNX opsets 1..): Y = alpha * op(A) * op(B) + beta * C, C broadcast to [M, N].
// f32 through sgemm (f16/bf16 widened), f64 through the reference. A constant B is packed once.
#include <memory>

#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/gemm_f32.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/ref/gemm_ref.h"

namespace bitsmith::kernels {
namespace {

class GemmKernel final : public OpKernel {
 public:
  GemmKernel(float alpha, float beta, bool trans_a, bool trans_b)
      : alpha_(alpha), beta_(beta), trans_a_(trans_a), trans_b_(trans_b) {}

  void prepack(const Tensor& b) {
    if (b.rank() != 2 || b.dtype() == DType::kF64) return;
    const Tensor bf = as_f32(b);
    const int64_t k = trans_b_ ? b.dim(1) : b.dim(0), n = trans_b_ ? b.dim(0) : b.dim(1);
    packed_b_ = std::make_shared<PackedB>(MatView{bf.data<float>(), b.dim(1), trans_b_}, k, n);
    packed_shape_ = b.shape();
  }

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
    BS_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 1, "B"));
    const Tensor* c = ctx.input(2);
    if (!is_dense_float(a->dtype())) return ctx.unsupported_error("A dtype " + std::string(dtype_name(a->dtype())) + " is not supported");
    BS_TRY(expect_dtype(ctx, *b, a->dtype(), "B"));
    if (c) BS_TRY(expect_dtype(ctx, *c, a->dtype(), "C"));
    if (a->rank() != 2 || b->rank() != 2)
      return ctx.error("A " + shape_str(a->shape()) + " and B " + shape_str(b->shape()) + " must be 2-D");
    const int64_t m = trans_a_ ? a->dim(1) : a->dim(0), k = trans_a_ ? a->dim(0) : a->dim(1);
    const int64_t kb = trans_b_ ? b->dim(1) : b->dim(0), n = trans_b_ ? b->dim(0) : b->dim(1);
    if (k != kb)
      return ctx.error("op(A) is [" + std::to_string(m) + ", " + std::to_string(k) + "] but op(B) is [" +
                       std::to_string(kb) + ", " + std::to_string(n) + "] (A " + shape_str(a->shape()) +
                       ", B " + shape_str(b->shape()) + ")");
    if (c) {
      const Shape& cs = c->shape();
      const bool ok = cs.size() <= 2 && (cs.empty() || cs.back() == 1 || cs.back() == n) &&
                      (cs.size() < 2 || cs[0] == 1 || cs[0] == m);
      if (!ok) return ctx.error("C " + shape_str(cs) + " does not broadcast to [" + std::to_string(m) + ", " + std::to_string(n) + "]");
    }
    Tensor y = Tensor::uninitialized(a->dtype(), {m, n});  // every element written below
    if (a->dtype() == DType::kF64) {
      ref::gemm<double>(trans_a_, trans_b_, m, n, k, alpha_, a->data<double>(), b->data<double>(), beta_,
                        c ? c->data<double>() : nullptr, c ? c->shape() : Shape{}, y.mutable_data<double>());
    } else {
      const Tensor af = as_f32(*a);
      Tensor yf = a->dtype() == DType::kF32 ? y : Tensor(DType::kF32, y.shape());
      float* yd = yf.mutable_data<float>();
      float beta = 0.f;
      if (c && beta_ != 0.f && m * n > 0) {
        const Tensor cf = as_f32(*c);
        const float* cd = cf.data<float>();
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) yd[i * n + j] = cd[ref::gemm_c_offset(c->shape(), i, j)];
        beta = beta_;
      }
      GemmA ga{MatView{af.data<float>(), a->dim(1), trans_a_}};
      Tensor bf;
      GemmB gb;
      if (packed_b_ && packed_shape_ == b->shape()) {
        gb.packed = packed_b_.get();
      } else {
        bf = as_f32(*b);
        gb.view = MatView{bf.data<float>(), b->dim(1), trans_b_};
      }
      sgemm(m, n, k, alpha_, ga, gb, beta, yd, n, ctx.num_threads);
      if (a->dtype() != DType::kF32) y = narrow_from_f32(yf, a->dtype());
    }
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  float alpha_, beta_;
  bool trans_a_, trans_b_;
  std::shared_ptr<const PackedB> packed_b_;
  Shape packed_shape_;
};

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_gemm(const KernelInfo& info) {
  const Node& node = info.node;
  auto kernel = std::make_unique<GemmKernel>(node.attr_float("alpha", 1.f), node.attr_float("beta", 1.f),
                                             node.attr_int("transA", 0) != 0, node.attr_int("transB", 0) != 0);
  if (const Tensor* b = info.constant_input(1); b && is_dense_float(b->dtype())) kernel->prepack(*b);
  return std::unique_ptr<OpKernel>(std::move(kernel));
}

}  // namespace bitsmith::kernels
