// Palettized-weight decoding at executor load (see palette_fold.h).
#include "runtime/palette_fold.h"

#include <unordered_map>

#include "bitsmith/ir/op_schema.h"
#include "bitsmith/runtime/kernel.h"
#include "bitsmith/runtime/kernel_registry.h"

namespace bitsmith {
namespace {

int64_t opset_of(const std::vector<OpsetImport>& opsets, const Node& node) {
  const bool dflt = is_default_domain(node.domain);
  for (const OpsetImport& o : opsets)
    if (dflt ? is_default_domain(o.domain) : o.domain == node.domain) return o.version;
  return -1;
}

// Runs `node` on constant inputs (initializers of `g` or values in `computed`); one output.
Expected<Tensor> evaluate(const Graph& g, const Node& node, const std::unordered_map<std::string, Tensor>& computed,
                          int64_t opset, int num_threads) {
  const KernelEntry* entry = find_kernel(node.domain, node.op_type, opset);
  if (!entry) return unsupported(node.describe() + ": no kernel");
  std::vector<const Tensor*> inputs;
  for (const std::string& name : node.inputs) {
    auto it = computed.find(name);
    inputs.push_back(it != computed.end() ? &it->second : g.find_initializer(name));
  }
  KernelInfo info{node, g, opset};
  BS_ASSIGN_OR_RETURN(std::unique_ptr<OpKernel> kernel, entry->factory(info));
  std::vector<Tensor> outs(1);
  KernelContext ctx{node, inputs, outs, num_threads};
  Status s = kernel->compute(ctx);
  if (!s.is_ok()) return s.with_context(node.describe());
  if (!outs[0].defined()) return internal_error(node.describe() + ": kernel produced no output");
  outs[0].set_name(node.outputs[0]);
  return std::move(outs[0]);
}

}  // namespace

Expected<std::vector<std::string>> fold_palette_weights(Graph& g, const std::vector<OpsetImport>& opsets,
                                                        int num_threads) {
  std::unordered_map<std::string, size_t> producer;
  std::unordered_map<std::string, int> readers;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const std::string& o : g.nodes[i].outputs) producer[o] = i;
    for (const std::string& in : g.nodes[i].inputs) ++readers[in];
  }
  for (const ValueInfo& v : g.outputs) readers[v.name] += 1 << 20;  // never fold a graph output
  auto init_of = [&](const std::string& name, DType dtype) {
    const Tensor* t = g.find_initializer(name);
    if (!t || t->dtype() != dtype) return false;
    for (const ValueInfo& in : g.inputs)
      if (in.name == name) return false;  // an overridable default, not a constant
    return true;
  };
  // The node producing `value` when `value` has exactly one reader and is no graph output.
  auto sole_producer = [&](const std::string& value, const char* op) -> const Node* {
    auto p = producer.find(value);
    if (p == producer.end() || readers[value] != 1) return nullptr;
    const Node& n = g.nodes[p->second];
    return n.op_type == op && is_default_domain(n.domain) && n.outputs.size() == 1 ? &n : nullptr;
  };
  std::vector<bool> erase(g.nodes.size(), false);
  std::vector<Tensor> folded;
  std::vector<std::string> names;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& gather = g.nodes[i];
    if (gather.op_type != "Gather" || !is_default_domain(gather.domain) || gather.inputs.size() != 2 ||
        gather.outputs.size() != 1 || readers[gather.outputs[0]] >= (1 << 20) || !init_of(gather.inputs[0], DType::kF32))
      continue;
    std::vector<const Node*> chain;  // in evaluation order
    const Node* add = sole_producer(gather.inputs[1], "Add");
    std::string cast_out = gather.inputs[1];
    if (add) {
      if (add->inputs.size() != 2 || !init_of(add->inputs[1], DType::kI32)) continue;
      cast_out = add->inputs[0];
    }
    const Node* cast = sole_producer(cast_out, "Cast");
    if (!cast || cast->inputs.size() != 1 || !init_of(cast->inputs[0], DType::kU8) ||
        cast->attr_int("to", 0) != 6)  // 6: INT32
      continue;
    chain.push_back(cast);
    if (add) chain.push_back(add);
    chain.push_back(&gather);
    std::unordered_map<std::string, Tensor> computed;
    for (const Node* n : chain) {
      BS_ASSIGN_OR_RETURN(Tensor t, evaluate(g, *n, computed, opset_of(opsets, *n), num_threads));
      computed.emplace(n->outputs[0], std::move(t));
      erase[static_cast<size_t>(n - g.nodes.data())] = true;
    }
    folded.push_back(std::move(computed.at(gather.outputs[0])));
    names.push_back(gather.outputs[0]);
  }
  if (folded.empty()) return names;
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!erase[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
  for (Tensor& t : folded) g.initializers.push_back(std::move(t));
  return names;
}

}  // namespace bitsmith
