// convert-float16 / convert-bfloat16: the shared rewrite. Overview (details at each function):
//  1. infer_types: the element type of every value, from the graph's declared types and per-op
//     rules (ONNX files often carry no value_info).
//  2. classify: each node that touches f32 values is converted (computes in the target type)
//     or kept in f32, with the reason recorded.
//  3. homes: the type each f32 value is stored in afterwards (outputs of converted nodes,
//     weights read by converted nodes, graph inputs/outputs when keep_io_types is false).
//  4. rewire: every input slot reads its value in the type it needs; a Cast is created once per
//     (value, type) where the home differs. Graph outputs keep their names and declared types.
//  5. fold_cast_chains: a Cast reading a Cast is rewired to the first Cast's input, so no two
//     Casts sit back to back (f32->f16->f32 pairs disappear); Casts left unused are removed.
//     This applies to Casts the model already had as well (a deliberate f32->f16->f32 rounding
//     in the input model is removed too).
//  6. topological sort.
#include "passes/float_convert.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "bitsmith/core/half.h"
#include "bitsmith/ir/op_schema.h"
#include "bitsmith/passes/scope.h"
#include "bitsmith/quant/weight_quant.h"
#include "passes/graph_util.h"

namespace bitsmith::passes_detail {
namespace {

using TypeMap = std::unordered_map<std::string, DType>;

const char* short_name(DType t) { return t == DType::kF16 ? "f16" : t == DType::kBF16 ? "bf16" : "f32"; }

// ---- 1. element types ----

std::optional<DType> declared_type(const TypeInfo& t) {
  if (t.kind != TypeInfo::Kind::kTensor || t.elem_type == DType::kUndefined) return std::nullopt;
  return t.elem_type;
}

// The element type of a Constant node's value, or nullopt.
std::optional<DType> constant_type(const Node& n) {
  for (const Attribute& a : n.attributes) {
    if (a.name == "value" && a.type == AttrType::kTensor) return a.t.dtype();
    if (a.name == "value_float" || a.name == "value_floats") return DType::kF32;
    if (a.name == "value_int" || a.name == "value_ints") return DType::kI64;
    if (a.name == "value_string" || a.name == "value_strings") return DType::kString;
  }
  return std::nullopt;
}

bool in_list(const std::string& op, std::initializer_list<const char*> ops) {
  for (const char* o : ops)
    if (op == o) return true;
  return false;
}

// Output types of `n` by ONNX's type rules, from its input types (nullopt = unknown).
std::vector<std::optional<DType>> rule_output_types(const Node& n, const TypeMap& types) {
  auto in = [&](size_t i) -> std::optional<DType> {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return std::nullopt;
    auto it = types.find(n.inputs[i]);
    return it == types.end() ? std::nullopt : std::optional<DType>(it->second);
  };
  std::vector<std::optional<DType>> out(n.outputs.size());
  if (!is_default_domain(n.domain) || out.empty()) return out;
  const std::string& op = n.op_type;
  auto all = [&](std::optional<DType> t) { std::fill(out.begin(), out.end(), t); };
  if (op == "Cast") {
    all(dtype_from_onnx(static_cast<int>(n.attr_int("to", 0))));
  } else if (op == "CastLike") {
    all(in(1));
  } else if (in_list(op, {"Shape", "Size", "NonZero", "ArgMax", "ArgMin"})) {
    all(DType::kI64);
  } else if (in_list(op, {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor",
                          "IsNaN", "IsInf"})) {
    all(DType::kBool);
  } else if (op == "Constant") {
    all(constant_type(n));
  } else if (op == "ConstantOfShape") {
    const Attribute* v = n.find_attr("value");
    all(v && v->type == AttrType::kTensor ? v->t.dtype() : DType::kF32);
  } else if (op == "Where") {
    all(in(1));
  } else if (op == "OneHot") {
    all(in(2));
  } else if (op == "TopK") {
    out[0] = in(0);
    if (out.size() > 1) out[1] = DType::kI64;
  } else if (op == "MaxPool") {
    out[0] = in(0);
    if (out.size() > 1) out[1] = DType::kI64;
  } else if (op == "Dropout") {
    out[0] = in(0);
    if (out.size() > 1) out[1] = DType::kBool;
  } else if (op == "LayerNormalization") {
    out[0] = in(0);
    for (size_t k = 1; k < out.size(); ++k) out[k] = DType::kF32;  // stash_type 1
  } else if (op == "DequantizeLinear") {
    all(in(1));  // the scale's type
  } else if (op == "QuantizeLinear" && !n.find_attr("output_dtype")) {
    all(n.inputs.size() > 2 && !n.inputs[2].empty() ? in(2) : std::optional<DType>(DType::kU8));
  } else if (op == "DynamicQuantizeLinear" && out.size() == 3) {
    out = {DType::kU8, DType::kF32, DType::kU8};
  } else if (in_list(op, {"MatMulInteger", "ConvInteger"})) {
    all(DType::kI32);
  } else if (in_list(op, {"QLinearConv", "QLinearMatMul"})) {
    all(in(7));  // y_zero_point's type
  } else if (in_list(op, {"QuantizeLinear", "EyeLike", "RandomNormal",
                          "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
                          "Unique", "If", "Loop", "Scan", "NonMaxSuppression", "StringNormalizer"})) {
    // unknown here (declared types, if any, are used instead)
  } else {
    all(in(0));  // the common case: outputs have the type of the first input
  }
  return out;
}

TypeMap infer_types(const Graph& g, const std::vector<size_t>& order) {
  TypeMap types;
  auto declare = [&](const std::string& name, const TypeInfo& t) {
    if (auto d = declared_type(t)) types.emplace(name, *d);
  };
  for (const Tensor& t : g.initializers) types.emplace(t.name(), t.dtype());
  for (const ValueInfo& v : g.inputs) declare(v.name, v.type);
  for (const ValueInfo& v : g.value_info) declare(v.name, v.type);
  for (const ValueInfo& v : g.outputs) declare(v.name, v.type);
  for (size_t i : order) {
    const Node& n = g.nodes[i];
    const auto rule = rule_output_types(n, types);
    for (size_t k = 0; k < n.outputs.size(); ++k)
      if (!n.outputs[k].empty() && rule[k]) types.emplace(n.outputs[k], *rule[k]);
  }
  return types;
}

// ---- 2. which nodes compute in the target type ----

// Input / output slots that keep f32 even when the node is converted (their ONNX type is not
// tied to the node's data type).
bool keeps_f32_input(const Node& n, size_t slot) {
  if (n.op_type == "Resize") return slot == 1 || slot == 2;  // roi (T2), scales (float)
  if (n.op_type == "Upsample") return slot == 1;             // scales (float)
  if (n.op_type == "Dropout") return slot == 1;              // ratio (T1)
  return false;
}
bool keeps_f32_output(const Node& n, size_t slot) {
  return n.op_type == "LayerNormalization" && slot >= 1;  // Mean, InvStdDev (stash type)
}

// Ops never converted, with the reason.
std::optional<std::string> never_converted(const Node& n) {
  const std::string& op = n.op_type;
  if (op == "Range") return "ONNX Range has no float16/bfloat16 type";
  if (op == "NonMaxSuppression") return "ONNX NonMaxSuppression takes float32 boxes and scores only";
  if (in_list(op, {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
                   "MatMulInteger", "ConvInteger"}))
    return "quantization op (its scales stay float32)";
  if (in_list(op, {"EyeLike", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                   "Multinomial", "Bernoulli"}))
    return "its output type is set by a dtype attribute";
  if (op == "BatchNormalization" && n.outputs.size() > 1) return "training-mode outputs (running statistics)";
  return std::nullopt;
}

// The first opset in which ONNX allows bfloat16 for the node's data type (0: never / not known
// here, so it stays f32).
int64_t bf16_since(const std::string& op) {
  static const std::map<std::string, int64_t> table = {
      {"Abs", 13},        {"Add", 13},         {"BatchNormalization", 15}, {"Cast", 13},
      {"Ceil", 13},       {"Clip", 13},        {"Concat", 13},             {"Constant", 13},
      {"Conv", 22},       {"ConvTranspose", 22}, {"Div", 13},              {"Dropout", 13},
      {"Equal", 13},      {"Erf", 13},         {"Exp", 13},                {"Expand", 13},
      {"Flatten", 13},    {"Floor", 13},       {"Gather", 13},             {"Gelu", 20},
      {"Gemm", 13},       {"GlobalAveragePool", 22}, {"AveragePool", 22},  {"MaxPool", 22},
      {"Greater", 13},    {"Identity", 13},    {"LayerNormalization", 17}, {"LeakyRelu", 16},
      {"Less", 13},       {"Log", 13},         {"LogSoftmax", 13},         {"MatMul", 13},
      {"Max", 13},        {"Mean", 13},        {"Min", 13},                {"Mul", 13},
      {"Neg", 13},        {"Pad", 13},         {"Pow", 15},                {"Reciprocal", 13},
      {"ReduceMax", 13},  {"ReduceMean", 13},  {"ReduceMin", 13},          {"ReduceSum", 13},
      {"Relu", 14},       {"Reshape", 13},     {"Resize", 13},             {"Shape", 13},
      {"Sigmoid", 13},
      {"Size", 13},       {"Slice", 13},       {"Softmax", 13},            {"Split", 13},
      {"Sqrt", 13},       {"Squeeze", 13},     {"Sub", 13},                {"Sum", 13},
      {"Tanh", 13},       {"Tile", 13},        {"Transpose", 13},          {"Unsqueeze", 13},
      {"Where", 16},
  };
  auto it = table.find(op);
  return it == table.end() ? 0 : it->second;
}

bool has_subgraph(const Node& n) {
  for (const Attribute& a : n.attributes)
    if (a.g || !a.graphs.empty()) return true;
  return false;
}

void collect_reads(const Graph& g, std::unordered_set<std::string>& out) {
  for (const Node& n : g.nodes) {
    out.insert(n.inputs.begin(), n.inputs.end());
    for (const Attribute& a : n.attributes) {
      if (a.g) collect_reads(*a.g, out);
      for (const auto& sg : a.graphs)
        if (sg) collect_reads(*sg, out);
    }
  }
  for (const ValueInfo& v : g.outputs) out.insert(v.name);
}

bool is_f32(const TypeMap& types, const std::string& name) {
  auto it = types.find(name);
  return !name.empty() && it != types.end() && it->second == DType::kF32;
}

struct Classification {
  std::vector<bool> convert;  // per node
  std::vector<bool> touches;  // per node: has an f32 input or output
};

Classification classify(const Model& model, const TypeMap& types, const std::vector<bool>& in_scope,
                        const std::unordered_set<std::string>& pinned, const FloatConvertConfig& cfg,
                        PassRecord& rec) {
  const Graph& g = model.graph;
  Classification c{std::vector<bool>(g.nodes.size(), false), std::vector<bool>(g.nodes.size(), false)};
  const int64_t opset = model.opset("");
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    bool touches = false, unknown = false;
    std::string unknown_name;
    for (const auto* list : {&n.inputs, &n.outputs})
      for (const std::string& v : *list) {
        if (v.empty()) continue;
        if (!types.count(v)) {
          if (!unknown) unknown_name = v;
          unknown = true;
        }
        touches = touches || is_f32(types, v);
      }
    if (n.op_type == "Cast" && n.attr_int("to", 0) == dtype_to_onnx(DType::kF32)) touches = true;
    c.touches[i] = touches;
    if (!touches && !unknown) continue;
    if (cfg.weight_only) continue;  // nothing computes in the target type
    auto skip = [&](const std::string& reason) {
      rec.skip(n, i, reason);
      rec.count("nodes_kept_f32");
    };
    if (!in_scope[i]) { skip("outside the pass scope"); continue; }
    if (!is_default_domain(n.domain)) { skip("op of domain '" + n.domain + "' is not converted"); continue; }
    if (has_subgraph(n)) { skip("has subgraphs (their bodies stay float32)"); continue; }
    if (std::find(cfg.block_ops.begin(), cfg.block_ops.end(), n.op_type) != cfg.block_ops.end()) {
      skip("in block_ops");
      continue;
    }
    if (auto r = never_converted(n)) { skip(*r); continue; }
    if (unknown) { skip("type of value '" + unknown_name + "' is unknown"); continue; }
    if (cfg.target == DType::kBF16) {
      const int64_t since = bf16_since(n.op_type);
      if (since == 0 || opset < since) {
        skip("ONNX " + n.op_type + " (opset " + std::to_string(opset) + ") does not allow bfloat16" +
             (since > 0 ? " (from opset " + std::to_string(since) + ")" : ""));
        continue;
      }
    }
    bool pinned_out = false;
    for (const std::string& o : n.outputs) pinned_out = pinned_out || (!o.empty() && pinned.count(o));
    if (pinned_out) { skip("an output is read inside a subgraph (kept float32)"); continue; }
    c.convert[i] = true;
  }
  return c;
}

// ---- helpers for the rewrite ----

void rename_value(Graph& g, const std::string& from, const std::string& to) {
  for (Node& n : g.nodes) {
    for (std::string& v : n.inputs)
      if (v == from) v = to;
    for (std::string& v : n.outputs)
      if (v == from) v = to;
  }
  for (Tensor& t : g.initializers)
    if (t.name() == from) t.set_name(to);
  for (ValueInfo& v : g.value_info)
    if (v.name == from) v.name = to;
}

int64_t constant_bytes(const Graph& g) {
  int64_t b = 0;
  for (const Tensor& t : g.initializers) b += static_cast<int64_t>(t.nbytes());
  for (const Node& n : g.nodes)
    if (n.op_type == "Constant" && is_default_domain(n.domain))
      for (const Attribute& a : n.attributes)
        if (a.type == AttrType::kTensor) b += static_cast<int64_t>(a.t.nbytes());
  return b;
}

// The f32 tensor held by a Constant node (value / value_float / value_floats), or undefined.
Tensor constant_f32_value(const Node& n) {
  for (const Attribute& a : n.attributes) {
    if (a.name == "value" && a.type == AttrType::kTensor && a.t.dtype() == DType::kF32) return a.t;
    if (a.name == "value_float") return Tensor::scalar<float>(a.f);
    if (a.name == "value_floats")
      return Tensor::from_vector<float>(a.floats, {static_cast<int64_t>(a.floats.size())});
  }
  return Tensor();
}

Node make_cast(std::string name, std::string in, std::string out, DType to) {
  Node n;
  n.name = std::move(name);
  n.op_type = "Cast";
  n.inputs = {std::move(in)};
  n.outputs = {std::move(out)};
  n.attributes.push_back(Attribute::make_int("to", dtype_to_onnx(to)));
  return n;
}

bool is_cast(const Node& n) { return n.op_type == "Cast" && is_default_domain(n.domain) && n.inputs.size() == 1; }

bool is_float_type(DType t) { return t == DType::kF16 || t == DType::kBF16 || t == DType::kF32 || t == DType::kF64; }
bool is_plain_number(DType t) { return t != DType::kBool && t != DType::kString && t != DType::kUndefined; }

// Step 5: Cast(Cast(s)) -> Cast(s) (or s itself when the types match), until none is left.
// Safe when both Casts are between float types (a float round trip only loses precision,
// which the rewrite gives back), or when the first widens a number to f32/f64 and the second
// narrows to f16/bf16. Returns the number of Casts removed.
int64_t fold_cast_chains(Graph& g, TypeMap& types) {
  int64_t removed = 0;
  std::unordered_set<std::string> graph_outputs;
  for (const ValueInfo& v : g.outputs) graph_outputs.insert(v.name);
  for (bool changed = true; changed;) {
    changed = false;
    const auto producer = g.producer_index();
    std::unordered_map<std::string, std::string> alias;  // value -> value to read instead
    for (Node& b : g.nodes) {
      if (!is_cast(b) || b.outputs.empty()) continue;
      auto p = producer.find(b.inputs[0]);
      if (p == producer.end() || !is_cast(g.nodes[p->second])) continue;
      const Node& a = g.nodes[p->second];
      const std::string& s = a.inputs[0];
      auto ts_it = types.find(s);
      if (ts_it == types.end()) continue;
      const DType ts = ts_it->second;
      const auto ta = dtype_from_onnx(static_cast<int>(a.attr_int("to", 0)));
      const auto tb = dtype_from_onnx(static_cast<int>(b.attr_int("to", 0)));
      if (!ta || !tb) continue;
      const bool float_trip = is_float_type(ts) && is_float_type(*ta) && is_float_type(*tb);
      const bool widen_then_narrow = is_plain_number(ts) && (*ta == DType::kF32 || *ta == DType::kF64) &&
                                     (*tb == DType::kF16 || *tb == DType::kBF16);
      if (!float_trip && !widen_then_narrow) continue;
      if (*tb == ts && !graph_outputs.count(b.outputs[0])) alias[b.outputs[0]] = s;
      else b.inputs[0] = s;
      changed = true;
    }
    if (!alias.empty())
      for (Node& n : g.nodes)
        for (std::string& v : n.inputs)
          if (auto it = alias.find(v); it != alias.end()) v = it->second;
    // Remove Casts nothing reads any more.
    const auto uses = value_use_counts(g);
    std::vector<bool> erase(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      if (!is_cast(n) || n.outputs.size() != 1) continue;
      auto u = uses.find(n.outputs[0]);
      if (u == uses.end() || u->second == 0) {
        erase[i] = true;
        ++removed;
        changed = true;
      }
    }
    erase_nodes(g, erase);
  }
  return removed;
}

}  // namespace

const std::vector<std::string>& default_float_block_ops() {
  static const std::vector<std::string> ops = {
      "CumSum",  "NonMaxSuppression", "Pow",       "Range",           "ReduceL2",        "ReduceLogSumExp",
      "ReduceProd", "ReduceSum",      "ReduceSumSquare", "Resize",    "RoiAlign",        "TopK",
      "Upsample"};
  return ops;
}

// The TensorChange of f32 `original` stored as f16/bf16 `converted` (same name), with the
// measured error of the stored values against the original.
static TensorChange conversion_change(const Tensor& original, const Tensor& converted) {
  const int64_t n = original.numel();
  Tensor back(DType::kF32, original.shape());
  const uint16_t* low = converted.data<uint16_t>();
  float* dst = back.mutable_data<float>();
  if (converted.dtype() == DType::kF16) f16_to_f32_n(low, dst, static_cast<size_t>(n));
  else
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(low[i]);
  const QuantError e = quant_error(original, back);
  TensorChange c;
  c.tensor = c.result = original.name();
  c.dtype_before = DType::kF32;
  c.dtype_after = converted.dtype();
  c.numel = n;
  c.bytes_before = static_cast<int64_t>(original.nbytes());
  c.bytes_after = static_cast<int64_t>(converted.nbytes());
  c.sqnr_db = e.sqnr_db;
  c.cosine = e.cosine;
  c.max_abs_err = e.max_abs;
  c.how = std::string(dtype_name(converted.dtype()));
  return c;
}

Tensor convert_weight(const Tensor& t, const FloatConvertConfig& cfg, int64_t& clamped) {
  Tensor out(cfg.target, t.shape(), t.name());
  const float* src = t.data<float>();
  uint16_t* dst = out.mutable_data<uint16_t>();
  const float lo = static_cast<float>(cfg.min_positive_val), hi = static_cast<float>(cfg.max_finite_val);
  const int64_t n = t.numel();
  std::vector<float> tmp(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float v = src[i];
    const float a = std::fabs(v);
    if (a > 0 && a < lo) {
      v = std::copysign(lo, v);
      ++clamped;
    } else if (std::isfinite(v) && a > hi) {
      v = std::copysign(hi, v);
      ++clamped;
    }
    tmp[static_cast<size_t>(i)] = v;
  }
  if (cfg.target == DType::kF16) {
    f32_to_f16_n(tmp.data(), dst, tmp.size());
  } else {
    for (size_t i = 0; i < tmp.size(); ++i) dst[i] = f32_to_bf16(tmp[i]);
  }
  return out;
}

Status convert_float_model(Model& model, PassContext& ctx, const FloatConvertConfig& cfg) {
  Graph& g = model.graph;
  PassRecord& rec = ctx.record();
  const DType low = cfg.target;
  BS_ASSIGN_OR_RETURN(std::vector<size_t> order, g.topological_order());
  TypeMap types = infer_types(g, order);
  const std::vector<bool> in_scope = ctx.scope().select(g);

  // Values read inside subgraphs keep their type (the bodies are not rewritten).
  std::unordered_set<std::string> pinned;
  for (const Node& n : g.nodes)
    for (const Attribute& a : n.attributes) {
      if (a.g) collect_reads(*a.g, pinned);
      for (const auto& sg : a.graphs)
        if (sg) collect_reads(*sg, pinned);
    }

  if (cfg.target == DType::kBF16 && model.opset("") < 13) {
    rec.notes.push_back("model imports ai.onnx opset " + std::to_string(model.opset("")) +
                        "; ONNX has no bfloat16 Cast before opset 13, so nothing was converted");
    return Status::ok();
  }

  const Classification cls = classify(model, types, in_scope, pinned, cfg, rec);
  const int64_t bytes_before = constant_bytes(g);

  // ---- 3. homes ----
  std::unordered_map<std::string, DType> home;  // f32 values whose home is the target type
  auto home_of = [&](const std::string& v) {
    auto it = home.find(v);
    return it == home.end() ? DType::kF32 : it->second;
  };
  // Which slot reads `v` in the target type.
  auto wants_low = [&](size_t node, size_t slot) {
    const Node& n = g.nodes[node];
    return cls.convert[node] && !keeps_f32_input(n, slot);
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!cls.convert[i] || n.op_type == "Constant") continue;  // Constants: decided as weights below
    for (size_t k = 0; k < n.outputs.size(); ++k)
      if (is_f32(types, n.outputs[k]) && !keeps_f32_output(n, k)) home[n.outputs[k]] = low;
  }
  if (!cfg.keep_io_types)
    for (const ValueInfo* v : g.runtime_inputs())
      if (is_f32(types, v->name) && !pinned.count(v->name)) home[v->name] = low;

  // Weights: f32 constant initializers and Constant nodes.
  const auto consumers = g.consumer_index();
  std::unordered_set<std::string> graph_outputs;
  for (const ValueInfo& v : g.outputs) graph_outputs.insert(v.name);
  auto weight_goes_low = [&](const std::string& name) {
    if (pinned.count(name)) return false;
    auto it = consumers.find(name);
    if (it == consumers.end()) return false;
    bool any = false;
    for (size_t c : it->second) {
      const Node& n = g.nodes[c];
      for (size_t s = 0; s < n.inputs.size(); ++s) {
        if (n.inputs[s] != name) continue;
        if (cfg.weight_only) {
          // Stored low, read through a Cast to f32: only for in-scope, unblocked readers.
          const bool blocked = std::find(cfg.block_ops.begin(), cfg.block_ops.end(), n.op_type) != cfg.block_ops.end();
          if (!in_scope[c] || blocked || keeps_f32_input(n, s)) return false;
          any = true;
        } else if (wants_low(c, s)) {
          any = true;
        }
      }
    }
    return any;
  };
  // An initializer also listed as a graph input is a default the caller may override, except
  // below IR version 4, where ONNX required every initializer to be listed as an input.
  const bool legacy_inputs = model.ir_version < 4;
  int64_t clamped = 0;
  for (Tensor& t : g.initializers) {
    if (t.dtype() != DType::kF32) continue;
    if (!legacy_inputs && !is_constant_initializer(g, t.name())) continue;
    if (!weight_goes_low(t.name())) continue;
    home[t.name()] = low;
    Tensor converted = convert_weight(t, cfg, clamped);
    rec.tensors.push_back(conversion_change(t, converted));
    t = std::move(converted);
    rec.count("initializers_converted");
    for (ValueInfo& in : g.inputs)  // its (legacy) graph input entry declares the new type
      if (in.name == t.name() && in.type.kind == TypeInfo::Kind::kTensor) in.type.elem_type = low;
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (n.op_type != "Constant" || !is_default_domain(n.domain) || n.outputs.size() != 1) continue;
    if (!in_scope[i] || !is_f32(types, n.outputs[0]) || !weight_goes_low(n.outputs[0])) continue;
    Tensor v = constant_f32_value(n);
    if (!v.defined()) continue;
    n.attributes.clear();
    n.attributes.push_back(Attribute::make_tensor("value", convert_weight(v, cfg, clamped)));
    home[n.outputs[0]] = low;
    rec.touch(n, i, std::string("value stored as ") + short_name(low));
    rec.count("constants_converted");
  }
  if (clamped) rec.count("values_clamped", clamped);

  // Graph I/O with keep_io_types=false follow their homes; otherwise they stay f32.
  if (!cfg.keep_io_types) {
    for (ValueInfo& v : g.inputs)
      if (home_of(v.name) == low && v.type.kind == TypeInfo::Kind::kTensor) v.type.elem_type = low;
  }

  // ---- 4. rewire ----
  NameAllocator names(g);
  std::unordered_set<std::string> node_names;
  for (const Node& n : g.nodes) node_names.insert(n.name);
  auto node_name = [&](const std::string& base) {  // unique among node and value names
    std::string name = names.make(base);
    while (!node_names.insert(name).second) name = names.make(base);
    return name;
  };
  std::map<std::pair<std::string, DType>, std::string> cast_of;  // (value, type) -> value to read
  std::vector<Node> new_casts;
  auto cast_to = [&](const std::string& v, DType to) -> std::string {
    auto key = std::make_pair(v, to);
    if (auto it = cast_of.find(key); it != cast_of.end()) return it->second;
    const std::string out = names.make(v + "_" + short_name(to));
    new_casts.push_back(make_cast(node_name(v + "_cast_" + short_name(to)), v, out, to));
    rec.count("casts_inserted");
    cast_of[key] = out;
    types[out] = to;
    return out;
  };

  // Graph outputs whose value lives in the target type but must stay f32: the producer writes
  // an internal name, and a Cast writes the graph output.
  for (ValueInfo& out : g.outputs) {
    if (!is_f32(types, out.name) || home_of(out.name) == DType::kF32) continue;
    if (!cfg.keep_io_types) {
      if (out.type.kind == TypeInfo::Kind::kTensor) out.type.elem_type = low;
      continue;
    }
    const std::string internal = names.make(out.name + "_" + short_name(low));
    rename_value(g, out.name, internal);
    home[internal] = low;
    types[internal] = DType::kF32;  // original type, for the slot logic below
    ValueInfo vi = out;
    vi.name = internal;
    vi.type.elem_type = low;
    vi.doc_string.clear();
    g.value_info.push_back(std::move(vi));
    new_casts.push_back(make_cast(node_name(out.name + "_cast_f32"), internal, out.name, DType::kF32));
    rec.count("casts_inserted");
    cast_of[{internal, DType::kF32}] = out.name;
  }

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (!cls.touches[i] && !cls.convert[i]) continue;
    int64_t casts_here = 0;
    for (size_t s = 0; s < n.inputs.size(); ++s) {
      const std::string v = n.inputs[s];
      if (!is_f32(types, v)) continue;
      const DType want = wants_low(i, s) ? low : DType::kF32;
      if (home_of(v) == want) continue;
      n.inputs[s] = cast_to(v, want);
      ++casts_here;
    }
    if (!cls.convert[i]) {
      if (casts_here && !cfg.weight_only) rec.touch(n, i, "kept float32; reads converted values through Casts");
      if (casts_here && cfg.weight_only)
        rec.touch(n, i, std::string("weights stored as ") + short_name(low) + ", read through Casts to f32");
      continue;
    }
    if (n.op_type == "Cast" && n.attr_int("to", 0) == dtype_to_onnx(DType::kF32))
      n.find_attr("to")->i = dtype_to_onnx(low);
    if (n.op_type == "ConstantOfShape") {
      Attribute* v = n.find_attr("value");
      int64_t unused = 0;
      Tensor value = v && v->type == AttrType::kTensor ? v->t : Tensor::from_vector<float>({0.f}, {1});
      if (value.dtype() == DType::kF32) {
        Tensor conv = convert_weight(value, cfg, unused);
        if (v) v->t = conv;
        else n.attributes.push_back(Attribute::make_tensor("value", conv));
      }
    }
    if (n.op_type != "Constant") {
      rec.touch(n, i, std::string("computes in ") + short_name(low));
      rec.count("nodes_converted");
    }
  }
  for (Node& c : new_casts) g.nodes.push_back(std::move(c));

  // value_info: declared f32 types follow the homes.
  for (ValueInfo& v : g.value_info)
    if (v.type.kind == TypeInfo::Kind::kTensor && v.type.elem_type == DType::kF32 && home_of(v.name) == low)
      v.type.elem_type = low;

  // ---- 5, 6 ----
  for (auto& [name, t] : home) types[name] = t;
  for (const Node& n : g.nodes)  // casts and rewritten Casts
    if (is_cast(n) && !n.outputs.empty())
      if (auto t = dtype_from_onnx(static_cast<int>(n.attr_int("to", 0)))) types[n.outputs[0]] = *t;
  const int64_t removed = fold_cast_chains(g, types);
  if (removed) rec.count("casts_removed", removed);
  BS_TRY(g.sort_topologically());
  rec.count("bytes_before", bytes_before);
  rec.count("bytes_after", constant_bytes(g));
  return Status::ok();
}

void validate_clamp_range(double min_positive_val, double max_finite_val, const std::string& pointer,
                          std::vector<std::string>& errors) {
  if (!(min_positive_val < max_finite_val))
    errors.push_back(pointer + ": min_positive_val (" + std::to_string(min_positive_val) +
                     ") must be below max_finite_val (" + std::to_string(max_finite_val) + ")");
}

}  // namespace bitsmith::passes_detail
