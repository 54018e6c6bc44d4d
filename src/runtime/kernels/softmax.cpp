// Softmax, LogSoftmax and Hardmax.
//
// Opset < 13: the input is read as 2-D [prod(dims[:axis]), prod(dims[axis:])] (axis default 1)
// and the op runs along the second dim. Opset >= 13: the op runs along the single dim `axis`
// (default -1). Either way the data is [outer, n, inner]; inner == 1 (a contiguous row) takes the
// fast f32 path, rows spread over threads; other cases and f64 run the double-precision
// reference per outer slice. f16/bf16 are computed in f32.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <string>
#include <vector>

#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/eltwise_simd.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/ref/rownorm_ref.h"

namespace bitsmith::kernels::elt {

void softmax_rows_f32(const float* x, float* y, int64_t rows, int64_t n, bool log, int num_threads) {
  const int64_t rows_per_block = std::max<int64_t>(1, kEltBlock / std::max<int64_t>(n, 1));
  parallel_blocks(rows, rows_per_block, num_threads, [&](int64_t r0, int64_t r1) {
    std::vector<float> scratch(log ? static_cast<size_t>(n) : 0);
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * n;
      float* yr = y + r * n;
      const float m = simd::max_f32(xr, n);
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] - m;
      if (log) {
        simd::exp_f32(yr, scratch.data(), n);
        const float log_sum = std::log(simd::sum_f32(scratch.data(), n));
        for (int64_t i = 0; i < n; ++i) yr[i] -= log_sum;
      } else {
        simd::exp_f32(yr, yr, n);
        const float inv = 1.0f / simd::sum_f32(yr, n);
        for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
      }
    }
  });
}

namespace {

enum class RowOp { kSoftmax, kLogSoftmax, kHardmax };

class SoftmaxKernel final : public OpKernel {
 public:
  SoftmaxKernel(RowOp op, int64_t axis, bool coerce_2d) : op_(op), axis_(axis), coerce_2d_(coerce_2d) {}

  Status compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("input 0 is missing");
    const Shape& shape = x->shape();
    const int rank = x->rank();
    std::optional<int> axis = normalize_axis(axis_, rank);
    if (!axis) return ctx.error("axis " + std::to_string(axis_) + " is out of range for input shape " + shape_str(shape));
    const int64_t outer = dims_product(shape, 0, *axis);
    const int64_t n = coerce_2d_ ? dims_product(shape, *axis, rank) : shape[*axis];
    const int64_t inner = coerce_2d_ ? 1 : dims_product(shape, *axis + 1, rank);
    const DType dt = x->dtype();
    const Tensor xs = widen_to_f32(*x);
    Status s = dispatch_float(xs.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      Tensor y = Tensor::uninitialized(xs.dtype(), shape);
      const T* xp = xs.data<T>();
      T* yp = y.mutable_data<T>();
      bool done = false;
      if constexpr (std::is_same_v<T, float>) {
        if (inner == 1 && op_ != RowOp::kHardmax) {
          softmax_rows_f32(xp, yp, outer, n, op_ == RowOp::kLogSoftmax, ctx.num_threads);
          done = true;
        }
      }
      if (!done) {
        const int64_t slice = n * inner;
        const int64_t per_block = std::max<int64_t>(1, kEltBlock / std::max<int64_t>(slice, 1));
        parallel_blocks(outer, per_block, ctx.num_threads, [&](int64_t o0, int64_t o1) {
          if (op_ == RowOp::kHardmax) hardmax_ref(xp + o0 * slice, yp + o0 * slice, o1 - o0, n, inner);
          else softmax_ref(xp + o0 * slice, yp + o0 * slice, o1 - o0, n, inner, op_ == RowOp::kLogSoftmax);
        });
      }
      ctx.outputs[0] = is_half_dtype(dt) ? narrow_from_f32(y, dt) : y;
      return Status::ok();
    });
    return s.with_context(ctx.node.describe());
  }

 private:
  RowOp op_;
  int64_t axis_;
  bool coerce_2d_;
};

}  // namespace

}  // namespace bitsmith::kernels::elt

namespace bitsmith::kernels {

using namespace elt;  // this file's kernels (factories below are declared in kernels.h)

Expected<std::unique_ptr<OpKernel>> elt_softmax_factory(const KernelInfo& info) {
  const std::string& op = info.node.op_type;
  RowOp r;
  if (op == "Softmax") r = RowOp::kSoftmax;
  else if (op == "LogSoftmax") r = RowOp::kLogSoftmax;
  else if (op == "Hardmax") r = RowOp::kHardmax;
  else return unsupported(info.node.describe() + ": not a softmax-family op");
  const bool coerce_2d = info.opset < 13;
  const int64_t axis = info.node.attr_int("axis", coerce_2d ? 1 : -1);
  return std::unique_ptr<OpKernel>(new SoftmaxKernel(r, axis, coerce_2d));
}

}  // namespace bitsmith::kernels
