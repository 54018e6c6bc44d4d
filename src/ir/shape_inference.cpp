// Shape inference driver: seeds values from graph inputs and initializers, runs each node's rule
// in topological order, and reports the types. The per-op rules are in shape_inference_ops*.cpp.
#include "bitsmith/ir/shape_inference.h"

#include <algorithm>
#include <set>

#include "bitsmith/ir/op_schema.h"
#include "ir/shape_inference_internal.h"

namespace bitsmith {
namespace shape_inference_detail {

Val Val::of_rank(DType t, size_t rank) {
  Val v;
  v.dtype = t;
  v.has_rank = true;
  v.dims.assign(rank, Dim{});
  return v;
}

Val Val::of_shape(DType t, const Shape& s) {
  Val v;
  v.dtype = t;
  v.has_rank = true;
  for (int64_t d : s) v.dims.push_back(known_dim(d));
  return v;
}

bool Val::all_dims_known() const {
  return has_rank && std::all_of(dims.begin(), dims.end(), [](const Dim& d) { return d.has_value(); });
}

std::optional<int64_t> Val::numel() const {
  if (!all_dims_known()) return std::nullopt;
  int64_t n = 1;
  for (const Dim& d : dims) n *= d.value;
  return n;
}

Dim known_dim(int64_t v) {
  Dim d;
  d.value = v;
  return d;
}

std::string val_str(const Val& v) {
  if (!v.has_rank) return "unranked";
  std::string s = "[";
  for (size_t i = 0; i < v.dims.size(); ++i) {
    if (i) s += ",";
    const Dim& d = v.dims[i];
    s += d.has_value() ? std::to_string(d.value) : (d.param.empty() ? "?" : d.param);
  }
  return s + "]";
}

Status NodeCtx::fail(const std::string& what) const {
  std::string shapes;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (i) shapes += ", ";
    shapes += inputs_[i] ? val_str(*inputs_[i]) : "-";
  }
  return invalid_model("shape inference: " + node_.describe() + ": " + what + " (input shapes " + shapes + ")");
}

std::optional<int> normalize_axis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) return std::nullopt;
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

const std::vector<int64_t>* partial_int_values(const NodeCtx& ctx, size_t i) {
  const Val* v = ctx.in(i);
  return v && v->ints ? &*v->ints : nullptr;
}

const std::vector<int64_t>* int_values(const NodeCtx& ctx, size_t i) {
  const auto* v = partial_int_values(ctx, i);
  if (!v || std::find(v->begin(), v->end(), kUnknownInt) != v->end()) return nullptr;
  return v;
}

std::vector<Dim> dims_from_values(const std::vector<int64_t>& values) {
  std::vector<Dim> dims;
  for (int64_t x : values) dims.push_back(x >= 0 ? known_dim(x) : Dim{});
  return dims;
}

Expected<Val> broadcast_shapes(const NodeCtx& ctx, const std::vector<const Val*>& vals) {
  Val out;
  size_t rank = 0;
  for (const Val* v : vals) {
    if (!v || !v->has_rank) return Val::unknown();
    rank = std::max(rank, v->dims.size());
  }
  out.has_rank = true;
  out.dims.assign(rank, Dim{});
  for (size_t k = 0; k < rank; ++k) {  // k counts from the last dim
    // Known non-1 dims must agree; a dim is the result when every other is 1.
    std::optional<int64_t> big;
    bool any_unknown = false;
    const Dim* symbolic = nullptr;
    bool symbolic_consistent = true;
    for (const Val* v : vals) {
      if (k >= v->dims.size()) continue;
      const Dim& d = v->dims[v->dims.size() - 1 - k];
      if (d.has_value()) {
        if (d.value == 1) continue;
        if (big && *big != d.value)
          return ctx.fail("dims " + std::to_string(*big) + " and " + std::to_string(d.value) + " cannot broadcast");
        big = d.value;
      } else {
        any_unknown = true;
        if (!d.param.empty()) {
          if (symbolic && symbolic->param != d.param) symbolic_consistent = false;
          symbolic = &d;
        } else {
          symbolic_consistent = false;
        }
      }
    }
    Dim& o = out.dims[rank - 1 - k];
    if (big) {
      o = known_dim(*big);  // an unknown dim must then be 1 or *big: either way the result is *big
    } else if (!any_unknown) {
      o = known_dim(1);
    } else if (symbolic && symbolic_consistent) {
      o = *symbolic;  // the same symbol (or 1s) everywhere
    }
  }
  return out;
}

namespace {

// Element values of a small tensor (integers or floats), for shape arithmetic.
void track_values(const Tensor& t, Val& v) {
  if (t.numel() > kMaxTrackedValues || t.dtype() == DType::kString) return;
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::kI64: v.ints = std::vector<int64_t>(t.data<int64_t>(), t.data<int64_t>() + n); break;
    case DType::kI32: v.ints = std::vector<int64_t>(t.data<int32_t>(), t.data<int32_t>() + n); break;
    case DType::kF32: v.reals = std::vector<double>(t.data<float>(), t.data<float>() + n); break;
    case DType::kF64: v.reals = std::vector<double>(t.data<double>(), t.data<double>() + n); break;
    default: break;
  }
}

Val val_of_type(const TypeInfo& type) {
  Val v;
  if (type.kind != TypeInfo::Kind::kTensor) return v;
  v.dtype = type.elem_type;
  if (type.has_shape) {
    v.has_rank = true;
    v.dims = type.dims;
  }
  return v;
}

TypeInfo type_of_val(const Val& v) {
  TypeInfo t;
  t.kind = TypeInfo::Kind::kTensor;
  t.elem_type = v.dtype;
  t.elem_type_code = v.dtype == DType::kUndefined ? 0 : dtype_to_onnx(v.dtype);
  t.has_shape = v.has_rank;
  t.dims = v.dims;
  return t;
}

}  // namespace

Val val_of_tensor(const Tensor& t) {
  Val v = Val::of_shape(t.dtype(), t.shape());
  track_values(t, v);
  return v;
}

}  // namespace shape_inference_detail

using namespace shape_inference_detail;

std::optional<Shape> ShapeInferenceResult::static_shape(const std::string& value_name) const {
  auto it = types.find(value_name);
  if (it == types.end()) return std::nullopt;
  return it->second.static_shape();
}

Expected<ShapeInferenceResult> infer_shapes(const Model& model, const ShapeInferenceOptions& options) {
  const Graph& g = model.graph;
  std::unordered_map<std::string, Val> vals;
  for (const Tensor& t : g.initializers) vals[t.name()] = val_of_tensor(t);
  for (const ValueInfo& in : g.inputs) {
    if (g.find_initializer(in.name)) continue;  // an initializer's own shape wins
    Val v = val_of_type(in.type);
    for (const auto& [name, shape] : options.input_shapes)
      if (name == in.name) v = Val::of_shape(v.dtype, shape);
    if (options.dynamic_batch && v.has_rank && !v.dims.empty()) v.dims[0] = Dim{};
    vals[in.name] = std::move(v);
  }

  BS_ASSIGN_OR_RETURN(std::vector<size_t> order, g.topological_order());
  ShapeInferenceResult result;
  std::set<std::string> unknown_ops;
  const Val missing;  // an input defined nowhere (the verifier reports it)
  for (size_t idx : order) {
    const Node& node = g.nodes[idx];
    std::vector<const Val*> inputs;
    for (const std::string& name : node.inputs) {
      if (name.empty()) {
        inputs.push_back(nullptr);
        continue;
      }
      auto it = vals.find(name);
      inputs.push_back(it == vals.end() ? &missing : &it->second);
    }
    NodeCtx ctx(node, model.opset(is_default_domain(node.domain) ? "" : node.domain), std::move(inputs),
                node.outputs.size());
    Rule rule = find_rule(is_default_domain(node.domain) ? "" : node.domain, node.op_type);
    if (rule) {
      BS_TRY(rule(ctx));
    } else {
      unknown_ops.insert(is_default_domain(node.domain) ? node.op_type : node.domain + "." + node.op_type);
    }
    ++result.nodes_total;
    bool all_static = true;
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      Val& v = ctx.out(o);
      if (v.dtype == DType::kUndefined || !v.all_dims_known()) all_static = false;
      if (!node.outputs[o].empty()) vals[node.outputs[o]] = std::move(v);
    }
    if (all_static && rule) ++result.nodes_fully_static;
  }
  for (auto& [name, v] : vals) result.types.emplace(name, type_of_val(v));
  result.unknown_ops.assign(unknown_ops.begin(), unknown_ops.end());
  return result;
}

}  // namespace bitsmith
