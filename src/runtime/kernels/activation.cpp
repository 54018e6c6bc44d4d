// Activations: Relu, LeakyRelu, ThresholdedRelu, Sigmoid, HardSigmoid, HardSwish, Tanh, Gelu,
// Elu, Selu, Celu, Softplus, Softsign, Shrink (unary engine of unary.cpp, attributes read at load
// time), PRelu (slope broadcast onto X) and Clip (bounds as attributes before opset 11, as
// optional scalar inputs from opset 11).
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "runtime/kernels/dispatch.h"
#include "runtime/kernels/eltwise_common.h"
#include "runtime/kernels/kernels.h"

namespace bitsmith::kernels::elt {

namespace {

// ---- PRelu ----

class PReluKernel final : public OpKernel {
 public:
  Status compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* slope = ctx.input(1);
    if (!x || !slope) return ctx.error("expects inputs X and slope");
    // Old models give a per-channel slope [C] for X [N, C, ...]; read it as [1, C, 1, ...].
    LegacyBroadcast per_channel;
    if (broadcast_shapes({x->shape(), slope->shape()}) != x->shape() && slope->rank() == 1 && x->rank() >= 2 &&
        slope->dim(0) == x->dim(1)) {
      per_channel.enabled = true;
      per_channel.axis = 1;
    }
    BinaryOperands ops;
    BS_TRY(prepare_binary(ctx, per_channel, ops));
    const Shape& x_shape = ops.a_shape;
    if (ops.y_shape != x_shape)
      return ctx.error("slope shape " + shape_str(ops.b_shape) + " does not broadcast to X shape " +
                       shape_str(x_shape));
    Status s = dispatch_numeric(ops.a.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      Tensor y(ops.a.dtype(), x_shape);
      binary_fast(ops.a.data<T>(), ops.a_shape, ops.b.data<T>(), ops.b_shape, y.mutable_data<T>(), x_shape,
                  PReluOp{}, ctx.num_threads);
      ctx.outputs[0] = ops.widened ? narrow_from_f32(y, ops.dtype) : y;
      return Status::ok();
    });
    return s.with_context(ctx.node.describe());
  }
};

// ---- Clip ----

// Reads a bound input (a scalar of X's dtype) as T; absent input: keeps `value`.
template <class T>
Status read_bound(const KernelContext& ctx, size_t i, DType x_dtype, T& value) {
  const Tensor* t = ctx.input(i);
  if (!t) return Status::ok();
  if (t->dtype() != x_dtype || t->numel() != 1)
    return ctx.error("input " + std::to_string(i) + " must be a scalar of dtype " + std::string(dtype_name(x_dtype)) +
                     ", got " + std::string(dtype_name(t->dtype())) + " " + shape_str(t->shape()));
  if constexpr (std::is_same_v<T, float>) {
    value = widen_to_f32(*t).data<float>()[0];
  } else {
    value = t->data<T>()[0];
  }
  return Status::ok();
}

template <class T>
void clip_loop(const T* x, T* y, int64_t n, T lo, T hi, int threads) {
  parallel_blocks(n, kEltBlock, threads, [&](int64_t b, int64_t e) {
    // NaN stays NaN: std::max(NaN, lo) and std::min(NaN, hi) return their first argument.
    for (int64_t i = b; i < e; ++i) y[i] = std::min(std::max(x[i], lo), hi);
  });
}

class ClipKernel final : public OpKernel {
 public:
  // Opset < 11: bounds from attributes (`min`, `max`); otherwise from inputs 1 and 2.
  ClipKernel(bool bounds_from_attrs, float attr_min, float attr_max)
      : attrs_(bounds_from_attrs), attr_min_(attr_min), attr_max_(attr_max) {}

  Status compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("input 0 is missing");
    const DType dt = x->dtype();
    const bool widen = is_half_dtype(dt);
    const Tensor xs = widen_to_f32(*x);
    Status s = dispatch_numeric(xs.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      T lo = std::numeric_limits<T>::lowest();
      T hi = std::numeric_limits<T>::max();
      if constexpr (std::is_floating_point_v<T>) {
        lo = -std::numeric_limits<T>::infinity();
        hi = std::numeric_limits<T>::infinity();
      }
      if (attrs_) {
        if constexpr (!std::is_floating_point_v<T>) {
          return ctx.unsupported_error("Clip before opset 11 takes float inputs only");
        } else {
          lo = static_cast<T>(attr_min_);
          hi = static_cast<T>(attr_max_);
        }
      } else {
        BS_TRY(read_bound<T>(ctx, 1, dt, lo));
        BS_TRY(read_bound<T>(ctx, 2, dt, hi));
      }
      Tensor y(xs.dtype(), x->shape());
      clip_loop(xs.data<T>(), y.mutable_data<T>(), x->numel(), lo, hi, ctx.num_threads);
      ctx.outputs[0] = widen ? narrow_from_f32(y, dt) : y;
      return Status::ok();
    });
    return s.with_context(ctx.node.describe());
  }

 private:
  bool attrs_;
  float attr_min_, attr_max_;
};

struct ActivationSpec {
  const char* op_type;
  UnaryOp op;
  double alpha, beta, gamma;  // attribute defaults (alpha/beta/gamma as ONNX names them)
};
// Shrink's `lambd` and `bias` map to alpha and beta.
constexpr ActivationSpec kActivations[] = {
    {"Relu", UnaryOp::kRelu, 0, 0, 0},
    {"LeakyRelu", UnaryOp::kLeakyRelu, 0.01, 0, 0},
    {"ThresholdedRelu", UnaryOp::kThresholdedRelu, 1.0, 0, 0},
    {"Sigmoid", UnaryOp::kSigmoid, 0, 0, 0},
    {"HardSigmoid", UnaryOp::kHardSigmoid, 0.2, 0.5, 0},
    {"HardSwish", UnaryOp::kHardSwish, 0, 0, 0},
    {"Tanh", UnaryOp::kTanh, 0, 0, 0},
    {"Elu", UnaryOp::kElu, 1.0, 0, 0},
    {"Selu", UnaryOp::kSelu, 1.67326319217681884765625, 0, 1.05070102214813232421875},
    {"Celu", UnaryOp::kCelu, 1.0, 0, 0},
    {"Softplus", UnaryOp::kSoftplus, 0, 0, 0},
    {"Softsign", UnaryOp::kSoftsign, 0, 0, 0},
    {"Shrink", UnaryOp::kShrink, 0.5, 0, 0},
};

// A float attribute's value (as written in the model, float precision) or the default.
double float_attr(const Node& node, const char* name, double dflt) {
  const Attribute* a = node.find_attr(name);
  return a && a->type == AttrType::kFloat ? static_cast<double>(a->f) : dflt;
}

}  // namespace

}  // namespace bitsmith::kernels::elt

namespace bitsmith::kernels {

using namespace elt;  // this file's kernels (factories below are declared in kernels.h)

Expected<std::unique_ptr<OpKernel>> elt_activation_factory(const KernelInfo& info) {
  const Node& node = info.node;
  if (node.op_type == "Gelu") {
    const std::string approx = node.attr_string("approximate", "none");
    if (approx != "none" && approx != "tanh")
      return invalid_model(node.describe() + ": attribute 'approximate' must be \"none\" or \"tanh\", got \"" +
                           approx + "\"");
    return make_unary_kernel(approx == "none" ? UnaryOp::kGeluErf : UnaryOp::kGeluTanh, UnaryParams{});
  }
  for (const ActivationSpec& a : kActivations) {
    if (node.op_type != a.op_type) continue;
    UnaryParams p{a.alpha, a.beta, a.gamma};
    if (a.op == UnaryOp::kShrink) {
      p.alpha = float_attr(node, "lambd", a.alpha);
      p.beta = float_attr(node, "bias", a.beta);
    } else {
      p.alpha = float_attr(node, "alpha", a.alpha);
      p.beta = float_attr(node, "beta", a.beta);
      p.gamma = float_attr(node, "gamma", a.gamma);
    }
    if (a.op == UnaryOp::kCelu && p.alpha == 0.0) return invalid_model(node.describe() + ": alpha must not be 0");
    return make_unary_kernel(a.op, p);
  }
  return unsupported(node.describe() + ": not an activation op");
}

Expected<std::unique_ptr<OpKernel>> elt_prelu_factory(const KernelInfo& info) {
  return std::unique_ptr<OpKernel>(new PReluKernel());
}

Expected<std::unique_ptr<OpKernel>> elt_clip_factory(const KernelInfo& info) {
  const bool attrs = info.opset < 11;
  const float lo = info.node.attr_float("min", -std::numeric_limits<float>::max());
  const float hi = info.node.attr_float("max", std::numeric_limits<float>::max());
  return std::unique_ptr<OpKernel>(new ClipKernel(attrs, lo, hi));
}

}  // namespace bitsmith::kernels
