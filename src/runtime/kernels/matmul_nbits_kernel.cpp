// com.microsoft MatMulNBits (ONNX Runtime contrib op): Y [..., N] = A [..., K] @ dequant(B)^T (+ bias).
//   inputs  A (f32), B (uint8 [N, k_blocks, blob]), scales (f32, N * k_blocks values),
//           zero_points (optional; uint8 packed [N, ceil(k_blocks * bits / 8)]), g_idx (optional,
//           deprecated: refused), bias (optional, f32 [N])
//   attrs   K, N, bits (2, 4 or 8; default 4), block_size (>= 1), accuracy_level (ignored: always
//           f32 accumulation)
// The engine (matmul_nbits.h) unpacks blocks on the fly; numeric contract there.
#include <memory>
#include <string>

#include "runtime/kernels/dense_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/matmul_nbits.h"

namespace bitsmith::kernels {
namespace {

class MatMulNBitsKernel final : public OpKernel {
 public:
  MatMulNBitsKernel(int64_t k, int64_t n, int64_t bits, int64_t block) : k_(k), n_(n), bits_(bits), block_(block) {}

  Status compute(KernelContext& ctx) override {
    BS_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 0, "A"));
    BS_ASSIGN_OR_RETURN(const Tensor* b, required_input(ctx, 1, "B"));
    BS_ASSIGN_OR_RETURN(const Tensor* scales, required_input(ctx, 2, "scales"));
    const Tensor *zp = ctx.input(3), *g_idx = ctx.input(4), *bias = ctx.input(5);
    BS_TRY(expect_dtype(ctx, *a, DType::kF32, "A"));
    BS_TRY(expect_dtype(ctx, *b, DType::kU8, "B"));
    BS_TRY(expect_dtype(ctx, *scales, DType::kF32, "scales"));
    if (g_idx) return ctx.unsupported_error("input g_idx is not supported");
    NBitsWeights w;
    w.n = n_, w.k = k_, w.bits = bits_, w.block_size = block_;
    if (a->rank() < 1 || a->dim(-1) != k_)
      return ctx.error("A has shape " + shape_str(a->shape()) + ", expected last dim K=" + std::to_string(k_));
    const Shape want_b = {n_, w.k_blocks(), w.blob()};
    if (b->shape() != want_b) return ctx.error("B has shape " + shape_str(b->shape()) + ", expected " + shape_str(want_b));
    if (scales->numel() != n_ * w.k_blocks())
      return ctx.error("scales has " + std::to_string(scales->numel()) + " values, expected N * k_blocks = " +
                       std::to_string(n_ * w.k_blocks()));
    if (zp) {
      if (zp->dtype() != DType::kU8)
        return ctx.unsupported_error("zero_points of dtype " + std::string(dtype_name(zp->dtype())) + " (only packed uint8)");
      if (zp->numel() != n_ * w.zp_row_bytes())
        return ctx.error("zero_points has " + std::to_string(zp->numel()) + " bytes, expected " + std::to_string(n_ * w.zp_row_bytes()));
    }
    if (bias) {
      BS_TRY(expect_dtype(ctx, *bias, DType::kF32, "bias"));
      if (bias->numel() != n_) return ctx.error("bias has shape " + shape_str(bias->shape()) + ", expected [" + std::to_string(n_) + "]");
    }
    w.b = b->data<uint8_t>();
    w.scales = scales->data<float>();
    w.zp = zp ? zp->data<uint8_t>() : nullptr;
    Shape out = a->shape();
    out.back() = n_;
    Tensor y(DType::kF32, out);
    const int64_t m = k_ > 0 ? a->numel() / k_ : 0;
    matmul_nbits_f32(m, a->data<float>(), w, bias ? bias->data<float>() : nullptr, y.mutable_data<float>(), ctx.num_threads);
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }

 private:
  int64_t k_, n_, bits_, block_;
};

}  // namespace

Expected<std::unique_ptr<OpKernel>> make_matmul_nbits(const KernelInfo& info) {
  const Node& node = info.node;
  const int64_t k = node.attr_int("K", -1), n = node.attr_int("N", -1), bits = node.attr_int("bits", 4);
  const int64_t block = node.attr_int("block_size", -1);
  if (k <= 0 || n <= 0) return invalid_model(node.describe() + ": attributes K and N must be given and > 0");
  if (bits != 2 && bits != 4 && bits != 8)
    return unsupported(node.describe() + ": bits=" + std::to_string(bits) + " is not supported (2, 4 or 8)");
  if (block <= 0 || (block * bits) % 8 != 0)
    return invalid_model(node.describe() + ": block_size=" + std::to_string(block) + " must be > 0 and fill whole bytes");
  return std::unique_ptr<OpKernel>(std::make_unique<MatMulNBitsKernel>(k, n, bits, block));
}

}  // namespace bitsmith::kernels
