// Scope: which nodes of a graph a pass may touch. Shared by every pass; passes ask
// `scope.select(graph)` once and skip nodes outside it (recording "outside the pass scope").
//
// A Selector matches a node when ANY of its criteria does (OR):
//   names            node-name globs (fnmatch, no flags: '*' also matches '/'), e.g. "/blocks.0/*"
//   ops              op types ("Conv"; "com.microsoft.MatMulNBits" for other domains)
//   first_weighted   the first weighted layer in topological order
//   last_weighted    the last weighted layer in topological order
//   output_producers nodes that produce a graph output
// Position criteria do not depend on names, so "keep the first and last layers in float" works
// on any export. A weighted layer is a Conv, ConvTranspose, Gemm, MatMul (or their quantized
// forms ConvInteger, MatMulInteger, QLinearConv, QLinearMatMul, com.microsoft.MatMulNBits)
// whose weight input (input 1; input 3 for QLinear*) is a constant: an initializer that is not
// a graph input, or the output of a Constant node.
//
// A node is in scope when include is empty or matches it, and exclude does not match it.
// The default Scope (both empty) selects every node.
//
// JSON form (strictly validated like options; errors name the JSON pointer):
//   {"include": {"names": ["/blocks.*"], "ops": ["MatMul"]},
//    "exclude": {"names": ["*head*"], "ops": [], "first_weighted": true, "last_weighted": true,
//                "output_producers": true}}
// Both keys are optional; so is every key inside them.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith {

struct Selector {
  std::vector<std::string> names;  // fnmatch globs on Node::name
  std::vector<std::string> ops;    // op types, "domain.Op" outside the default domain
  bool first_weighted = false;
  bool last_weighted = false;
  bool output_producers = false;

  // True when no criterion is set (matches nothing).
  bool empty() const;
};

class Scope {
 public:
  Selector include;  // empty: every node
  Selector exclude;  // empty: no node

  // True for the default scope (selects everything).
  bool selects_all() const { return include.empty() && exclude.empty(); }

  // One flag per node of `graph` (in graph.nodes order): true when the node is in scope.
  // O(nodes + edges). Use this in loops.
  std::vector<bool> select(const Graph& graph) const;
  // The same for one node (computes the positions each call: O(nodes + edges)).
  bool matches(const Graph& graph, size_t node_index) const;

  // Name globs and op types of include/exclude that match no node of `graph`, as messages
  // ("exclude.names: \"*hed*\" matches no node"), so a typo is reported rather than silent.
  std::vector<std::string> unmatched(const Graph& graph) const;

  // Strict parse of the JSON form; every error collected, each naming its JSON pointer
  // (`pointer` is where `j` sits, e.g. "/pipeline/1/scope").
  static Expected<Scope> from_json(const nlohmann::json& j, const std::string& pointer);
  // Appends the errors instead (for callers collecting a whole recipe's errors).
  static Scope from_json(const nlohmann::json& j, const std::string& pointer, std::vector<std::string>& errors);
  // Canonical JSON (both selectors, every key).
  nlohmann::json to_json() const;
};

// True when node `node_index` is a weighted layer (see above).
bool is_weighted_layer(const Graph& graph, size_t node_index);

// "Conv", or "domain.Op" outside the default domain (the spelling Selector::ops uses).
std::string qualified_op(const Node& node);

}  // namespace bitsmith
