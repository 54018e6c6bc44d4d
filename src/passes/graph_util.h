// Graph helpers shared by the passes (internal to src/passes).
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bitsmith/ir/graph.h"

namespace bitsmith::passes_detail {

// "conv1", or "#<index>" for an unnamed node (the label PassRecord uses).
std::string node_label(const Node& node, size_t node_index);

// Input i of `node`, or "" when the node has fewer inputs (an omitted optional input is "" too).
std::string input_at(const Node& node, size_t i);

// True when `value_name` is an initializer that is not also a graph input (a graph input with
// an initializer is only a default the caller may override, so it is not a constant).
bool is_constant_initializer(const Graph& graph, const std::string& value_name);

// How many times each value is used: once per node input slot, once per graph output, once per
// subgraph (If/Loop/Scan body, at any depth) that reads it from this graph's scope.
std::unordered_map<std::string, int> value_use_counts(const Graph& graph);

// The type of `value_name` from the graph's inputs, value_info or outputs; nullptr if none.
const TypeInfo* find_value_type(const Graph& graph, const std::string& value_name);

// Hands out value names that collide with nothing in the graph (inputs, outputs, initializers,
// node inputs/outputs, value_info, subgraph names) nor with names it handed out before.
class NameAllocator {
 public:
  explicit NameAllocator(const Graph& graph);
  // `base` if free, else "<base>_1", "<base>_2", ...
  std::string make(const std::string& base);

 private:
  std::unordered_set<std::string> used_;
};

// Replaces the initializer named t.name() (or appends t when there is none).
void set_initializer(Graph& graph, Tensor t);

// Erases nodes whose flag is set (`erase` has one flag per node), keeping the order of the rest.
void erase_nodes(Graph& graph, const std::vector<bool>& erase);

// Removes the initializers named in `candidates` that nothing uses any more (see
// value_use_counts), with their value_info entries. Returns how many were removed.
size_t remove_unused_initializers(Graph& graph, const std::vector<std::string>& candidates);

// Removes the value_info entry of `value_name`, if any.
void erase_value_info(Graph& graph, const std::string& value_name);

}  // namespace bitsmith::passes_detail
