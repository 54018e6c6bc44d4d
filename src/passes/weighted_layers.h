// Choosing the layers of a pass over Conv/Gemm/MatMul weights (prune, low-rank, cluster): one
// place for "which weighted layers does this pass apply to, and why not the others".
#pragma once

#include <algorithm>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/options.h"
#include "bitsmith/passes/pass.h"
#include "bitsmith/passes/scope.h"
#include "passes/graph_util.h"

namespace bitsmith::passes_detail {

// How a weight pass names itself in messages: "prune" / "prunes".
struct WeightPassWords {
  const char* pass;   // "prune"
  const char* verb;   // "prune"
  const char* verbs;  // "prunes"
};

// Why a pass cannot rewrite weight `name` of a layer in place, or "" when it can: it must be a
// constant, non-empty f32 initializer read by this layer only (`uses` from value_use_counts).
// `done` completes "shared weights are not ..." ("pruned", "factored", "clustered").
inline std::string own_f32_weight_problem(const Graph& g, const std::string& name,
                                          const std::unordered_map<std::string, int>& uses, const char* done) {
  if (name.empty() || !is_constant_initializer(g, name)) return "weight '" + name + "' is not a constant initializer";
  const Tensor& w = *g.find_initializer(name);
  if (w.dtype() != DType::kF32) return "weight '" + name + "' is " + std::string(dtype_name(w.dtype())) + " (only f32)";
  if (w.numel() == 0) return "weight is empty";
  if (auto it = uses.find(name); it != uses.end() && it->second > 1)
    return "weight '" + name + "' has " + std::to_string(it->second) + " uses (shared weights are not " + done + ")";
  return "";
}

// 1. A scope that includes an op type outside `ops` is an error (kInvalidArgument naming the op,
//    `ops` and `all_ops`).
// 2. Sorts the graph topologically.
// 3. For every weighted default-domain layer (passes/scope.h), in graph order: an op outside `ops`
//    is recorded as skipped; a node outside the scope is skipped ("outside the pass scope", counter
//    "skipped"); otherwise match(graph, index, use_counts) returns the layer L or why it does not
//    apply (skipped with that reason, counter "skipped").
template <class L, class Match>
Expected<std::vector<L>> select_weighted_layers(Graph& g, PassContext& ctx, const WeightPassWords& words,
                                                const std::vector<std::string>& ops,
                                                const std::vector<std::string>& all_ops, Match match) {
  for (const std::string& op : ctx.scope().include.ops)
    if (std::find(ops.begin(), ops.end(), op) == ops.end())
      return invalid_argument(std::string(words.pass) + ": scope include names op type \"" + op +
                              "\", which this pass does not " + words.verb + " (it " + words.verbs + " " +
                              bracket_list(ops) + "; options.ops selects among " + bracket_list(all_ops) + ")");
  BS_TRY(g.sort_topologically());
  PassRecord& rec = ctx.record();
  const std::vector<bool> in_scope = ctx.scope().select(g);
  const std::unordered_map<std::string, int> uses = value_use_counts(g);
  std::vector<L> layers;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& node = g.nodes[i];
    if (!is_default_domain(node.domain) || !is_weighted_layer(g, i)) continue;
    if (std::find(ops.begin(), ops.end(), node.op_type) == ops.end()) {
      rec.skip(node, i, "op " + node.op_type + " is not in options.ops " + bracket_list(ops));
      continue;
    }
    std::variant<L, std::string> r = in_scope[i] ? match(g, i, uses)
                                                 : std::variant<L, std::string>(std::string("outside the pass scope"));
    if (auto* reason = std::get_if<std::string>(&r)) {
      rec.skip(node, i, *reason);
      rec.count("skipped");
      continue;
    }
    layers.push_back(std::get<L>(std::move(r)));
  }
  return layers;
}

}  // namespace bitsmith::passes_detail
