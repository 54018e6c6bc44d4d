// MatMul (ONNX opsets 1..): numpy matmul with batch broadcasting and 1-D operands.
// f32 through sgemm (f16/bf16 widened); f64 and integers through the reference. A constant
// 2-D (or batch-1) B is packed once; when B is shared by all batches and A is contiguous, the
// batches fuse into one [batches * M, K] x [K, N] product.
#include <memory>

#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/gemm_f32.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/ref/matmul_ref.h"

namespace bitsmith::kernels {
namespace {

bool is_matmul_int(DType t) {
  return t == DType::kI32 || t == DType::kI64 || t == DType::kU32 || t == DType::kU64;
}

class MatMulKernel final : public OpKernel {
 public:
  // Packs a constant B whose batch dims are all 1 (a [K, N] matrix).
  void prepack(const Tensor& b) {
    if (b.rank() < 2 || b.dtype() == DType::kF64 || shape_numel(b.shape()) != b.dim(-2) * b.dim(-1)) return;
    const Tensor bf = as_f32(b);
    packed_b_ = std::make_shared<PackedB>(MatView{bf.data<float>(), b.dim(-1), false}, b.dim(-2), b.dim(-1));
    packed_shape_ = b.shape();
  }

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
    BS_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 1, "B"));
    BS_TRY(expect_dtype(ctx, *b, a->dtype(), "B"));
    Expected<MatMulPlan> plan = plan_matmul(a->shape(), b->shape());
    if (!plan) return ctx.error(plan.status().message());
    const MatMulPlan& p = *plan;
    Tensor y = Tensor::uninitialized(a->dtype(), p.out_shape);  // every element written below
    if (is_matmul_int(a->dtype()) || a->dtype() == DType::kF64) {
      BS_TRY(dispatch_numeric(a->dtype(), [&](auto tag) -> Status {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, double> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t> ||
                      std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>)
          ref::matmul<T>(p, a->data<T>(), b->data<T>(), y.mutable_data<T>());
        return Status::ok();
      }));
    } else if (a->dtype() == DType::kF32 || a->dtype() == DType::kF16 || a->dtype() == DType::kBF16) {
      const Tensor af = as_f32(*a);
      Tensor yf = a->dtype() == DType::kF32 ? y : Tensor(DType::kF32, y.shape());
      const PackedB* pb = packed_b_ && packed_shape_ == b->shape() ? packed_b_.get() : nullptr;
      const Tensor bf = pb ? Tensor() : as_f32(*b);
      run_f32(p, af.data<float>(), pb, pb ? nullptr : bf.data<float>(), yf.mutable_data<float>(), ctx.num_threads);
      if (a->dtype() != DType::kF32) y = narrow_from_f32(yf, a->dtype());
    } else {
      return ctx.unsupported_error("dtype " + std::string(dtype_name(a->dtype())) + " is not supported");
    }
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  static void run_f32(const MatMulPlan& p, const float* a, const PackedB* pb, const float* b, float* y,
                      int num_threads) {
    const GemmB shared_b = pb ? GemmB{{}, pb, 0} : GemmB{MatView{b, p.n, false}};
    if (p.b_shared) {
      sgemm(p.batches() * p.m, p.n, p.k, 1.f, GemmA{MatView{a, p.k, false}}, shared_b, 0.f, y, p.n, num_threads);
      return;
    }
    const auto one = [&](int64_t bi, int threads) {
      const GemmB gb = pb ? shared_b : GemmB{MatView{b + p.b_offsets[bi], p.n, false}};
      sgemm(p.m, p.n, p.k, 1.f, GemmA{MatView{a + p.a_offsets[bi], p.k, false}}, gb, 0.f, y + bi * p.m * p.n,
            p.n, threads);
    };
    if (p.batches() >= num_threads) {
      parallel_items(p.batches(), num_threads, [&](int64_t bi) { one(bi, 1); });
    } else {
      for (int64_t bi = 0; bi < p.batches(); ++bi) one(bi, num_threads);
    }
  }

  std::shared_ptr<const PackedB> packed_b_;
  Shape packed_shape_;
};

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_matmul(const KernelInfo& info) {
  auto kernel = std::make_unique<MatMulKernel>();
  if (const Tensor* b = info.constant_input(1);
      b && (b->dtype() == DType::kF32 || b->dtype() == DType::kF16 || b->dtype() == DType::kBF16))
    kernel->prepack(*b);
  return std::unique_ptr<OpKernel>(std::move(kernel));
}

}  // namespace bitsmith::kernels
