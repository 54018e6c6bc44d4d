// Two-input arithmetic: Add, Sub, Mul, Div, Mod, Pow, BitShift (numpy broadcasting; opset < 7
// legacy `broadcast`/`axis` attributes).
//
// Every dtype runs binary_fast() (coalesced broadcast runs with contiguous inner loops, fixed
// blocks over ctx.num_threads); f16/bf16 are computed in f32. Integer arithmetic wraps, integer
// Div truncates toward zero, and an integer divisor of 0 is an error. Pow takes any numeric
// exponent dtype (opset 12+), computes in double and writes the base's dtype.
#include <cmath>
#include <string>
#include <type_traits>

#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/kernels.h"

namespace bitsmith::kernels::elt {

namespace {

enum class Arith { kAdd, kSub, kMul, kDiv, kMod, kShl, kShr };

template <class T>
bool has_zero(const Tensor& t) {
  const T* v = t.data<T>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    if (v[i] == T(0)) return true;
  return false;
}

// Runs functor f on same-dtype operands of type T into a new output of ops.dtype.
template <class T, class F>
Status run_typed(KernelContext& ctx, const BinaryOperands& ops, F f) {
  Tensor y = Tensor::uninitialized(ops.a.dtype(), ops.y_shape);  // binary_fast writes every element
  binary_fast(ops.a.data<T>(), ops.a_shape, ops.b.data<T>(), ops.b_shape, y.mutable_data<T>(), ops.y_shape, f,
              ctx.num_threads);
  ctx.outputs[0] = ops.widened ? narrow_from_f32(y, ops.dtype) : y;
  return Status::ok();
}

class ArithKernel final : public OpKernel {
 public:
  ArithKernel(Arith op, LegacyBroadcast legacy, bool fmod) : op_(op), legacy_(legacy), fmod_(fmod) {}

  Status compute(KernelContext& ctx) override {
    BinaryOperands ops;
    BS_TRY(prepare_binary(ctx, legacy_, ops));
    Status s = dispatch_numeric(ops.a.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      if constexpr (std::is_integral_v<T>) {
        if ((op_ == Arith::kDiv || op_ == Arith::kMod) && has_zero<T>(ops.b))
          return ctx.error("integer division by zero");
      }
      switch (op_) {
        case Arith::kAdd: return run_typed<T>(ctx, ops, AddOp{});
        case Arith::kSub: return run_typed<T>(ctx, ops, SubOp{});
        case Arith::kMul: return run_typed<T>(ctx, ops, MulOp{});
        case Arith::kDiv: return run_typed<T>(ctx, ops, DivOp{});
        case Arith::kMod: return run_typed<T>(ctx, ops, ModOp{fmod_});
        case Arith::kShl:
        case Arith::kShr:
          if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
            if (op_ == Arith::kShl) return run_typed<T>(ctx, ops, ShlOp{});
            return run_typed<T>(ctx, ops, ShrOp{});
          } else {
            return ctx.unsupported_error("BitShift needs unsigned integer inputs, got " +
                                         std::string(dtype_name(ops.dtype)));
          }
      }
      return internal_error("unknown arithmetic op");
    });
    return s.with_context(ctx.node.describe());
  }

 private:
  Arith op_;
  LegacyBroadcast legacy_;
  bool fmod_;
};

// Pow: y = base ^ exponent in double, written as the base's dtype.
class PowKernel final : public OpKernel {
 public:
  explicit PowKernel(LegacyBroadcast legacy) : legacy_(legacy) {}

  Status compute(KernelContext& ctx) override {
    BinaryOperands ops;
    BS_TRY(prepare_binary(ctx, legacy_, ops, /*allow_mixed_dtypes=*/true));
    std::optional<Tensor> a = to_f64(ops.a);
    std::optional<Tensor> b = to_f64(ops.b);
    if (!a || !b || !(is_float(ops.dtype) || is_integer(ops.dtype)))
      return ctx.unsupported_error("input dtypes " + std::string(dtype_name(ctx.input(0)->dtype())) + " and " +
                                   std::string(dtype_name(ctx.input(1)->dtype())) + " are not supported");
    Tensor y(DType::kF64, ops.y_shape);
    binary_fast(a->data<double>(), ops.a_shape, b->data<double>(), ops.b_shape, y.mutable_data<double>(),
                ops.y_shape, [](double u, double v) { return std::pow(u, v); }, ctx.num_threads);
    ctx.outputs[0] = from_f64(y, ops.dtype);
    return Status::ok();
  }

 private:
  LegacyBroadcast legacy_;
};

}  // namespace

}  // namespace bitsmith::kernels::elt

namespace bitsmith::kernels {

using namespace elt;  // this file's kernels (factories below are declared in kernels.h)

Expected<std::unique_ptr<OpKernel>> elt_binary_factory(const KernelInfo& info) {
  const std::string& op = info.node.op_type;
  const LegacyBroadcast legacy = legacy_broadcast_attrs(info);
  if (op == "Pow") return std::unique_ptr<OpKernel>(new PowKernel(legacy));
  bool fmod = false;
  Arith a;
  if (op == "Add") a = Arith::kAdd;
  else if (op == "Sub") a = Arith::kSub;
  else if (op == "Mul") a = Arith::kMul;
  else if (op == "Div") a = Arith::kDiv;
  else if (op == "Mod") {
    a = Arith::kMod;
    fmod = info.node.attr_int("fmod", 0) != 0;
  } else if (op == "BitShift") {
    const std::string dir = info.node.attr_string("direction", "");
    if (dir != "LEFT" && dir != "RIGHT")
      return invalid_model(info.node.describe() + ": attribute 'direction' must be \"LEFT\" or \"RIGHT\", got \"" +
                           dir + "\"");
    a = dir == "LEFT" ? Arith::kShl : Arith::kShr;
  } else {
    return unsupported(info.node.describe() + ": not a binary arithmetic op");
  }
  return std::unique_ptr<OpKernel>(new ArithKernel(a, legacy, fmod));
}

}  // namespace bitsmith::kernels
