// fold-constants: nodes whose inputs are all constant are evaluated once, now, and replaced by
// initializers holding their outputs.
//
// Constant means: an initializer that is not also a graph input (one that is can be overridden
// by the caller), the output of a node folded earlier in this run, and vacuously a node with no
// inputs (Constant). Evaluation uses the runtime's own kernels (the kernel registry), so a
// folded model computes bit-identical outputs. With fold_shapes, a Shape node whose input has
// static dims in the graph's type information (graph inputs, value_info, outputs) is folded
// too, even though the input itself is computed at run time.
//
// "Does it apply?" (classify) runs before "rewrite" (fold_node). A node whose inputs are not all
// constant is simply not applicable and not recorded. A node with constant inputs that is still
// kept is recorded as skipped with the reason: outside the scope, a random op (folding would
// freeze one draw), listed in keep_ops, has a subgraph, produces a graph output, has no kernel,
// its kernel failed (the message is kept), or its output would pass max_output_bytes (checked
// before evaluating ConstantOfShape, Expand and Tile, after evaluating anything else).
// Initializers left unused by the folding are removed.
#include <omp.h>

#include <algorithm>
#include <exception>
#include <new>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bitsmith/ir/op_schema.h"
#include "bitsmith/passes/options.h"
#include "bitsmith/passes/pass.h"
#include "bitsmith/runtime/kernel.h"
#include "bitsmith/runtime/kernel_registry.h"
#include "passes/graph_util.h"
#include "passes/pass_impl.h"

namespace bitsmith {
namespace {

using passes_detail::erase_nodes;
using passes_detail::find_value_type;
using passes_detail::remove_unused_initializers;

struct FoldConstantsOptions {
  int64_t max_output_bytes = int64_t{64} << 20;  // 64 MiB
  bool fold_shapes = true;
  std::vector<std::string> keep_ops = {"DequantizeLinear"};
};

const OptionTable<FoldConstantsOptions>& fold_constants_table() {
  static const OptionTable<FoldConstantsOptions> table =
      OptionTable<FoldConstantsOptions>()
          .integer("max_output_bytes", &FoldConstantsOptions::max_output_bytes,
                   "Largest total output of one folded node, in bytes; bigger results stay computed at run time",
                   0, int64_t{1} << 40)
          .flag("fold_shapes", &FoldConstantsOptions::fold_shapes,
                "Fold Shape nodes whose input has static dims in the graph's type information")
          .string_list("keep_ops", &FoldConstantsOptions::keep_ops,
                       "Op types never folded (\"domain.Op\" outside the default domain); random ops never are. "
                       "DequantizeLinear is kept so quantized weights stay quantized");
  return table;
}

// Ops whose output is a random draw: folding would freeze one sample.
const std::unordered_set<std::string> kRandomOps = {"RandomNormal",      "RandomNormalLike", "RandomUniform",
                                                    "RandomUniformLike", "Multinomial",      "Bernoulli"};

enum class Verdict { kNotApplicable, kFold, kFoldShape, kSkip };

struct Decision {
  Verdict verdict = Verdict::kNotApplicable;
  std::string reason;  // kSkip only
};

bool has_subgraph(const Node& node) {
  for (const Attribute& a : node.attributes)
    if (a.g || !a.graphs.empty()) return true;
  return false;
}

// The dims [start, end) Shape would return for `type`, when they are all static.
std::optional<Shape> static_shape_slice(const Node& node, const TypeInfo* type) {
  if (!type || type->kind != TypeInfo::Kind::kTensor || !type->has_shape) return std::nullopt;
  const auto rank = static_cast<int64_t>(type->dims.size());
  auto clamp_dim = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  const int64_t start = clamp_dim(node.attr_int("start", 0)), end = clamp_dim(node.attr_int("end", rank));
  Shape dims;
  for (int64_t d = start; d < end; ++d) {
    if (!type->dims[d].has_value()) return std::nullopt;
    dims.push_back(type->dims[d].value);
  }
  return dims;
}

// Output bytes of the ops that expand small constants into big ones, before evaluating them;
// -1 when not estimated. Doubles: the products may overflow int64.
double estimated_output_bytes(const Node& node, const std::vector<const Tensor*>& in) {
  auto values = [](const Tensor* t) {
    std::vector<double> v;
    if (t && t->dtype() == DType::kI64)
      for (int64_t i = 0; i < t->numel(); ++i) v.push_back(static_cast<double>(t->data<int64_t>()[i]));
    return v;
  };
  auto product = [](const std::vector<double>& v) {
    double p = 1;
    for (double d : v) p *= std::max(d, 0.0);
    return p;
  };
  if (node.op_type == "ConstantOfShape" && !in.empty()) {
    const Attribute* value = node.find_attr("value");
    const DType dt = value && value->t.defined() ? value->t.dtype() : DType::kF32;
    return product(values(in[0])) * dtype_bits(dt) / 8.0;
  }
  if (in.size() < 2 || !in[0]) return -1;
  const double elem = dtype_bits(in[0]->dtype()) / 8.0;
  if (node.op_type == "Tile") return static_cast<double>(in[0]->numel()) * product(values(in[1])) * elem;
  if (node.op_type == "Expand") {
    std::vector<double> shape = values(in[1]);
    const Shape& s = in[0]->shape();
    if (s.size() > shape.size()) shape.insert(shape.begin(), s.size() - shape.size(), 1.0);
    for (size_t k = 0; k < s.size(); ++k) {
      double& d = shape[shape.size() - s.size() + k];
      d = std::max(d, static_cast<double>(s[k]));
    }
    return product(shape) * elem;
  }
  return -1;
}

std::string describe_tensor(const Tensor& t) {
  return "'" + t.name() + "' (" + std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) + ")";
}

// Evaluates `node` on constant inputs with its registered kernel.
Expected<std::vector<Tensor>> evaluate(const Graph& g, const Node& node, int64_t opset,
                                       const std::vector<const Tensor*>& inputs, int num_threads) {
  const KernelEntry* entry = find_kernel(node.domain, node.op_type, opset);
  if (!entry) return unsupported("no kernel for " + qualified_op(node) + " (opset " + std::to_string(opset) + ")");
  std::vector<Tensor> outs(node.outputs.size());
  try {
    KernelInfo info{node, g, opset};
    BS_ASSIGN_OR_RETURN(std::unique_ptr<OpKernel> kernel, entry->factory(info));
    KernelContext kc{node, inputs, outs, num_threads};
    BS_TRY(kernel->compute(kc));
  } catch (const std::bad_alloc&) {
    return data_error("out of memory while evaluating it");
  } catch (const std::exception& e) {
    return internal_error(e.what());
  }
  for (size_t o = 0; o < outs.size(); ++o)
    if (!node.outputs[o].empty() && !outs[o].defined())
      return internal_error("kernel produced no value for output '" + node.outputs[o] + "'");
  return outs;
}

class FoldConstantsPass final : public PassWithOptions<FoldConstantsOptions> {
 public:
  FoldConstantsPass(std::string_view name, Options options)
      : PassWithOptions(name, std::move(options), option_table()) {}
  static const OptionTable<Options>& option_table() { return fold_constants_table(); }

  Status run(Model& model, PassContext& ctx) override;

 private:
  // State of one run().
  struct Run {
    Model& model;
    PassContext& ctx;
    std::vector<bool> in_scope;
    std::unordered_set<std::string> graph_outputs;
    std::unordered_map<std::string, Tensor> constants;  // value name -> value
    std::vector<bool> erase;
    std::vector<std::string> candidates;  // initializers that may end up unused
    int num_threads = 1;
  };

  Decision classify(const Run& r, size_t index) const;
  Status fold_node(Run& r, size_t index, Verdict verdict) const;
  void skip(Run& r, size_t index, const std::string& reason) const {
    r.ctx.record().skip(r.model.graph.nodes[index], index, reason);
    r.ctx.record().count("skipped");
  }
};

Decision FoldConstantsPass::classify(const Run& r, size_t index) const {
  const Node& node = r.model.graph.nodes[index];
  bool all_constant = true;
  for (const std::string& in : node.inputs) all_constant = all_constant && (in.empty() || r.constants.count(in));
  Verdict verdict = Verdict::kFold;
  if (!all_constant) {
    const bool shape = node.op_type == "Shape" && is_default_domain(node.domain) && options().fold_shapes &&
                       node.inputs.size() == 1 &&
                       static_shape_slice(node, find_value_type(r.model.graph, node.inputs[0]));
    if (!shape) return {};
    verdict = Verdict::kFoldShape;
  }
  const std::string op = qualified_op(node);
  const auto& keep = options().keep_ops;
  if (!r.in_scope[index]) return {Verdict::kSkip, "outside the pass scope"};
  if (is_default_domain(node.domain) && kRandomOps.count(node.op_type))
    return {Verdict::kSkip, "random op: folding would freeze one draw"};
  if (std::find(keep.begin(), keep.end(), op) != keep.end()) return {Verdict::kSkip, "listed in keep_ops"};
  if (has_subgraph(node)) return {Verdict::kSkip, "has a subgraph"};
  for (const std::string& out : node.outputs)
    if (r.graph_outputs.count(out)) return {Verdict::kSkip, "produces graph output '" + out + "'"};
  return {verdict, ""};
}

Status FoldConstantsPass::fold_node(Run& r, size_t index, Verdict verdict) const {
  Graph& g = r.model.graph;
  const Node& node = g.nodes[index];
  std::vector<Tensor> outs;
  if (verdict == Verdict::kFoldShape) {
    const Shape dims = *static_shape_slice(node, find_value_type(g, node.inputs[0]));
    outs.push_back(Tensor::from_vector<int64_t>(dims, {static_cast<int64_t>(dims.size())}));
  } else {
    std::vector<const Tensor*> in;
    for (const std::string& name : node.inputs) in.push_back(name.empty() ? nullptr : &r.constants.at(name));
    const double limit = static_cast<double>(options().max_output_bytes);
    if (const double est = estimated_output_bytes(node, in); est > limit) {
      skip(r, index, "output would be " + std::to_string(static_cast<int64_t>(est)) + " bytes, over max_output_bytes");
      return Status::ok();
    }
    Expected<std::vector<Tensor>> res = evaluate(g, node, r.model.opset(node.domain), in, r.num_threads);
    if (!res) {
      skip(r, index, "not evaluated: " + res.status().message());
      return Status::ok();
    }
    outs = std::move(*res);
  }
  int64_t bytes = 0;
  for (const Tensor& t : outs) bytes += t.defined() ? static_cast<int64_t>(t.nbytes()) : 0;
  if (bytes > options().max_output_bytes) {
    skip(r, index, "output is " + std::to_string(bytes) + " bytes, over max_output_bytes");
    return Status::ok();
  }
  std::string made;
  for (size_t o = 0; o < outs.size(); ++o) {
    if (node.outputs[o].empty()) continue;
    outs[o].set_name(node.outputs[o]);
    made += (made.empty() ? "" : ", ") + describe_tensor(outs[o]);
    r.constants[node.outputs[o]] = outs[o];
    g.initializers.push_back(outs[o]);  // visible to later kernels' KernelInfo::constant_input
    r.candidates.push_back(node.outputs[o]);
  }
  for (const std::string& in : node.inputs)
    if (!in.empty()) r.candidates.push_back(in);
  r.erase[index] = true;
  PassRecord& rec = r.ctx.record();
  rec.touch(node, index, "replaced by initializer " + made);
  rec.count(verdict == Verdict::kFoldShape ? "shapes_folded" : "folded");
  rec.count("bytes_added", bytes);
  return Status::ok();
}

Status FoldConstantsPass::run(Model& model, PassContext& ctx) {
  Graph& g = model.graph;
  BS_ASSIGN_OR_RETURN(const std::vector<size_t> order, g.topological_order());
  Run r{model, ctx, ctx.scope().select(g), {}, {}, std::vector<bool>(g.nodes.size(), false), {}, 1};
  r.num_threads = ctx.num_threads() > 0 ? ctx.num_threads() : omp_get_max_threads();
  for (const ValueInfo& v : g.outputs) r.graph_outputs.insert(v.name);
  std::unordered_set<std::string> inputs;
  for (const ValueInfo& v : g.inputs) inputs.insert(v.name);
  for (const Tensor& t : g.initializers)
    if (!inputs.count(t.name())) r.constants.emplace(t.name(), t);
  for (size_t index : order) {
    const Decision d = classify(r, index);
    if (d.verdict == Verdict::kNotApplicable) continue;
    if (d.verdict == Verdict::kSkip) skip(r, index, d.reason);
    else BS_TRY(fold_node(r, index, d.verdict));
  }
  erase_nodes(g, r.erase);
  ctx.record().count("initializers_removed", static_cast<int64_t>(remove_unused_initializers(g, r.candidates)));
  return Status::ok();
}

}  // namespace
}  // namespace bitsmith

BS_DEFINE_PASS(FoldConstantsPass)
