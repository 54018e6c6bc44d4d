// Variadic elementwise ops: Sum, Mean, Max, Min over 1..N inputs with numpy broadcasting (the
// same-shape rule of opsets < 8 is a special case).
//
// The output is folded left to right, y = f(...f(f(x0, x1), x2)..., xN-1), each step one
// binary_fast() pass in place, so the order of operations per element is fixed. Mean divides the
// sum by N. f16/bf16 are computed in f32; integer Sum wraps. Max/Min propagate NaN.
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/kernels.h"

namespace bitsmith::kernels::elt {

namespace {

enum class Fold { kSum, kMean, kMax, kMin };

template <class T, class F>
void fold_inputs(const std::vector<Tensor>& xs, T* y, const Shape& y_shape, F f, int threads) {
  broadcast_copy(xs[0].data<T>(), xs[0].shape(), y, y_shape, threads);
  for (size_t k = 1; k < xs.size(); ++k)
    binary_fast(y, y_shape, xs[k].data<T>(), xs[k].shape(), y, y_shape, f, threads);
}

class VariadicKernel final : public OpKernel {
 public:
  explicit VariadicKernel(Fold op) : op_(op) {}

  Status compute(KernelContext& ctx) override {
    std::vector<Tensor> xs;
    std::vector<Shape> shapes;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor* t = ctx.input(i);
      if (!t) continue;
      if (!xs.empty() && t->dtype() != ctx.input(0)->dtype())
        return ctx.error("input dtypes differ: " + std::string(dtype_name(ctx.input(0)->dtype())) + " and " +
                         std::string(dtype_name(t->dtype())));
      xs.push_back(widen_to_f32(*t));
      shapes.push_back(t->shape());
    }
    if (xs.empty() || !ctx.input(0)) return ctx.error("expects at least one input");
    const DType dt = ctx.input(0)->dtype();
    std::optional<Shape> y_shape = broadcast_shapes(shapes);
    if (!y_shape) return ctx.error("input shapes " + shapes_str(shapes) + " do not broadcast");
    Status s = dispatch_numeric(xs[0].dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      Tensor y(xs[0].dtype(), *y_shape);
      T* ys = y.mutable_data<T>();
      switch (op_) {
        case Fold::kSum: fold_inputs(xs, ys, *y_shape, AddOp{}, ctx.num_threads); break;
        case Fold::kMax: fold_inputs(xs, ys, *y_shape, MaxOp{}, ctx.num_threads); break;
        case Fold::kMin: fold_inputs(xs, ys, *y_shape, MinOp{}, ctx.num_threads); break;
        case Fold::kMean:
          if constexpr (std::is_floating_point_v<T>) {
            fold_inputs(xs, ys, *y_shape, AddOp{}, ctx.num_threads);
            const T count = static_cast<T>(xs.size());
            for (int64_t i = 0, n = y.numel(); i < n; ++i) ys[i] /= count;
          } else {
            return ctx.unsupported_error("Mean needs float inputs, got " + std::string(dtype_name(dt)));
          }
          break;
      }
      ctx.outputs[0] = is_half_dtype(dt) ? narrow_from_f32(y, dt) : y;
      return Status::ok();
    });
    return s.with_context(ctx.node.describe());
  }

 private:
  Fold op_;
};

}  // namespace

}  // namespace bitsmith::kernels::elt

namespace bitsmith::kernels {

using namespace elt;  // this file's kernels (factories below are declared in kernels.h)

Expected<std::unique_ptr<OpKernel>> elt_variadic_factory(const KernelInfo& info) {
  const std::string& op = info.node.op_type;
  Fold f;
  if (op == "Sum") f = Fold::kSum;
  else if (op == "Mean") f = Fold::kMean;
  else if (op == "Max") f = Fold::kMax;
  else if (op == "Min") f = Fold::kMin;
  else return unsupported(info.node.describe() + ": not a variadic op");
  return std::unique_ptr<OpKernel>(new VariadicKernel(f));
}

}  // namespace bitsmith::kernels
