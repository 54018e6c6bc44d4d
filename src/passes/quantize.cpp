// quantize: post-training quantization of the weighted layers (Conv, Gemm, MatMul with constant
// f32 weights) in ctx.scope().
//
//   activations.mode "none"     weight-only: W_q -> DequantizeLinear -> op (int8/uint8 per-tensor
//                               or per-channel; int4/uint4 and per-block as blocked DQ, opset 21)
//   activations.mode "dynamic"  DynamicQuantizeLinear + MatMulInteger/ConvInteger + rescale
//   activations.mode "static"   activation ranges from calibration (ctx.calibration()), then QDQ
//                               units (format "qdq") or QLinearConv/QLinearMatMul ("qoperator")
// The rewrites live in quantize_{weights,qdq,qoperator}.cpp, calibration in
// quantize_calibrate.cpp (quantize_impl.h lists them).
//
// Defaults avoid ONNX Runtime's AVX2 trap (issue 4, §5 (a)): 8-bit weights use 7 bits of range
// (reduce_range, |q| <= 63), so u8 x s8 pair sums in vpmaddubsw cannot saturate int16.
// Blocked int4 DQ + MatMul is rewritten by ORT (1.30) into MatMulNBits, which quantizes the
// activations to int8 unless the session sets session.qdq_matmulnbits_accuracy_level=0; the
// model's metadata names the setting it expects (bitsmith.quantize.ort_session_config).
//
// Refusals (an error Status; the model is left untouched): a model already quantized (naming the
// QDQ/QLinear nodes), options the modes cannot combine, a scope include naming an op type this
// pass cannot quantize, missing, empty or mismatched calibration data, an opset upgrade that would
// change the meaning of another node.
// The model's default-domain opset is raised to what the written ops need (13; 21 for blocked or
// 4-bit weights), with the IR version to match.
#include <algorithm>
#include <set>
#include <variant>

#include "bitsmith/ir/op_schema.h"
#include "passes/pass_impl.h"
#include "passes/quantize_impl.h"

namespace bitsmith {
namespace quantize_detail {

using passes_detail::find_value_type;
using passes_detail::input_at;
using passes_detail::is_constant_initializer;

const std::vector<std::string> kQuantizableOps = {"Conv", "Gemm", "MatMul"};

const OptionTable<WeightOptions>& weight_table() {
  static const OptionTable<WeightOptions> t =
      OptionTable<WeightOptions>()
          .enumeration("dtype", &WeightOptions::dtype, "Storage type of quantized weights",
                       {{"int8", DType::kI8}, {"uint8", DType::kU8}, {"int4", DType::kI4}, {"uint4", DType::kU4}})
          .enumeration("granularity", &WeightOptions::granularity,
                       "One scale per tensor, per output channel, or per block of block_size along the reduction axis",
                       {{"per-tensor", Granularity::kPerTensor},
                        {"per-channel", Granularity::kPerChannel},
                        {"per-block", Granularity::kPerBlock}})
          .optional_integer("axis", &WeightOptions::axis,
                            "Weight axis of per-channel scales / blocks (null: the op's own; only with "
                            "activations.mode none)",
                            -8, 7)
          .integer("block_size", &WeightOptions::block_size,
                   "Elements per block (per-block); a last block may be shorter when it does not divide the axis", 16,
                   256)
          .flag("symmetric", &WeightOptions::symmetric, "Zero point 0 (signed) or the midpoint (unsigned)")
          .flag("reduce_range", &WeightOptions::reduce_range,
                "8-bit weights use 7 bits (|q| <= 63): avoids int16 saturation in ONNX Runtime's AVX2 u8 x s8 kernels");
  return t;
}

const OptionTable<ActivationOptions>& activation_table() {
  static const OptionTable<ActivationOptions> t =
      OptionTable<ActivationOptions>()
          .enumeration("mode", &ActivationOptions::mode,
                       "none: weight-only; dynamic: ranges computed at run time; static: ranges from calibration",
                       {{"none", ActivationMode::kNone}, {"dynamic", ActivationMode::kDynamic}, {"static", ActivationMode::kStatic}})
          .enumeration("dtype", &ActivationOptions::dtype, "Activation storage type (dynamic: uint8 only)",
                       {{"uint8", DType::kU8}, {"int8", DType::kI8}})
          .enumeration("observer", &ActivationOptions::observer, "How static ranges are chosen from calibration data",
                       {{"minmax", ObserverKind::kMinMax},
                        {"moving-average", ObserverKind::kMovingAverage},
                        {"percentile", ObserverKind::kPercentile},
                        {"entropy", ObserverKind::kEntropy},
                        {"mse", ObserverKind::kMse}})
          .real("percentile", &ActivationOptions::percentile, "Percentile of |x| kept (observer percentile)", 50.0, 100.0)
          .integer("bins", &ActivationOptions::bins, "Histogram bins (percentile, entropy, mse)", 128, 1 << 16)
          .real("averaging_constant", &ActivationOptions::averaging_constant,
                "Weight of each new batch (observer moving-average)", 1e-6, 1.0)
          .flag("symmetric", &ActivationOptions::symmetric, "Symmetric activation range (zero point 0 / 128)");
  return t;
}

const OptionTable<QuantizeOptions>& quantize_option_table() {
  static const OptionTable<QuantizeOptions> t =
      OptionTable<QuantizeOptions>()
          .group("weights", &QuantizeOptions::weights, "Weight quantization", weight_table())
          .group("activations", &QuantizeOptions::activations, "Activation quantization", activation_table())
          .enumeration("format", &QuantizeOptions::format,
                       "qdq: QuantizeLinear/DequantizeLinear around float ops; qoperator: QLinearConv/QLinearMatMul "
                       "(static mode; dynamic mode always writes MatMulInteger/ConvInteger)",
                       {{"qdq", QuantFormat::kQdq}, {"qoperator", QuantFormat::kQOperator}})
          .string_list("ops", &QuantizeOptions::ops, "Op types to quantize", kQuantizableOps)
          .integer("calibration_batches", &QuantizeOptions::calibration_batches,
                   "Calibration batches used (0: all the data given)", 0, int64_t{1} << 40);
  return t;
}

namespace {

// Ops that show a model is already quantized.
bool is_quantized_op(const Node& n) {
  static const std::set<std::string> kDefault = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                                                 "QLinearConv",    "QLinearMatMul",    "MatMulInteger",
                                                 "ConvInteger"};
  static const std::set<std::string> kMicrosoft = {"MatMulNBits", "DynamicQuantizeMatMul", "MatMulIntegerToFloat",
                                                   "QuantizeLinear", "DequantizeLinear", "QGemm", "QAttention"};
  if (is_default_domain(n.domain)) return kDefault.count(n.op_type) > 0;
  if (n.domain == "com.microsoft") return kMicrosoft.count(n.op_type) > 0 || n.op_type.rfind("QLinear", 0) == 0;
  return false;
}

// Default-domain ops whose meaning or signature changed at `version`: a node of such an op stops
// being valid when the opset is raised across that version. `attr`: breaks only when the node has
// that (removed) attribute; nullptr: always.
struct OpsetBreak {
  const char* op;
  int64_t version;
  const char* attr;
  const char* change;
};
const OpsetBreak kOpsetBreaks[] = {
    {"Reshape", 5, "shape", "takes the shape as an input"},
    {"Add", 7, "broadcast", "dropped the broadcast attribute"},
    {"Sub", 7, "broadcast", "dropped the broadcast attribute"},
    {"Mul", 7, "broadcast", "dropped the broadcast attribute"},
    {"Div", 7, "broadcast", "dropped the broadcast attribute"},
    {"Pow", 7, "broadcast", "dropped the broadcast attribute"},
    {"Gemm", 7, "broadcast", "dropped the broadcast attribute"},
    {"BatchNormalization", 9, "spatial", "dropped the spatial attribute"},
    {"Upsample", 10, nullptr, "was removed (Resize replaces it)"},
    {"Slice", 10, "starts", "takes starts/ends/axes as inputs"},
    {"TopK", 10, "k", "takes k as an input"},
    {"Pad", 11, "pads", "takes pads as an input"},
    {"Clip", 11, "min", "takes min/max as inputs"},
    {"Clip", 11, "max", "takes min/max as inputs"},
    {"Resize", 11, nullptr, "gained the roi input and coordinate modes"},
    {"Scatter", 11, nullptr, "was removed (ScatterElements replaces it)"},
    {"Dropout", 12, "ratio", "takes ratio as an input"},
    {"Softmax", 13, nullptr, "changed the meaning of axis"},
    {"LogSoftmax", 13, nullptr, "changed the meaning of axis"},
    {"Hardmax", 13, nullptr, "changed the meaning of axis"},
    {"Split", 13, "split", "takes split as an input"},
    {"Squeeze", 13, "axes", "takes axes as an input"},
    {"Unsqueeze", 13, "axes", "takes axes as an input"},
    {"ReduceSum", 13, "axes", "takes axes as an input"},
    {"ReduceMean", 18, "axes", "takes axes as an input"},
    {"ReduceMax", 18, "axes", "takes axes as an input"},
    {"ReduceMin", 18, "axes", "takes axes as an input"},
    {"ReduceProd", 18, "axes", "takes axes as an input"},
    {"ReduceL1", 18, "axes", "takes axes as an input"},
    {"ReduceL2", 18, "axes", "takes axes as an input"},
    {"ReduceLogSum", 18, "axes", "takes axes as an input"},
    {"ReduceLogSumExp", 18, "axes", "takes axes as an input"},
    {"ReduceSumSquare", 18, "axes", "takes axes as an input"},
};

// Nodes that would change meaning if the default opset went from `from` to `to`.
std::vector<std::string> opset_conflicts(const Graph& g, int64_t from, int64_t to) {
  std::vector<std::string> out;
  for (const Node& n : g.nodes) {
    if (!is_default_domain(n.domain)) continue;
    for (const OpsetBreak& b : kOpsetBreaks) {
      if (n.op_type != b.op || b.version <= from || b.version > to) continue;
      if (b.attr && !n.find_attr(b.attr)) continue;
      out.push_back(n.describe() + ": " + b.op + "-" + std::to_string(b.version) + " " + b.change);
      break;
    }
    // Split-18 needs the split input or num_outputs.
    if (n.op_type == "Split" && from < 18 && to >= 18 && !n.find_attr("num_outputs") &&
        (n.inputs.size() < 2 || n.inputs[1].empty()))
      out.push_back(n.describe() + ": Split-18 needs the split input or num_outputs");
  }
  return out;
}

using MatchResult = std::variant<QuantNode, std::string>;

// Reads a constant f32 initializer; returns why not, or "".
std::string constant_f32(const Graph& g, const std::string& name, const std::string& what) {
  if (!is_constant_initializer(g, name))
    return what + " '" + name + "' is not a constant initializer" +
           (g.find_initializer(name) ? " (it is also a graph input)" : "");
  const Tensor* t = g.find_initializer(name);
  if (t->dtype() != DType::kF32)
    return what + " '" + name + "' is " + std::string(dtype_name(t->dtype())) + "; only f32 is quantized";
  return "";
}

MatchResult match_node(const Graph& g, size_t i, const QuantizeOptions& o) {
  const Node& node = g.nodes[i];
  QuantNode n;
  n.index = i;
  n.op = node.op_type;
  const std::string x = input_at(node, 0);
  n.weight = input_at(node, 1);
  if (x.empty() || n.weight.empty() || node.outputs.empty() || node.outputs[0].empty())
    return "has no activation, weight or output";
  if (g.find_initializer(x)) return "input 0 '" + x + "' is a constant, not an activation";
  if (const TypeInfo* t = find_value_type(g, x); t && t->kind == TypeInfo::Kind::kTensor && t->elem_type != DType::kF32)
    return "activation '" + x + "' is " + std::string(dtype_name(t->elem_type)) + "; only f32 is quantized";
  if (std::string r = constant_f32(g, n.weight, "weight"); !r.empty()) return r;
  const Tensor& w = *g.find_initializer(n.weight);
  if (n.op == "Conv") {
    if (w.rank() < 3) return "weight has rank " + std::to_string(w.rank()) + ", expected at least 3";
  } else if (w.rank() != 2) {
    return "weight has rank " + std::to_string(w.rank()) + "; only 2-D weights are quantized";
  }
  if (w.numel() == 0) return "weight is empty";
  if (n.op == "Gemm") {
    if (node.attr_int("transA", 0) != 0) return "transA=1 (only transA=0 is quantized)";
    n.trans_b = node.attr_int("transB", 0) != 0;
    n.alpha = node.attr_float("alpha", 1.f);
    n.beta = node.attr_float("beta", 1.f);
  }
  const bool needs_bias = o.activations.mode != ActivationMode::kNone;
  if (n.op != "MatMul" && !input_at(node, 2).empty() && needs_bias) {
    n.bias = input_at(node, 2);
    if (std::string r = constant_f32(g, n.bias, "bias"); !r.empty()) return r;
    const int64_t channels = n.op == "Conv" ? w.dim(0) : (n.trans_b ? w.dim(0) : w.dim(1));
    const Tensor& b = *g.find_initializer(n.bias);
    if (b.numel() != channels && b.numel() != 1)
      return "bias '" + n.bias + "' has shape " + shape_str(b.shape()) + "; only a per-output-channel bias [" +
             std::to_string(channels) + "] is quantized";
  }
  return n;
}

// Makes weights that are constant in practice visible as constant initializers:
//  - IR version < 4 required every initializer to be listed as a graph input too; such inputs
//    are removed from the inputs (the output model has IR >= 7, where they would be overridable);
//  - a weight computed by Reshape(constant f32, constant shape) (old exports) is folded into an
//    initializer named like the Reshape's output.
void prepare_weights(Model& model, const QuantizeOptions& o, PassRecord& rec, std::vector<std::string>& candidates) {
  Graph& g = model.graph;
  if (model.ir_version < 4) {
    const size_t before = g.inputs.size();
    std::erase_if(g.inputs, [&](const ValueInfo& vi) { return g.find_initializer(vi.name) != nullptr; });
    if (g.inputs.size() != before)
      rec.notes.push_back("IR version " + std::to_string(model.ir_version) + ": " +
                          std::to_string(before - g.inputs.size()) +
                          " initializer(s) listed as graph inputs are treated as constants (removed from the inputs)");
  }
  const auto producers = g.producer_index();
  std::vector<bool> erase(g.nodes.size(), false);
  for (const Node& node : g.nodes) {
    if (!is_default_domain(node.domain) || node.inputs.size() < 2) continue;
    if (std::find(o.ops.begin(), o.ops.end(), node.op_type) == o.ops.end()) continue;
    auto p = producers.find(node.inputs[1]);
    if (p == producers.end() || erase[p->second]) continue;
    const Node& r = g.nodes[p->second];
    if (r.op_type != "Reshape" || !is_default_domain(r.domain) || r.inputs.size() != 2 || r.outputs.size() != 1 ||
        r.attr_int("allowzero", 0) != 0 || !is_constant_initializer(g, r.inputs[0]) ||
        !is_constant_initializer(g, r.inputs[1]))
      continue;
    const Tensor& data = *g.find_initializer(r.inputs[0]);
    const Tensor& shape_t = *g.find_initializer(r.inputs[1]);
    if (data.dtype() != DType::kF32 || shape_t.dtype() != DType::kI64 || shape_t.rank() != 1) continue;
    Shape shape;
    int64_t known = 1, infer = -1;
    for (int64_t i = 0; i < shape_t.numel(); ++i) {
      int64_t d = shape_t.data<int64_t>()[i];
      if (d == 0 && i < data.rank()) d = data.dim(static_cast<int>(i));
      if (d == -1) infer = i;
      else known *= d;
      shape.push_back(d);
    }
    if (infer >= 0 && known > 0) shape[infer] = data.numel() / known;
    if (shape_numel(shape) != data.numel() || std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; }))
      continue;
    Tensor folded = data.reshaped(shape);
    folded.set_name(r.outputs[0]);
    passes_detail::set_initializer(g, std::move(folded));
    rec.touch(r, p->second, "folded into initializer '" + r.outputs[0] + "' (a constant weight)");
    erase[p->second] = true;
    candidates.push_back(r.inputs[0]);
    candidates.push_back(r.inputs[1]);
  }
  passes_detail::erase_nodes(g, erase);
}

class QuantizePass final : public PassWithOptions<QuantizeOptions> {
 public:
  QuantizePass(std::string_view name, Options options) : PassWithOptions(name, std::move(options), option_table()) {}
  static const OptionTable<Options>& option_table() { return quantize_option_table(); }

  static void validate(const Options& o, const std::string& pointer, std::vector<std::string>& errors) {
    const bool four_bit = dtype_bits(o.weights.dtype) == 4;
    const std::string act = json_pointer_append(json_pointer_append(pointer, "activations"), "mode");
    if (o.activations.mode != ActivationMode::kNone) {
      if (four_bit)
        errors.push_back(act + ": 4-bit weights are weight-only; set activations.mode to \"none\" (got \"" +
                         std::string(o.activations.mode == ActivationMode::kStatic ? "static" : "dynamic") + "\")");
      if (o.weights.granularity == Granularity::kPerBlock)
        errors.push_back(act + ": per-block weights are weight-only; set activations.mode to \"none\" or use "
                               "per-channel granularity");
      if (o.weights.axis)
        errors.push_back(json_pointer_append(json_pointer_append(pointer, "weights"), "axis") +
                         ": an explicit axis is only allowed with activations.mode \"none\" (integer kernels need "
                         "per-output-channel scales)");
    }
    if (o.activations.mode == ActivationMode::kDynamic && o.activations.dtype != DType::kU8)
      errors.push_back(json_pointer_append(json_pointer_append(pointer, "activations"), "dtype") +
                       ": dynamic activations are uint8 (DynamicQuantizeLinear), got \"int8\"");
    if (o.activations.mode == ActivationMode::kNone && o.format == QuantFormat::kQOperator)
      errors.push_back(json_pointer_append(pointer, "format") +
                       ": \"qoperator\" needs quantized activations; weight-only models are written as qdq");
  }

  Status run(Model& model, PassContext& ctx) override;

 private:
  // Rewrites `model`; `applied` false when no node was quantized (model then to be discarded).
  Status run_on(Model& model, PassContext& ctx, bool& applied) const;
};

int64_t required_opset(const QuantizeOptions& o) {
  if (dtype_bits(o.weights.dtype) == 4 || o.weights.granularity == Granularity::kPerBlock) return 21;
  return 13;
}

Status QuantizePass::run(Model& model, PassContext& ctx) {
  // Work on a copy (tensors are shared handles, so this is cheap): an error leaves `model` as it was.
  Model work = model;
  PassRecord& rec = ctx.record();
  const size_t touched = rec.touched.size(), notes = rec.notes.size();
  bool applied = false;
  BS_TRY(run_on(work, ctx, applied));
  if (!applied) {  // nothing quantized: the preparation (prepare_weights) is not kept either
    rec.touched.resize(touched);
    rec.notes.resize(notes);
    return Status::ok();
  }
  model = std::move(work);
  return Status::ok();
}

void apply_edits(Graph& g, RewriteContext& rc) {
  std::vector<Node> nodes;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (Node& n : rc.before[i]) nodes.push_back(std::move(n));
    if (!rc.erase[i]) nodes.push_back(std::move(g.nodes[i]));
    for (Node& n : rc.after[i]) nodes.push_back(std::move(n));
  }
  g.nodes = std::move(nodes);
}

Status QuantizePass::run_on(Model& model, PassContext& ctx, bool& applied) const {
  const Options& o = options();
  Graph& g = model.graph;
  PassRecord& rec = ctx.record();
  // 1. Refusals that do not depend on nodes.
  std::vector<std::string> quantized;
  for (const Node& n : g.nodes)
    if (is_quantized_op(n)) quantized.push_back(n.describe());
  if (!quantized.empty()) {
    const size_t shown = std::min<size_t>(quantized.size(), 5);
    std::vector<std::string> list(quantized.begin(), quantized.begin() + static_cast<long>(shown));
    return unsupported("quantize: the model is already quantized: " + std::to_string(quantized.size()) +
                       " quantized node(s), e.g. " + bracket_list(list));
  }
  for (const std::string& op : ctx.scope().include.ops)
    if (std::find(o.ops.begin(), o.ops.end(), op) == o.ops.end())
      return invalid_argument("quantize: scope include names op type \"" + op + "\", which this pass does not quantize" +
                              " (it quantizes " + bracket_list(o.ops) + "; options.ops selects among " +
                              bracket_list(kQuantizableOps) + ")");
  BS_TRY(g.sort_topologically());
  std::vector<std::string> candidates;  // initializers that may become unused
  prepare_weights(model, o, rec, candidates);

  // 2. Does it apply? One QuantNode per node the rewrite applies to; the rest recorded.
  const std::vector<bool> in_scope = ctx.scope().select(g);
  std::vector<QuantNode> nodes;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& node = g.nodes[i];
    if (!is_default_domain(node.domain)) continue;
    const bool listed = std::find(o.ops.begin(), o.ops.end(), node.op_type) != o.ops.end();
    if (!listed) {
      if (is_weighted_layer(g, i)) rec.skip(node, i, "op " + node.op_type + " is not in options.ops " + bracket_list(o.ops));
      continue;
    }
    MatchResult r = in_scope[i] ? match_node(g, i, o) : MatchResult(std::string("outside the pass scope"));
    if (auto* reason = std::get_if<std::string>(&r)) {
      rec.skip(node, i, *reason);
      rec.count("skipped");
      continue;
    }
    nodes.push_back(std::get<QuantNode>(r));
  }
  if (nodes.empty()) return Status::ok();
  applied = true;

  // 3. Opset.
  const int64_t have = model.opset(""), need = required_opset(o);
  if (have < 0) return invalid_model("quantize: the model does not import the default ONNX domain");
  if (have < need) {
    const std::vector<std::string> conflicts = opset_conflicts(g, have, need);
    if (!conflicts.empty())
      return unsupported("quantize: the quantized ops need ONNX opset " + std::to_string(need) + ", the model has " +
                         std::to_string(have) + ", and raising it would change these nodes: " +
                         bracket_list(conflicts) + " (upgrade the model's opset first)");
  }

  // 4. Calibration (static).
  Ranges ranges;
  if (o.activations.mode == ActivationMode::kStatic) {
    std::vector<std::string> values;
    std::set<std::string> seen;
    for (const QuantNode& n : nodes)
      for (const std::string& v : {g.nodes[n.index].inputs[0], g.nodes[n.index].outputs[0]})
        if (seen.insert(v).second) values.push_back(v);
    BS_TRY(calibrate(model, ctx, o, values, ranges));
  }

  // 5. Rewrite.
  passes_detail::NameAllocator names(g);
  RewriteContext rc{model, ctx, o, names, candidates, {}, {}, {}};
  rc.before.resize(g.nodes.size());
  rc.after.resize(g.nodes.size());
  rc.erase.assign(g.nodes.size(), false);
  switch (o.activations.mode) {
    case ActivationMode::kNone: BS_TRY(rewrite_weight_only(rc, nodes)); break;
    case ActivationMode::kDynamic: BS_TRY(rewrite_dynamic(rc, nodes)); break;
    case ActivationMode::kStatic:
      BS_TRY(o.format == QuantFormat::kQdq ? rewrite_static_qdq(rc, nodes, ranges)
                                           : rewrite_static_qoperator(rc, nodes, ranges));
      break;
  }
  apply_edits(g, rc);
  rec.count("initializers_removed", static_cast<int64_t>(passes_detail::remove_unused_initializers(g, candidates)));
  BS_TRY(g.sort_topologically());

  // 6. Opset, provenance, notes.
  if (have < need) {
    for (OpsetImport& imp : model.opset_imports)
      if (is_default_domain(imp.domain)) imp.version = need;
    rec.notes.push_back("default-domain opset raised from " + std::to_string(have) + " to " + std::to_string(need));
  }
  const int64_t ir = need >= 21 ? 10 : 7;
  if (model.ir_version < ir) model.ir_version = ir;
  if (dtype_bits(o.weights.dtype) == 8 && o.activations.mode != ActivationMode::kNone)
    rec.notes.push_back(o.weights.reduce_range
                            ? "weights use 7 bits (reduce_range): ONNX Runtime's AVX2 u8 x s8 kernels cannot saturate"
                            : "weights use the full 8-bit range: ONNX Runtime's AVX2 kernels (no VNNI) may saturate "
                              "int16 with uint8 activations; set weights.reduce_range for CPU targets");
  std::string ort_config;
  if (o.activations.mode == ActivationMode::kNone && dtype_bits(o.weights.dtype) == 4 &&
      std::any_of(nodes.begin(), nodes.end(), [](const QuantNode& n) { return n.op == "MatMul"; })) {
    ort_config = "session.qdq_matmulnbits_accuracy_level=0";
    rec.notes.push_back(
        "ONNX Runtime rewrites blocked 4-bit DequantizeLinear + MatMul into MatMulNBits; this model expects " +
        ort_config + " (float activations); without it ORT quantizes activations to int8 (error ~1e-2)");
  }
  model.set_metadata("bitsmith.version", BITSMITH_VERSION);
  model.set_metadata("bitsmith.quantize.options", quantize_option_table().to_json(o).dump());
  model.set_metadata("bitsmith.seed", std::to_string(ctx.seed()));
  if (!ort_config.empty()) model.set_metadata("bitsmith.quantize.ort_session_config", ort_config);
  return Status::ok();
}

}  // namespace
}  // namespace quantize_detail

using QuantizePass = quantize_detail::QuantizePass;

}  // namespace bitsmith

BS_DEFINE_PASS(QuantizePass)
