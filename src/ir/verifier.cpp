#include "bitsmith/ir/verifier.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "bitsmith/ir/op_schema.h"

namespace bitsmith {
namespace {

// What defines a value in its graph: a node index (>= 0) or one of these.
constexpr int64_t kGraphInput = -1;
constexpr int64_t kInitializer = -2;
constexpr int64_t kSparseInitializer = -3;

// Names visible in a graph: those of enclosing graphs (outer) plus this graph's own definitions
// (`own`: name -> definer, for duplicate messages).
struct Scope {
  const Scope* outer = nullptr;
  std::unordered_map<std::string, int64_t> own;

  bool visible(const std::string& n) const { return own.count(n) || (outer && outer->visible(n)); }
  bool in_outer(const std::string& n) const { return outer && outer->visible(n); }
};

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// "node 'conv3' (Conv)", or "node #4 (Conv)" when the node has no name.
std::string node_label(const Node& node, size_t index) {
  if (!node.name.empty()) return node.describe();
  std::string d = node.describe();  // "node '' (Conv)"
  return "node #" + std::to_string(index) + d.substr(d.find(" ("));
}

std::string definer_str(const Graph& graph, int64_t definer) {
  switch (definer) {
    case kGraphInput: return "a graph input";
    case kInitializer: return "an initializer";
    case kSparseInitializer: return "a sparse initializer";
    default: {
      const auto index = static_cast<size_t>(definer);
      return "an output of " + node_label(graph.nodes[index], index);
    }
  }
}

std::string count_range(int lo, int hi) {
  if (hi == OpSchema::kVariadic) return "at least " + std::to_string(lo);
  if (lo == hi) return std::to_string(lo);
  return std::to_string(lo) + " to " + std::to_string(hi);
}

Status verify_graph(const Graph& graph, const Scope* outer);

Status check_arity(const Node& node) {
  const OpSchema* schema = find_op_schema(node.domain, node.op_type);
  if (!schema) return Status::ok();
  const int n_in = static_cast<int>(node.inputs.size());
  const int n_out = static_cast<int>(node.outputs.size());
  if (n_in < schema->min_inputs || (schema->max_inputs != OpSchema::kVariadic && n_in > schema->max_inputs))
    return invalid_model("has " + std::to_string(n_in) + " inputs, expected " +
                         count_range(schema->min_inputs, schema->max_inputs));
  if (n_out < schema->min_outputs ||
      (schema->max_outputs != OpSchema::kVariadic && n_out > schema->max_outputs))
    return invalid_model("has " + std::to_string(n_out) + " outputs, expected " +
                         count_range(schema->min_outputs, schema->max_outputs));
  return Status::ok();
}

// Names of the Attribute members that hold a value and do not belong to its type (ONNX requires
// exactly one value field). The scalar members f and i count as set when non-zero.
std::string foreign_payload(const Attribute& a) {
  std::string found;
  auto note = [&](AttrType own, bool set, const char* what) {
    if (set && a.type != own) found += found.empty() ? what : std::string(", ") + what;
  };
  note(AttrType::kFloat, a.f != 0.f, "f");
  note(AttrType::kInt, a.i != 0, "i");
  note(AttrType::kString, !a.s.empty(), "s");
  note(AttrType::kTensor, a.t.defined(), "t");
  note(AttrType::kGraph, a.g != nullptr, "g");
  note(AttrType::kSparseTensor, a.sparse_tensor.values.defined(), "sparse_tensor");
  note(AttrType::kTypeProto, !a.type_proto.empty(), "tp");
  note(AttrType::kFloats, !a.floats.empty(), "floats");
  note(AttrType::kInts, !a.ints.empty(), "ints");
  note(AttrType::kStrings, !a.strings.empty(), "strings");
  note(AttrType::kTensors, !a.tensors.empty(), "tensors");
  note(AttrType::kGraphs, !a.graphs.empty(), "graphs");
  note(AttrType::kSparseTensors, !a.sparse_tensors.empty(), "sparse_tensors");
  note(AttrType::kTypeProtos, !a.type_protos.empty(), "type_protos");
  return found;
}

Status check_attribute(const Node& node, const Attribute& a, const Scope& scope) {
  const std::string where = "attribute " + quoted(a.name);
  if (a.type == AttrType::kUndefined) return invalid_model(where + " has no type");
  if (!a.ref_attr_name.empty()) return Status::ok();  // a reference carries no value
  const std::string foreign = foreign_payload(a);
  if (!foreign.empty())
    return invalid_model(where + " has type " + attr_type_name(a.type) + " but also holds " + foreign);
  if (is_default_domain(node.domain)) {
    const AttrType expected = expected_attr_type(a.name);
    if (expected != AttrType::kUndefined && expected != a.type)
      return invalid_model(where + " has type " + attr_type_name(a.type) + ", expected " +
                           attr_type_name(expected));
  }
  switch (a.type) {
    case AttrType::kTensor:
      if (!a.t.defined()) return invalid_model(where + " has type tensor but holds no tensor");
      break;
    case AttrType::kGraph:
      if (!a.g) return invalid_model(where + " has type graph but holds no graph");
      BS_TRY(verify_graph(*a.g, &scope).with_context(where));
      break;
    case AttrType::kGraphs:
      for (size_t k = 0; k < a.graphs.size(); ++k) {
        const std::string item = where + "[" + std::to_string(k) + "]";
        if (!a.graphs[k]) return invalid_model(item + " holds no graph");
        BS_TRY(verify_graph(*a.graphs[k], &scope).with_context(item));
      }
      break;
    default:
      break;
  }
  return Status::ok();
}

Status check_node(const Graph& graph, size_t index, Scope& scope,
                  const std::unordered_map<std::string, size_t>& producers) {
  const Node& node = graph.nodes[index];
  if (node.op_type.empty()) return invalid_model("op_type is empty");
  BS_TRY(check_arity(node));
  std::unordered_set<std::string> attr_names;
  for (const Attribute& a : node.attributes) {
    if (a.name.empty()) return invalid_model("an attribute has an empty name");
    if (!attr_names.insert(a.name).second)
      return invalid_model("attribute " + quoted(a.name) + " is given twice");
  }
  for (const std::string& in : node.inputs) {
    if (in.empty() || scope.visible(in)) continue;
    auto it = producers.find(in);
    if (it != producers.end() && it->second >= index)
      return invalid_model("input " + quoted(in) + " is not defined before use (it is produced later, by " +
                           node_label(graph.nodes[it->second], it->second) + ")");
    return invalid_model("input " + quoted(in) + " is not defined before use");
  }
  // Subgraphs see every name defined so far, but not this node's own outputs.
  for (const Attribute& a : node.attributes) BS_TRY(check_attribute(node, a, scope));
  for (const std::string& out : node.outputs) {
    if (out.empty()) continue;
    auto it = scope.own.find(out);
    if (it != scope.own.end())
      return invalid_model("output " + quoted(out) + " is already defined by " + definer_str(graph, it->second));
    if (scope.in_outer(out))
      return invalid_model("output " + quoted(out) + " shadows a value of an enclosing graph");
    scope.own.emplace(out, static_cast<int64_t>(index));
  }
  return Status::ok();
}

// Graph inputs, initializers and sparse initializers. An initializer may repeat a graph input
// (ONNX IR < 4 lists every initializer as an input); any other repetition is an error.
Status define_graph_values(const Graph& graph, Scope& scope) {
  for (const ValueInfo& v : graph.inputs) {
    if (v.name.empty()) return invalid_model("a graph input has an empty name");
    if (!scope.own.emplace(v.name, kGraphInput).second)
      return invalid_model("graph input " + quoted(v.name) + " is listed twice");
  }
  std::unordered_set<std::string> init_names;
  auto define_init = [&](const std::string& name, int64_t definer) -> Status {
    const std::string what = definer == kInitializer ? "initializer" : "sparse initializer";
    if (name.empty()) return invalid_model(definer_str(graph, definer) + " has an empty name");
    if (!init_names.insert(name).second) return invalid_model(what + " " + quoted(name) + " is defined twice");
    scope.own.emplace(name, definer);  // no-op when it is also a graph input
    return Status::ok();
  };
  for (const Tensor& t : graph.initializers) BS_TRY(define_init(t.name(), kInitializer));
  for (const SparseTensor& s : graph.sparse_initializers) BS_TRY(define_init(s.values.name(), kSparseInitializer));
  return Status::ok();
}

Status verify_graph(const Graph& graph, const Scope* outer) {
  Scope scope;
  scope.outer = outer;
  BS_TRY(define_graph_values(graph, scope));
  // First producer of each name, to tell "produced later" apart from "never defined".
  std::unordered_map<std::string, size_t> producers;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (const std::string& o : graph.nodes[i].outputs)
      if (!o.empty()) producers.emplace(o, i);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Status s = check_node(graph, i, scope, producers);
    if (!s) return s.with_context(node_label(graph.nodes[i], i));
  }
  for (const ValueInfo& v : graph.outputs) {
    if (v.name.empty()) return invalid_model("a graph output has an empty name");
    if (!scope.visible(v.name)) return invalid_model("graph output " + quoted(v.name) + " is not defined");
  }
  return Status::ok();
}

}  // namespace

Status verify(const Graph& graph) { return verify_graph(graph, nullptr); }

Status verify(const Model& model) {
  std::unordered_set<std::string> domains;
  for (const OpsetImport& o : model.opset_imports) {
    const std::string d = is_default_domain(o.domain) ? "ai.onnx" : o.domain;
    if (!domains.insert(d).second) return invalid_model("opset_import lists domain '" + d + "' twice");
  }
  return verify(model.graph);
}

}  // namespace bitsmith
