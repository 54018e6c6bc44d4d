// Shape inference rules of compute ops: elementwise, broadcasting, MatMul/Gemm, Conv and pooling,
// normalization, reductions, quantization. Shape-movement ops are in shape_inference_shape_ops.cpp.
// The rule table (find_rule) is at the end of this file.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "ir/shape_inference_internal.h"
#include "ir/shape_inference_rules.h"

namespace bitsmith::shape_inference_detail {
namespace {

// ---- elementwise ----

// Output 0 like input 0 (values not tracked).
Status same_as_input0(NodeCtx& c) {
  if (const Val* x = c.in(0)) {
    Val v = shape_of(*x);
    c.out(0) = std::move(v);
  }
  return Status::ok();
}

// Dropout: output like input; mask (output 1) bool of the same shape.
Status dropout(NodeCtx& c) {
  BS_TRY(same_as_input0(c));
  if (c.num_outputs() > 1) {
    c.out(1) = c.out(0);
    c.out(1).dtype = DType::kBool;
  }
  return Status::ok();
}

// Integer arithmetic on tracked values (shape arithmetic): a op b with broadcasting of a scalar.
template <class F>
void combine_ints(NodeCtx& c, Val& out, F f) {
  const auto* a = partial_int_values(c, 0);
  const auto* b = partial_int_values(c, 1);
  if (!a || !b || !out.all_dims_known()) return;
  const auto n = out.numel();
  if (!n || (a->size() != 1 && static_cast<int64_t>(a->size()) != *n) ||
      (b->size() != 1 && static_cast<int64_t>(b->size()) != *n))
    return;
  std::vector<int64_t> r(static_cast<size_t>(*n));
  for (int64_t i = 0; i < *n; ++i) {
    const int64_t x = (*a)[a->size() == 1 ? 0 : i], y = (*b)[b->size() == 1 ? 0 : i];
    if (x == kUnknownInt || y == kUnknownInt) {
      r[i] = kUnknownInt;
      continue;
    }
    auto v = f(x, y);
    if (!v) return;
    r[i] = *v;
  }
  out.ints = std::move(r);
}

Status broadcast_to(NodeCtx& c, DType dtype) {
  std::vector<const Val*> ins;
  for (size_t i = 0; i < c.num_inputs(); ++i)
    if (c.in(i)) ins.push_back(c.in(i));
  if (ins.empty()) return Status::ok();
  BS_ASSIGN_OR_RETURN(Val v, broadcast_shapes(c, ins));
  v.dtype = dtype;
  c.out(0) = std::move(v);
  return Status::ok();
}

// Opset < 7: no numpy broadcasting; B is broadcast to A (attribute broadcast=1, aligned at
// `axis`) or has A's shape, so the output is A's shape.
bool legacy_broadcast(NodeCtx& c) {
  if (c.opset() >= 7 || c.num_inputs() != 2) return false;
  (void)same_as_input0(c);  // cannot fail
  return true;
}

Status arith(NodeCtx& c) {
  if (legacy_broadcast(c)) return Status::ok();
  BS_TRY(broadcast_to(c, c.in(0) ? c.in(0)->dtype : DType::kUndefined));
  const std::string& op = c.node().op_type;
  if (c.num_inputs() != 2) return Status::ok();
  Val& o = c.out(0);
  using R = std::optional<int64_t>;
  if (op == "Add") combine_ints(c, o, [](int64_t x, int64_t y) -> R { return x + y; });
  if (op == "Sub") combine_ints(c, o, [](int64_t x, int64_t y) -> R { return x - y; });
  if (op == "Mul") combine_ints(c, o, [](int64_t x, int64_t y) -> R { return x * y; });
  if (op == "Div")
    combine_ints(c, o, [](int64_t x, int64_t y) -> R {
      if (y == 0) return std::nullopt;
      int64_t q = x / y;  // ONNX integer Div truncates like C
      return q;
    });
  return Status::ok();
}

Status variadic_same_type(NodeCtx& c) {
  if (legacy_broadcast(c)) return Status::ok();
  return broadcast_to(c, c.in(0) ? c.in(0)->dtype : DType::kUndefined);
}
Status compare(NodeCtx& c) {
  if (legacy_broadcast(c)) {
    c.out(0).dtype = DType::kBool;
    return Status::ok();
  }
  return broadcast_to(c, DType::kBool);
}
Status where(NodeCtx& c) { return broadcast_to(c, c.in(1) ? c.in(1)->dtype : DType::kUndefined); }

Status cast(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  const auto to = dtype_from_onnx(static_cast<int>(c.node().attr_int("to", 0)));
  Val v = *x;
  v.dtype = to.value_or(DType::kUndefined);
  v.ints.reset();
  v.reals.reset();
  if (to == DType::kI64 || to == DType::kI32) {
    if (x->ints) v.ints = x->ints;
    else if (x->reals) v.ints = std::vector<int64_t>(x->reals->begin(), x->reals->end());  // truncates
  } else if (to == DType::kF32 || to == DType::kF64) {
    if (x->reals) v.reals = x->reals;
    else if (const auto* ints = int_values(c, 0)) v.reals = std::vector<double>(ints->begin(), ints->end());
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status cast_like(NodeCtx& c) {
  BS_TRY(same_as_input0(c));
  c.out(0).dtype = c.in(1) ? c.in(1)->dtype : DType::kUndefined;
  return Status::ok();
}

// ---- MatMul / Gemm ----

Status check_inner(const NodeCtx& c, const Dim& a, const Dim& b) {
  if (a.has_value() && b.has_value() && a.value != b.value)
    return c.fail("inner dims " + std::to_string(a.value) + " and " + std::to_string(b.value) + " differ");
  return Status::ok();
}

Status matmul_like(NodeCtx& c, DType out_dtype, size_t a_index, size_t b_index) {
  const Val* a = c.in(a_index);
  const Val* b = c.in(b_index);
  c.out(0).dtype = out_dtype;
  if (!a || !b || !a->has_rank || !b->has_rank) return Status::ok();
  if (a->rank() == 0 || b->rank() == 0) return c.fail("MatMul inputs must have rank >= 1");
  Val a2 = *a, b2 = *b;
  const bool a_vec = a2.rank() == 1, b_vec = b2.rank() == 1;
  if (a_vec) a2.dims.insert(a2.dims.begin(), known_dim(1));
  if (b_vec) b2.dims.push_back(known_dim(1));
  BS_TRY(check_inner(c, a2.dims.back(), b2.dims[b2.dims.size() - 2]));
  Val ba = a2, bb = b2;
  ba.dims.resize(ba.dims.size() - 2);
  bb.dims.resize(bb.dims.size() - 2);
  BS_ASSIGN_OR_RETURN(Val v, broadcast_shapes(c, {&ba, &bb}));
  if (!a_vec) v.dims.push_back(a2.dims[a2.dims.size() - 2]);
  if (!b_vec) v.dims.push_back(b2.dims.back());
  v.dtype = out_dtype;
  c.out(0) = std::move(v);
  return Status::ok();
}

Status matmul(NodeCtx& c) { return matmul_like(c, c.in(0) ? c.in(0)->dtype : DType::kUndefined, 0, 1); }
Status matmul_integer(NodeCtx& c) { return matmul_like(c, DType::kI32, 0, 1); }
Status qlinear_matmul(NodeCtx& c) {
  return matmul_like(c, c.in(7) ? c.in(7)->dtype : DType::kUndefined, 0, 3);
}

Status gemm(NodeCtx& c) {
  const Val* a = c.in(0);
  const Val* b = c.in(1);
  c.out(0).dtype = a ? a->dtype : DType::kUndefined;
  if (!a || !b || !a->has_rank || !b->has_rank) return Status::ok();
  if (a->rank() != 2 || b->rank() != 2) return c.fail("Gemm inputs must have rank 2");
  const bool ta = c.node().attr_int("transA", 0) != 0, tb = c.node().attr_int("transB", 0) != 0;
  const Dim& m = a->dims[ta ? 1 : 0];
  const Dim& ka = a->dims[ta ? 0 : 1];
  const Dim& kb = b->dims[tb ? 1 : 0];
  const Dim& n = b->dims[tb ? 0 : 1];
  BS_TRY(check_inner(c, ka, kb));
  Val v = Val::of_rank(a->dtype, 2);
  v.dims = {m, n};
  if (const Val* bias = c.in(2)) BS_TRY(broadcast_shapes(c, {&v, bias}).status());
  c.out(0) = std::move(v);
  return Status::ok();
}

// ---- Conv and pooling ----

// Output spatial dims of a window op. `kernel` from the attribute or the weight; `in` the input
// spatial dims. Unknown in -> unknown out.
std::vector<Dim> window_out(const NodeCtx& c, const std::vector<Dim>& in, const std::vector<int64_t>& kernel,
                            bool ceil_mode) {
  const size_t s = in.size();
  const Node& n = c.node();
  const auto strides = n.attr_ints("strides", std::vector<int64_t>(s, 1));
  const auto dil = n.attr_ints("dilations", std::vector<int64_t>(s, 1));
  const auto pads = n.attr_ints("pads", std::vector<int64_t>(2 * s, 0));
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  std::vector<Dim> out(s);
  if (strides.size() != s || dil.size() != s || pads.size() != 2 * s || kernel.size() != s) return out;
  for (size_t i = 0; i < s; ++i) {
    if (!in[i].has_value() || strides[i] <= 0) continue;
    const int64_t x = in[i].value, eff = (kernel[i] - 1) * dil[i] + 1;
    int64_t o;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      o = (x + strides[i] - 1) / strides[i];
    } else if (auto_pad == "VALID") {
      o = (x - eff) / strides[i] + 1;
      if (x < eff) continue;
    } else {
      const int64_t span = x + pads[i] + pads[i + s] - eff;
      if (span < 0) continue;
      o = ceil_mode ? (span + strides[i] - 1) / strides[i] + 1 : span / strides[i] + 1;
      // ceil mode: the last window must start inside the input or the left padding
      if (ceil_mode && (o - 1) * strides[i] >= x + pads[i]) --o;
    }
    out[i] = known_dim(o);
  }
  return out;
}

Status conv_like(NodeCtx& c, size_t x_index, size_t w_index, DType out_dtype) {
  const Val* x = c.in(x_index);
  const Val* w = c.in(w_index);
  c.out(0).dtype = out_dtype;
  if (!x || !x->has_rank) return Status::ok();
  if (x->rank() < 3) return c.fail("Conv input must have rank >= 3 (N, C, spatial...)");
  const int s = x->rank() - 2;
  Val v = Val::of_rank(out_dtype, x->dims.size());
  v.dims[0] = x->dims[0];
  std::vector<int64_t> kernel = c.node().attr_ints("kernel_shape");
  if (w && w->has_rank) {
    if (w->rank() != x->rank()) return c.fail("weight rank differs from input rank");
    v.dims[1] = w->dims[0];
    const int64_t group = c.node().attr_int("group", 1);
    if (x->dims[1].has_value() && w->dims[1].has_value() && x->dims[1].value != w->dims[1].value * group)
      return c.fail("input has " + std::to_string(x->dims[1].value) + " channels, weight expects " +
                    std::to_string(w->dims[1].value) + " x group " + std::to_string(group));
    if (kernel.empty() && w->all_dims_known())
      for (int i = 0; i < s; ++i) kernel.push_back(w->dims[2 + i].value);
  }
  std::vector<Dim> in(x->dims.begin() + 2, x->dims.end());
  auto out = window_out(c, in, kernel, false);
  std::copy(out.begin(), out.end(), v.dims.begin() + 2);
  c.out(0) = std::move(v);
  return Status::ok();
}

Status conv(NodeCtx& c) { return conv_like(c, 0, 1, c.in(0) ? c.in(0)->dtype : DType::kUndefined); }
Status conv_integer(NodeCtx& c) { return conv_like(c, 0, 1, DType::kI32); }
Status qlinear_conv(NodeCtx& c) { return conv_like(c, 0, 3, c.in(7) ? c.in(7)->dtype : DType::kUndefined); }

Status conv_transpose(NodeCtx& c) {
  const Val* x = c.in(0);
  const Val* w = c.in(1);
  c.out(0).dtype = x ? x->dtype : DType::kUndefined;
  if (!x || !x->has_rank) return Status::ok();
  if (x->rank() < 3) return c.fail("ConvTranspose input must have rank >= 3");
  const Node& n = c.node();
  const size_t s = x->dims.size() - 2;
  const int64_t group = n.attr_int("group", 1);
  Val v = Val::of_rank(x->dtype, x->dims.size());
  v.dims[0] = x->dims[0];
  std::vector<int64_t> kernel = n.attr_ints("kernel_shape");
  if (w && w->has_rank) {
    if (w->rank() != x->rank()) return c.fail("weight rank differs from input rank");
    if (x->dims[1].has_value() && w->dims[0].has_value() && x->dims[1].value != w->dims[0].value)
      return c.fail("input channels differ from the weight's dim 0");
    if (w->dims[1].has_value()) v.dims[1] = known_dim(w->dims[1].value * group);
    if (kernel.empty() && w->all_dims_known())
      for (size_t i = 0; i < s; ++i) kernel.push_back(w->dims[2 + i].value);
  }
  const auto output_shape = n.attr_ints("output_shape");
  if (output_shape.size() == s) {
    for (size_t i = 0; i < s; ++i) v.dims[2 + i] = known_dim(output_shape[i]);
  } else if (kernel.size() == s) {
    const auto strides = n.attr_ints("strides", std::vector<int64_t>(s, 1));
    const auto dil = n.attr_ints("dilations", std::vector<int64_t>(s, 1));
    const auto pads = n.attr_ints("pads", std::vector<int64_t>(2 * s, 0));
    const auto opad = n.attr_ints("output_padding", std::vector<int64_t>(s, 0));
    const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
    if (strides.size() == s && dil.size() == s && pads.size() == 2 * s && opad.size() == s) {
      for (size_t i = 0; i < s; ++i) {
        const Dim& in = x->dims[2 + i];
        if (!in.has_value()) continue;
        if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER")
          v.dims[2 + i] = known_dim(in.value * strides[i]);
        else
          v.dims[2 + i] = known_dim(strides[i] * (in.value - 1) + opad[i] + (kernel[i] - 1) * dil[i] + 1 -
                                    (auto_pad == "VALID" ? 0 : pads[i] + pads[i + s]));
      }
    }
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status pool(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  c.out(0).dtype = x->dtype;
  if (!x->has_rank) return Status::ok();
  if (x->rank() < 3) return c.fail("pooling input must have rank >= 3");
  Val v = Val::of_rank(x->dtype, x->dims.size());
  v.dims[0] = x->dims[0];
  v.dims[1] = x->dims[1];
  std::vector<Dim> in(x->dims.begin() + 2, x->dims.end());
  auto out = window_out(c, in, c.node().attr_ints("kernel_shape"), c.node().attr_int("ceil_mode", 0) != 0);
  std::copy(out.begin(), out.end(), v.dims.begin() + 2);
  c.out(0) = v;
  if (c.num_outputs() > 1) {  // MaxPool indices
    c.out(1) = v;
    c.out(1).dtype = DType::kI64;
  }
  return Status::ok();
}

Status global_pool(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  Val v = shape_of(*x);
  if (v.has_rank) {
    if (v.rank() < 3) return c.fail("global pooling input must have rank >= 3");
    for (size_t i = 2; i < v.dims.size(); ++i) v.dims[i] = known_dim(1);
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

// ---- normalization ----

Status layer_norm(NodeCtx& c) {
  BS_TRY(same_as_input0(c));
  const Val* x = c.in(0);
  if (!x || !x->has_rank) return Status::ok();
  const auto axis = normalize_axis(c.node().attr_int("axis", -1), x->rank());
  if (!axis) return c.fail("axis out of range");
  for (size_t o = 1; o < c.num_outputs() && o < 3; ++o) {  // Mean, InvStdDev: reduced dims kept as 1
    Val v = shape_of(*x);
    v.dtype = DType::kF32;
    for (int d = *axis; d < x->rank(); ++d) v.dims[d] = known_dim(1);
    c.out(o) = std::move(v);
  }
  return Status::ok();
}

// ---- reductions ----

Status reduce(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  const Node& n = c.node();
  const std::string& op = n.op_type;
  const bool keep = n.attr_int("keepdims", 1) != 0;
  // Axes moved from attribute to input: ReduceSum at opset 13, the others at 18.
  const int64_t input_from = op == "ReduceSum" ? 13 : 18;
  std::vector<int64_t> axes;
  bool axes_known = true;
  if (c.opset() >= input_from) {
    if (c.in(1)) {
      const auto* v = int_values(c, 1);
      if (v)
        axes = *v;
      else
        axes_known = false;
    }
  } else {
    axes = n.attr_ints("axes");
  }
  Val out;
  out.dtype = x->dtype;
  if (!x->has_rank) {
    c.out(0) = out;
    return Status::ok();
  }
  if (!axes_known) {
    if (keep) out = Val::of_rank(x->dtype, x->dims.size());
    c.out(0) = std::move(out);
    return Status::ok();
  }
  const bool noop_empty = n.attr_int("noop_with_empty_axes", 0) != 0;
  if (axes.empty() && noop_empty) return same_as_input0(c);
  std::vector<bool> reduced(x->dims.size(), axes.empty());
  for (int64_t a : axes) {
    auto ax = normalize_axis(a, x->rank());
    if (!ax) return c.fail("axis " + std::to_string(a) + " out of range");
    reduced[*ax] = true;
  }
  out.has_rank = true;
  for (size_t d = 0; d < x->dims.size(); ++d) {
    if (!reduced[d])
      out.dims.push_back(x->dims[d]);
    else if (keep)
      out.dims.push_back(known_dim(1));
  }
  c.out(0) = std::move(out);
  return Status::ok();
}

Status arg_reduce(NodeCtx& c) {
  const Val* x = c.in(0);
  c.out(0).dtype = DType::kI64;
  if (!x || !x->has_rank) return Status::ok();
  const auto axis = normalize_axis(c.node().attr_int("axis", 0), x->rank());
  if (!axis) return c.fail("axis out of range");
  Val v = Val::of_rank(DType::kI64, 0);
  for (int d = 0; d < x->rank(); ++d) {
    if (d != *axis)
      v.dims.push_back(x->dims[d]);
    else if (c.node().attr_int("keepdims", 1) != 0)
      v.dims.push_back(known_dim(1));
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status topk(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  Val v = shape_of(*x);
  if (v.has_rank) {
    const auto axis = normalize_axis(c.node().attr_int("axis", -1), x->rank());
    if (!axis) return c.fail("axis out of range");
    const std::vector<int64_t>* k = c.opset() >= 10 ? int_values(c, 1) : nullptr;
    if (c.opset() < 10)
      v.dims[*axis] = known_dim(c.node().attr_int("k", 0));
    else
      v.dims[*axis] = k && k->size() == 1 ? known_dim((*k)[0]) : Dim{};
  }
  c.out(0) = v;
  if (c.num_outputs() > 1) {
    c.out(1) = v;
    c.out(1).dtype = DType::kI64;
  }
  return Status::ok();
}

// ---- quantization ----

Status quantize_linear(NodeCtx& c) {
  BS_TRY(same_as_input0(c));
  if (const Val* zp = c.in(2))
    c.out(0).dtype = zp->dtype;
  else
    c.out(0).dtype = c.node().find_attr("output_dtype")
                         ? dtype_from_onnx(static_cast<int>(c.node().attr_int("output_dtype", 2))).value_or(DType::kU8)
                         : DType::kU8;
  return Status::ok();
}

Status dequantize_linear(NodeCtx& c) {
  BS_TRY(same_as_input0(c));
  c.out(0).dtype = c.in(1) ? c.in(1)->dtype : DType::kF32;
  return Status::ok();
}

Status dynamic_quantize_linear(NodeCtx& c) {
  BS_TRY(same_as_input0(c));
  c.out(0).dtype = DType::kU8;
  if (c.num_outputs() > 1) c.out(1) = Val::of_shape(DType::kF32, {});
  if (c.num_outputs() > 2) c.out(2) = Val::of_shape(DType::kU8, {});
  return Status::ok();
}

}  // namespace

Rule find_rule(std::string_view domain, std::string_view op_type) {
  static const std::unordered_map<std::string_view, Rule> table = [] {
    std::unordered_map<std::string_view, Rule> t;
    for (const char* op : {"Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu",
                           "Softmax", "LogSoftmax", "Hardmax", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal",
                           "Not", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos",
                           "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Elu", "Selu", "Celu", "Softplus",
                           "Softsign", "ThresholdedRelu", "Mish", "Shrink", "CumSum", "Trilu", "BatchNormalization",
                           "InstanceNormalization", "LpNormalization", "LRN", "MeanVarianceNormalization",
                           "BitwiseNot", "IsNaN", "IsInf"})
      t.emplace(op, same_as_input0);
    t["IsNaN"] = t["IsInf"] = [](NodeCtx& c) {
      BS_TRY(same_as_input0(c));
      c.out(0).dtype = DType::kBool;
      return Status::ok();
    };
    t["Dropout"] = dropout;
    t["Identity"] = [](NodeCtx& c) {
      if (c.in(0)) c.out(0) = *c.in(0);  // values too
      return Status::ok();
    };
    for (const char* op : {"Add", "Sub", "Mul", "Div"}) t.emplace(op, arith);
    for (const char* op : {"Pow", "Mod", "PRelu", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor"})
      t.emplace(op, variadic_same_type);
    for (const char* op : {"Min", "Max", "Sum", "Mean"}) t.emplace(op, variadic_same_type);
    for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"})
      t.emplace(op, compare);
    t["Where"] = where;
    t["Cast"] = cast;
    t["CastLike"] = cast_like;
    t["MatMul"] = matmul;
    t["MatMulInteger"] = matmul_integer;
    t["QLinearMatMul"] = qlinear_matmul;
    t["Gemm"] = gemm;
    t["Conv"] = conv;
    t["ConvInteger"] = conv_integer;
    t["QLinearConv"] = qlinear_conv;
    t["ConvTranspose"] = conv_transpose;
    for (const char* op : {"MaxPool", "AveragePool", "LpPool"}) t.emplace(op, pool);
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}) t.emplace(op, global_pool);
    t["LayerNormalization"] = layer_norm;
    for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                           "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"})
      t.emplace(op, reduce);
    t["ArgMax"] = t["ArgMin"] = arg_reduce;
    t["TopK"] = topk;
    t["QuantizeLinear"] = quantize_linear;
    t["DequantizeLinear"] = dequantize_linear;
    t["DynamicQuantizeLinear"] = dynamic_quantize_linear;
    add_shape_op_rules(t);
    return t;
  }();
  if (!domain.empty()) return nullptr;
  auto it = table.find(op_type);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace bitsmith::shape_inference_detail
