// Scope: node selection by name glob, op type and position.
#include "bitsmith/passes/scope.h"

#include <fnmatch.h>

#include <algorithm>
#include <unordered_set>

#include "bitsmith/ir/op_schema.h"
#include "bitsmith/passes/options.h"

namespace bitsmith {
namespace {

const OptionTable<Selector>& selector_table() {
  static const OptionTable<Selector> table =
      OptionTable<Selector>("selector key")
          .string_list("names", &Selector::names, "Node-name globs (fnmatch: *, ?, [abc]; '*' also matches '/')")
          .string_list("ops", &Selector::ops, "Op types (\"Conv\"; \"domain.Op\" outside the default domain)")
          .flag("first_weighted", &Selector::first_weighted, "The first weighted layer in topological order")
          .flag("last_weighted", &Selector::last_weighted, "The last weighted layer in topological order")
          .flag("output_producers", &Selector::output_producers, "Nodes that produce a graph output");
  return table;
}

bool glob_match(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

// Index of the weight input of a weighted op, or -1 when `node` is not one.
int weight_input_index(const Node& node) {
  if (is_default_domain(node.domain)) {
    static const std::unordered_set<std::string> kInput1 = {"Conv",          "ConvTranspose", "Gemm",   "MatMul",
                                                            "ConvInteger",   "MatMulInteger"};
    if (kInput1.count(node.op_type)) return 1;
    if (node.op_type == "QLinearConv" || node.op_type == "QLinearMatMul") return 3;
    return -1;
  }
  if (node.domain == "com.microsoft" && node.op_type == "MatMulNBits") return 1;
  return -1;
}

// Outputs of default-domain Constant nodes.
std::unordered_set<std::string> constant_node_outputs(const Graph& graph) {
  std::unordered_set<std::string> out;
  for (const Node& node : graph.nodes)
    if (node.op_type == "Constant" && is_default_domain(node.domain))
      for (const std::string& o : node.outputs) out.insert(o);
  return out;
}

bool weighted(const Graph& graph, size_t node_index, const std::unordered_set<std::string>& constant_outputs) {
  const Node& node = graph.nodes[node_index];
  const int w = weight_input_index(node);
  if (w < 0 || static_cast<size_t>(w) >= node.inputs.size() || node.inputs[w].empty()) return false;
  const std::string& name = node.inputs[w];
  if (graph.find_initializer(name)) return graph.find_input(name) == nullptr;
  return constant_outputs.count(name) > 0;
}

// Precomputed positions of a graph: the first/last weighted layers and the output producers.
struct Positions {
  std::vector<bool> first_weighted, last_weighted, output_producer;
};

Positions positions_of(const Graph& graph) {
  const size_t n = graph.nodes.size();
  Positions p{std::vector<bool>(n), std::vector<bool>(n), std::vector<bool>(n)};
  std::unordered_set<std::string> outputs;
  for (const ValueInfo& v : graph.outputs) outputs.insert(v.name);
  for (size_t i = 0; i < n; ++i)
    for (const std::string& o : graph.nodes[i].outputs)
      if (!o.empty() && outputs.count(o)) p.output_producer[i] = true;
  std::vector<size_t> order;
  if (auto topo = graph.topological_order(); topo.is_ok()) order = *topo;
  else
    for (size_t i = 0; i < n; ++i) order.push_back(i);  // a broken graph: file order
  const std::unordered_set<std::string> constants = constant_node_outputs(graph);
  bool found = false;
  size_t last = 0;
  for (size_t i : order) {
    if (!weighted(graph, i, constants)) continue;
    if (!found) p.first_weighted[i] = true;
    found = true;
    last = i;
  }
  if (found) p.last_weighted[last] = true;
  return p;
}

bool selector_matches(const Selector& s, const Graph& graph, const Positions& pos, size_t i) {
  const Node& node = graph.nodes[i];
  if ((s.first_weighted && pos.first_weighted[i]) || (s.last_weighted && pos.last_weighted[i]) ||
      (s.output_producers && pos.output_producer[i]))
    return true;
  for (const std::string& g : s.names)
    if (glob_match(g, node.name)) return true;
  if (!s.ops.empty()) {
    const std::string op = qualified_op(node);
    if (std::find(s.ops.begin(), s.ops.end(), op) != s.ops.end()) return true;
  }
  return false;
}

void unmatched_of(const Selector& s, const char* which, const Graph& graph, std::vector<std::string>& out) {
  for (const std::string& g : s.names) {
    bool any = false;
    for (const Node& node : graph.nodes) any = any || glob_match(g, node.name);
    if (!any) out.push_back(std::string(which) + ".names: \"" + g + "\" matches no node");
  }
  for (const std::string& op : s.ops) {
    bool any = false;
    for (const Node& node : graph.nodes) any = any || qualified_op(node) == op;
    if (!any) out.push_back(std::string(which) + ".ops: \"" + op + "\" matches no node");
  }
}

}  // namespace

bool Selector::empty() const {
  return names.empty() && ops.empty() && !first_weighted && !last_weighted && !output_producers;
}

std::string qualified_op(const Node& node) {
  return is_default_domain(node.domain) ? node.op_type : node.domain + "." + node.op_type;
}

bool is_weighted_layer(const Graph& graph, size_t node_index) {
  return weighted(graph, node_index, constant_node_outputs(graph));
}

std::vector<bool> Scope::select(const Graph& graph) const {
  const size_t n = graph.nodes.size();
  if (selects_all()) return std::vector<bool>(n, true);
  const Positions pos = positions_of(graph);
  std::vector<bool> in(n);
  for (size_t i = 0; i < n; ++i)
    in[i] = (include.empty() || selector_matches(include, graph, pos, i)) &&
            !(!exclude.empty() && selector_matches(exclude, graph, pos, i));
  return in;
}

bool Scope::matches(const Graph& graph, size_t node_index) const {
  if (selects_all()) return true;
  return select(graph)[node_index];
}

std::vector<std::string> Scope::unmatched(const Graph& graph) const {
  std::vector<std::string> out;
  unmatched_of(include, "include", graph, out);
  unmatched_of(exclude, "exclude", graph, out);
  return out;
}

Scope Scope::from_json(const nlohmann::json& j, const std::string& pointer, std::vector<std::string>& errors) {
  Scope scope;
  if (!options_detail::check_object_keys(j, {"include", "exclude"}, pointer, "scope key", errors)) return scope;
  if (auto it = j.find("include"); it != j.end())
    selector_table().parse(*it, json_pointer_append(pointer, "include"), scope.include, errors);
  if (auto it = j.find("exclude"); it != j.end())
    selector_table().parse(*it, json_pointer_append(pointer, "exclude"), scope.exclude, errors);
  return scope;
}

Expected<Scope> Scope::from_json(const nlohmann::json& j, const std::string& pointer) {
  std::vector<std::string> errors;
  Scope scope = from_json(j, pointer, errors);
  if (!errors.empty()) return errors_to_status(errors);
  return scope;
}

nlohmann::json Scope::to_json() const {
  return {{"include", selector_table().to_json(include)}, {"exclude", selector_table().to_json(exclude)}};
}

}  // namespace bitsmith
