// Internal op "bitsmith" FusedMatMul, made by the executor's float chain fusion
// (src/runtime/float_fusion.h) from MatMul -> Add(bias) [-> GELU] [-> Add(Z)]:
//
//   FusedMatMul(A f32 [..., M, K], W f32 [K, N], bias f32 [N], Z f32 [..., M, N]?) -> Y
//   Y = act(A W + bias) + Z      act: none, or (activation="GeluErf")
//       gelu(v) = (v * (erf(v / gelu_div) + gelu_add)) * gelu_mul
//
// Rows of A are cut into blocks (each computed by sgemm_st against W packed once at load); a
// block's epilogue (bias, GELU, Z) runs right after its GEMM while the block is in cache. Each
// step is the same f32 operation, in the same order, as the unfused node (this file is built
// with -ffp-contract=off so that no multiply and add merge into an FMA), and erf is the Erf
// kernel's own vectorized erf: bytes identical to the unfused chain for any thread count.
#include <algorithm>
#include <memory>
#include <optional>

#include "runtime/kernels/broadcast.h"
#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/eltwise_simd.h"
#include "runtime/kernels/gemm_f32.h"
#include "runtime/kernels/kernels.h"

namespace bitsmith::kernels {
namespace {

constexpr int64_t kBlockBytes = 256 * 1024;  // output block kept in L2 between GEMM and epilogue

struct GeluErf {
  float div = 0.f, add = 0.f, mul = 0.f;
};

class FusedMatMulKernel final : public OpKernel {
 public:
  FusedMatMulKernel(std::shared_ptr<const PackedB> w, Shape w_shape, std::vector<float> bias, bool gelu, GeluErf g)
      : w_(std::move(w)), w_shape_(std::move(w_shape)), bias_(std::move(bias)), gelu_(gelu), g_(g) {}

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
    BS_TRY(expect_dtype(ctx, *a, DType::kF32, "A"));
    const int64_t k = w_shape_[0], n = w_shape_[1];
    if (a->rank() < 2 || a->dim(-1) != k)
      return ctx.error("A has shape " + shape_str(a->shape()) + ", expected [..., M, " + std::to_string(k) + "]");
    Shape y_shape = a->shape();
    y_shape.back() = n;
    const int64_t m = a->numel() / std::max<int64_t>(k, 1);
    const Tensor* z = ctx.input(3);
    if (z) BS_TRY(expect_dtype(ctx, *z, DType::kF32, "Z"));
    const bool z_inline = z && z->shape() == y_shape;
    Tensor y = Tensor::uninitialized(DType::kF32, y_shape);
    float* yd = y.mutable_data<float>();
    const float* ad = a->data<float>();
    const float* zd = z_inline ? z->data<float>() : nullptr;
    const int64_t rows = std::clamp<int64_t>(kBlockBytes / (4 * std::max<int64_t>(n, 1)) / kGemmMr * kGemmMr, kGemmMr, 512);
    const int64_t blocks_min = std::max<int64_t>(1, (m + rows - 1) / rows);
    // A multiple of the thread count (static schedule: every thread gets as many blocks), with
    // boundaries on whole 6-row panels spread evenly over the rows.
    const int64_t threads = std::max(ctx.num_threads, 1), panels = (m + kGemmMr - 1) / kGemmMr;
    const int64_t items = m == 0 ? 0 : std::min<int64_t>((blocks_min + threads - 1) / threads * threads, panels);
    const auto boundary = [&](int64_t i) { return std::min(m, panels * i / items * kGemmMr); };
    parallel_items(items, ctx.num_threads, [&](int64_t item) {
      const int64_t r0 = boundary(item), r1 = boundary(item + 1);
      float* yb = yd + r0 * n;
      sgemm_st(r1 - r0, n, k, 1.f, GemmA{MatView{ad + r0 * k, k, false}}, GemmB{{}, w_.get(), 0}, 0.f, yb, n);
      epilogue(yb, zd ? zd + r0 * n : nullptr, r1 - r0, n);
    });
    if (z && !z_inline) {  // Z only broadcasts: add it unfused
      const std::optional<Shape> out = broadcast_shapes({y_shape, z->shape()});
      if (!out) return ctx.error("Z " + shape_str(z->shape()) + " does not broadcast to " + shape_str(y_shape));
      Tensor sum = Tensor::uninitialized(DType::kF32, *out);
      elt::binary_fast(y.data<float>(), y_shape, z->data<float>(), z->shape(), sum.mutable_data<float>(), *out,
                  [](float p, float q) { return p + q; }, ctx.num_threads);
      y = std::move(sum);
    }
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  // The chain's steps fused into two passes per row (constants in locals: stores through y could
  // otherwise alias them and force reloads).
  void epilogue(float* y, const float* z, int64_t rows, int64_t n) const {
    thread_local std::vector<float> t;
    if (gelu_ && t.size() < static_cast<size_t>(n)) t.resize(static_cast<size_t>(n));
    const float* b = bias_.data();
    const float div = g_.div, add = g_.add, mul = g_.mul;
    for (int64_t r = 0; r < rows; ++r) {
      float* yr = y + r * n;
      const float* zr = z ? z + r * n : nullptr;
      if (gelu_) {
        float* tr = t.data();
        for (int64_t j = 0; j < n; ++j) {
          const float v = b[j] + yr[j];
          yr[j] = v;
          tr[j] = v / div;
        }
        elt::simd::erf_f32(tr, tr, n);
        if (zr) {
          for (int64_t j = 0; j < n; ++j) yr[j] = ((yr[j] * (tr[j] + add)) * mul) + zr[j];
        } else {
          for (int64_t j = 0; j < n; ++j) yr[j] = (yr[j] * (tr[j] + add)) * mul;
        }
      } else if (zr) {
        for (int64_t j = 0; j < n; ++j) yr[j] = (b[j] + yr[j]) + zr[j];
      } else {
        for (int64_t j = 0; j < n; ++j) yr[j] = b[j] + yr[j];
      }
    }
  }

  std::shared_ptr<const PackedB> w_;
  Shape w_shape_;
  std::vector<float> bias_;
  bool gelu_;
  GeluErf g_;
};

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_fused_matmul(const KernelInfo& info) {
  const Tensor* w = info.constant_input(1);
  const Tensor* b = info.constant_input(2);
  if (!w || w->dtype() != DType::kF32 || w->rank() != 2)
    return invalid_model(info.node.describe() + ": W (input 1) must be a constant 2-D float tensor");
  if (!b || b->dtype() != DType::kF32 || b->rank() != 1 || b->dim(0) != w->dim(1))
    return invalid_model(info.node.describe() + ": bias (input 2) must be a constant float tensor [" +
                         std::to_string(w->dim(1)) + "]");
  const std::string act = info.node.attr_string("activation", "");
  if (!act.empty() && act != "GeluErf")
    return unsupported(info.node.describe() + ": activation \"" + act + "\" is not one of [\"\", GeluErf]");
  GeluErf g{info.node.attr_float("gelu_div", 1.4142135f), info.node.attr_float("gelu_add", 1.f),
            info.node.attr_float("gelu_mul", 0.5f)};
  auto packed = std::make_shared<PackedB>(MatView{w->data<float>(), w->dim(1), false}, w->dim(0), w->dim(1));
  const float* bd = b->data<float>();
  return std::unique_ptr<OpKernel>(std::make_unique<FusedMatMulKernel>(
      std::move(packed), w->shape(), std::vector<float>(bd, bd + b->dim(0)), !act.empty(), g));
}

}  // namespace bitsmith::kernels
