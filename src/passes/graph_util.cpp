#include "passes/graph_util.h"

#include <algorithm>

namespace bitsmith::passes_detail {
namespace {

// Every value name a subgraph reads (node inputs at any depth), whether it defines it or not.
void collect_subgraph_reads(const Graph& graph, std::unordered_set<std::string>& out) {
  for (const Node& node : graph.nodes) {
    for (const std::string& in : node.inputs)
      if (!in.empty()) out.insert(in);
    for (const Attribute& a : node.attributes) {
      if (a.g) collect_subgraph_reads(*a.g, out);
      for (const auto& g : a.graphs)
        if (g) collect_subgraph_reads(*g, out);
    }
  }
  for (const ValueInfo& v : graph.outputs) out.insert(v.name);  // a body output may be an outer value
}

void for_each_subgraph(const Node& node, const auto& fn) {
  for (const Attribute& a : node.attributes) {
    if (a.g) fn(*a.g);
    for (const auto& g : a.graphs)
      if (g) fn(*g);
  }
}

void collect_all_names(const Graph& graph, std::unordered_set<std::string>& out) {
  for (const ValueInfo& v : graph.inputs) out.insert(v.name);
  for (const ValueInfo& v : graph.outputs) out.insert(v.name);
  for (const ValueInfo& v : graph.value_info) out.insert(v.name);
  for (const Tensor& t : graph.initializers) out.insert(t.name());
  for (const SparseTensor& t : graph.sparse_initializers) out.insert(t.values.name());
  for (const Node& node : graph.nodes) {
    out.insert(node.inputs.begin(), node.inputs.end());
    out.insert(node.outputs.begin(), node.outputs.end());
    for_each_subgraph(node, [&](const Graph& g) { collect_all_names(g, out); });
  }
}

}  // namespace

std::string node_label(const Node& node, size_t node_index) {
  return node.name.empty() ? "#" + std::to_string(node_index) : node.name;
}

std::string input_at(const Node& node, size_t i) { return i < node.inputs.size() ? node.inputs[i] : ""; }

bool is_constant_initializer(const Graph& graph, const std::string& value_name) {
  return graph.find_initializer(value_name) != nullptr && graph.find_input(value_name) == nullptr;
}

std::unordered_map<std::string, int> value_use_counts(const Graph& graph) {
  std::unordered_map<std::string, int> uses;
  for (const Node& node : graph.nodes) {
    for (const std::string& in : node.inputs)
      if (!in.empty()) ++uses[in];
    for_each_subgraph(node, [&](const Graph& g) {
      std::unordered_set<std::string> reads;
      collect_subgraph_reads(g, reads);
      for (const std::string& r : reads) ++uses[r];
    });
  }
  for (const ValueInfo& v : graph.outputs) ++uses[v.name];
  return uses;
}

const TypeInfo* find_value_type(const Graph& graph, const std::string& value_name) {
  for (const auto* list : {&graph.inputs, &graph.value_info, &graph.outputs})
    for (const ValueInfo& v : *list)
      if (v.name == value_name) return &v.type;
  return nullptr;
}

NameAllocator::NameAllocator(const Graph& graph) { collect_all_names(graph, used_); }

std::string NameAllocator::make(const std::string& base) {
  std::string name = base;
  for (int k = 1; used_.count(name); ++k) name = base + "_" + std::to_string(k);
  used_.insert(name);
  return name;
}

void set_initializer(Graph& graph, Tensor t) {
  if (Tensor* old = graph.find_initializer(t.name())) *old = std::move(t);
  else graph.initializers.push_back(std::move(t));
}

void erase_nodes(Graph& graph, const std::vector<bool>& erase) {
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (!erase[i]) kept.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(kept);
}

size_t remove_unused_initializers(Graph& graph, const std::vector<std::string>& candidates) {
  const auto uses = value_use_counts(graph);
  std::unordered_set<std::string> drop;
  for (const std::string& c : candidates)
    if (!uses.count(c) && graph.find_input(c) == nullptr) drop.insert(c);
  const size_t before = graph.initializers.size();
  std::erase_if(graph.initializers, [&](const Tensor& t) { return drop.count(t.name()) > 0; });
  std::erase_if(graph.value_info, [&](const ValueInfo& v) { return drop.count(v.name) > 0; });
  return before - graph.initializers.size();
}

void erase_value_info(Graph& graph, const std::string& value_name) {
  std::erase_if(graph.value_info, [&](const ValueInfo& v) { return v.name == value_name; });
}

}  // namespace bitsmith::passes_detail
