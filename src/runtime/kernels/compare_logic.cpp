// Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual -> bool), boolean logic (And,
// Or, Xor, Not) and float classification (IsNaN, IsInf). Broadcasting as in binary.cpp
// (binary_fast, legacy attributes before opset 7); f16/bf16 compared in f32 (exact).
#include <cmath>
#include <string>

#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/kernels.h"

namespace bitsmith::kernels::elt {

namespace {

enum class Cmp { kEqual, kLess, kGreater, kLessEqual, kGreaterEqual };
enum class Logic { kAnd, kOr, kXor };

template <class T, class F>
void compare_into(KernelContext& ctx, const BinaryOperands& ops, F f) {
  Tensor& y = alloc_output(ctx, 0, DType::kBool, ops.y_shape);
  binary_fast(ops.a.data<T>(), ops.a_shape, ops.b.data<T>(), ops.b_shape, y.mutable_data<bool>(), ops.y_shape, f,
              ctx.num_threads);
}

class CompareKernel final : public OpKernel {
 public:
  CompareKernel(Cmp op, LegacyBroadcast legacy) : op_(op), legacy_(legacy) {}

  Status compute(KernelContext& ctx) override {
    BinaryOperands ops;
    BS_TRY(prepare_binary(ctx, legacy_, ops));
    Status s = dispatch_numeric_or_bool(ops.a.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      switch (op_) {
        case Cmp::kEqual: compare_into<T>(ctx, ops, EqualOp{}); break;
        case Cmp::kLess: compare_into<T>(ctx, ops, LessOp{}); break;
        case Cmp::kGreater: compare_into<T>(ctx, ops, GreaterOp{}); break;
        case Cmp::kLessEqual: compare_into<T>(ctx, ops, LessEqualOp{}); break;
        case Cmp::kGreaterEqual: compare_into<T>(ctx, ops, GreaterEqualOp{}); break;
      }
      return Status::ok();
    });
    return s.with_context(ctx.node.describe());
  }

 private:
  Cmp op_;
  LegacyBroadcast legacy_;
};

class LogicKernel final : public OpKernel {
 public:
  LogicKernel(Logic op, LegacyBroadcast legacy) : op_(op), legacy_(legacy) {}

  Status compute(KernelContext& ctx) override {
    BinaryOperands ops;
    BS_TRY(prepare_binary(ctx, legacy_, ops));
    if (ops.a.dtype() != DType::kBool)
      return ctx.unsupported_error("inputs must be bool, got " + std::string(dtype_name(ops.a.dtype())));
    switch (op_) {
      case Logic::kAnd: compare_into<bool>(ctx, ops, AndOp{}); break;
      case Logic::kOr: compare_into<bool>(ctx, ops, OrOp{}); break;
      case Logic::kXor: compare_into<bool>(ctx, ops, XorOp{}); break;
    }
    return Status::ok();
  }

 private:
  Logic op_;
  LegacyBroadcast legacy_;
};

Status not_compute(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("input 0 is missing");
  if (x->dtype() != DType::kBool)
    return ctx.unsupported_error("input must be bool, got " + std::string(dtype_name(x->dtype())));
  Tensor& y = alloc_output(ctx, 0, DType::kBool, x->shape());
  const bool* xs = x->data<bool>();
  bool* ys = y.mutable_data<bool>();
  for (int64_t i = 0, n = x->numel(); i < n; ++i) ys[i] = !xs[i];
  return Status::ok();
}

// IsNaN (detect_negative/positive unused) and IsInf.
class ClassifyKernel final : public OpKernel {
 public:
  ClassifyKernel(bool is_inf, bool negative, bool positive) : is_inf_(is_inf), neg_(negative), pos_(positive) {}

  Status compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("input 0 is missing");
    const Tensor xs = widen_to_f32(*x);
    Status s = dispatch_float(xs.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      Tensor& y = alloc_output(ctx, 0, DType::kBool, x->shape());
      const T* v = xs.data<T>();
      bool* out = y.mutable_data<bool>();
      for (int64_t i = 0, n = x->numel(); i < n; ++i) {
        out[i] = is_inf_ ? (std::isinf(v[i]) && (v[i] > 0 ? pos_ : neg_)) : std::isnan(v[i]);
      }
      return Status::ok();
    });
    return s.with_context(ctx.node.describe());
  }

 private:
  bool is_inf_, neg_, pos_;
};

}  // namespace

}  // namespace bitsmith::kernels::elt

namespace bitsmith::kernels {

using namespace elt;  // this file's kernels (factories below are declared in kernels.h)

Expected<std::unique_ptr<OpKernel>> elt_compare_factory(const KernelInfo& info) {
  const std::string& op = info.node.op_type;
  const LegacyBroadcast legacy = legacy_broadcast_attrs(info);
  Cmp c;
  if (op == "Equal") c = Cmp::kEqual;
  else if (op == "Less") c = Cmp::kLess;
  else if (op == "Greater") c = Cmp::kGreater;
  else if (op == "LessOrEqual") c = Cmp::kLessEqual;
  else if (op == "GreaterOrEqual") c = Cmp::kGreaterEqual;
  else return unsupported(info.node.describe() + ": not a comparison op");
  return std::unique_ptr<OpKernel>(new CompareKernel(c, legacy));
}

Expected<std::unique_ptr<OpKernel>> elt_logic_factory(const KernelInfo& info) {
  const std::string& op = info.node.op_type;
  if (op == "Not") return make_fn_kernel(&not_compute);
  const LegacyBroadcast legacy = legacy_broadcast_attrs(info);
  Logic l;
  if (op == "And") l = Logic::kAnd;
  else if (op == "Or") l = Logic::kOr;
  else if (op == "Xor") l = Logic::kXor;
  else return unsupported(info.node.describe() + ": not a logic op");
  return std::unique_ptr<OpKernel>(new LogicKernel(l, legacy));
}

Expected<std::unique_ptr<OpKernel>> elt_classify_factory(const KernelInfo& info) {
  const bool is_inf = info.node.op_type == "IsInf";
  return std::unique_ptr<OpKernel>(new ClassifyKernel(is_inf, info.node.attr_int("detect_negative", 1) != 0,
                                                      info.node.attr_int("detect_positive", 1) != 0));
}

}  // namespace bitsmith::kernels
