// Float chain fusion at executor load (see float_fusion.h for the patterns and the contract).
#include "runtime/float_fusion.h"

#include <string>
#include <unordered_map>
#include <unordered_set>

namespace bitsmith {
namespace {

bool dflt(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

struct Use {
  size_t node;
  size_t slot;
};

class ChainFuser {
 public:
  ChainFuser(Graph& g, const ShapeInferenceResult& types) : g_(g), types_(types), removed_(g.nodes.size(), false) {
    for (const ValueInfo& v : g.outputs) graph_outputs_.insert(v.name);
    for (size_t i = 0; i < g.nodes.size(); ++i)
      for (size_t s = 0; s < g.nodes[i].inputs.size(); ++s)
        if (!g.nodes[i].inputs[s].empty()) uses_[g.nodes[i].inputs[s]].push_back({i, s});
  }

  std::vector<std::string> run() {
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      if (removed_[i] || !dflt(g_.nodes[i]) || g_.nodes[i].outputs.size() != 1) continue;
      if (g_.nodes[i].op_type == "Conv") fuse_conv(i);
      else if (g_.nodes[i].op_type == "MatMul") fuse_matmul(i);
    }
    std::vector<Node> kept;
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (!removed_[i]) kept.push_back(std::move(g_.nodes[i]));
    g_.nodes = std::move(kept);
    return std::move(units_);
  }

 private:
  bool is_f32(const std::string& v) const {
    auto it = types_.types.find(v);
    return it != types_.types.end() && it->second.elem_type == DType::kF32;
  }

  // Inferred shapes of a and b are provably equal (dim 0 may be unknown on both: the batch).
  bool same_shape(const std::string& a, const std::string& b) const {
    auto ia = types_.types.find(a), ib = types_.types.find(b);
    if (ia == types_.types.end() || ib == types_.types.end()) return false;
    const TypeInfo &ta = ia->second, &tb = ib->second;
    if (!ta.has_shape || !tb.has_shape || ta.dims.size() != tb.dims.size()) return false;
    for (size_t d = 0; d < ta.dims.size(); ++d) {
      const Dim &x = ta.dims[d], &y = tb.dims[d];
      if (x.has_value() && y.has_value() && x.value == y.value) continue;
      if (!x.has_value() && !y.has_value() && (d == 0 || (!x.param.empty() && x.param == y.param))) continue;
      return false;
    }
    return true;
  }

  // The one default-domain node reading v (v not a graph output), or -1.
  int sole_consumer(const std::string& v, const char* op) const {
    if (graph_outputs_.count(v)) return -1;
    auto it = uses_.find(v);
    if (it == uses_.end() || it->second.size() != 1) return -1;
    const size_t n = it->second[0].node;
    if (removed_[n] || !dflt(g_.nodes[n]) || g_.nodes[n].op_type != op || g_.nodes[n].outputs.size() != 1) return -1;
    return static_cast<int>(n);
  }

  // The input of binary node n that is not v ("" if both are v or n is not binary).
  std::string other_input(size_t n, const std::string& v) const {
    const Node& node = g_.nodes[n];
    if (node.inputs.size() != 2 || node.inputs[0] == node.inputs[1]) return "";
    return node.inputs[0] == v ? node.inputs[1] : node.inputs[0];
  }

  // A f32 initializer with one element.
  const Tensor* scalar_const(const std::string& name) const {
    const Tensor* t = g_.find_initializer(name);
    return t && t->dtype() == DType::kF32 && t->numel() == 1 ? t : nullptr;
  }

  // When the sole consumer of `cur` is Add(cur, Z) with Z a computed value of cur's shape: appends
  // the Add to the chain, moves `cur` to its output and returns Z; otherwise returns "".
  std::string take_residual_add(std::string& cur, std::vector<size_t>& chain, std::string& what) const {
    const int add = sole_consumer(cur, "Add");
    if (add < 0) return "";
    const std::string z = other_input(static_cast<size_t>(add), cur);
    if (z.empty() || g_.find_initializer(z) || !is_f32(z) || !same_shape(z, cur)) return "";
    chain.push_back(static_cast<size_t>(add));
    cur = g_.nodes[add].outputs[0];
    what += " + Add";
    return z;
  }

  // Turns `head` into domain.op producing `out` (the chain's last value), drops the chain's other
  // nodes and records the unit ("<what> -> domain.op").
  void commit(Node& head, const char* domain, const char* op, const std::string& out, const std::vector<size_t>& chain,
              const std::string& what) {
    head.op_type = op;
    head.domain = domain;
    head.outputs[0] = out;
    for (size_t c : chain) removed_[c] = true;
    units_.push_back(what + " -> " + domain + "." + op);
  }

  void fuse_conv(size_t i) {
    Node& conv = g_.nodes[i];
    if (conv.inputs.size() < 2 || conv.inputs.size() > 3 || !is_f32(conv.outputs[0])) return;
    std::string cur = conv.outputs[0], what;
    std::vector<size_t> chain;
    const std::string z = take_residual_add(cur, chain, what);
    bool relu = false;
    if (const int r = sole_consumer(cur, "Relu"); r >= 0 && g_.nodes[r].inputs.size() == 1) {
      chain.push_back(static_cast<size_t>(r));
      cur = g_.nodes[r].outputs[0];
      relu = true;
      what += " + Relu";
    }
    if (chain.empty()) return;
    const std::string before = conv.describe();
    conv.inputs.resize(3);
    if (!z.empty()) conv.inputs.push_back(z);
    while (!conv.inputs.empty() && conv.inputs.back().empty()) conv.inputs.pop_back();
    if (relu) conv.attributes.push_back(Attribute::make_string("activation", "Relu"));
    commit(conv, "com.microsoft", "FusedConv", cur, chain, before + what);
    need_ms_ = true;
  }

  // The GELU chain reading v: fills the nodes and constants; false when it does not match.
  bool match_gelu(const std::string& v, std::vector<size_t>& chain, float& c_div, float& c_add, float& c_mul,
                  std::string& out) const {
    if (graph_outputs_.count(v)) return false;
    auto it = uses_.find(v);
    if (it == uses_.end() || it->second.size() != 2) return false;
    int div = -1, mul = -1;
    for (const Use& u : it->second) {
      const Node& n = g_.nodes[u.node];
      if (removed_[u.node] || !dflt(n)) return false;
      if (n.op_type == "Div" && u.slot == 0 && n.inputs.size() == 2) div = static_cast<int>(u.node);
      else if (n.op_type == "Mul") mul = static_cast<int>(u.node);
    }
    if (div < 0 || mul < 0) return false;
    const Tensor* t_div = scalar_const(g_.nodes[div].inputs[1]);
    const int erf = sole_consumer(g_.nodes[div].outputs[0], "Erf");
    if (!t_div || erf < 0) return false;
    const int add = sole_consumer(g_.nodes[erf].outputs[0], "Add");
    if (add < 0) return false;
    const Tensor* t_add = scalar_const(other_input(static_cast<size_t>(add), g_.nodes[erf].outputs[0]));
    if (!t_add || sole_consumer(g_.nodes[add].outputs[0], "Mul") != mul ||
        other_input(static_cast<size_t>(mul), g_.nodes[add].outputs[0]) != v)
      return false;
    const int half = sole_consumer(g_.nodes[mul].outputs[0], "Mul");
    if (half < 0) return false;
    const Tensor* t_mul = scalar_const(other_input(static_cast<size_t>(half), g_.nodes[mul].outputs[0]));
    if (!t_mul || !is_f32(g_.nodes[half].outputs[0])) return false;
    c_div = t_div->data<float>()[0];
    c_add = t_add->data<float>()[0];
    c_mul = t_mul->data<float>()[0];
    for (int n : {div, erf, add, mul, half}) chain.push_back(static_cast<size_t>(n));
    out = g_.nodes[half].outputs[0];
    return true;
  }

  void fuse_matmul(size_t i) {
    Node& mm = g_.nodes[i];
    if (mm.inputs.size() != 2 || !is_f32(mm.outputs[0]) || !is_f32(mm.inputs[0])) return;
    const Tensor* w = g_.find_initializer(mm.inputs[1]);
    if (!w || w->dtype() != DType::kF32 || w->rank() != 2) return;
    auto ta = types_.types.find(mm.inputs[0]);
    if (ta == types_.types.end() || !ta->second.has_shape || ta->second.dims.size() < 2) return;
    const int add = sole_consumer(mm.outputs[0], "Add");
    if (add < 0) return;
    const std::string bias = other_input(static_cast<size_t>(add), mm.outputs[0]);
    const Tensor* b = g_.find_initializer(bias);
    if (!b || b->dtype() != DType::kF32 || b->rank() != 1 || b->dim(0) != w->dim(1)) return;
    std::vector<size_t> chain{static_cast<size_t>(add)};
    std::string cur = g_.nodes[add].outputs[0], what = " + Add(bias)";
    float c_div = 0.f, c_add = 0.f, c_mul = 0.f;
    std::string gelu_out;
    const bool gelu = match_gelu(cur, chain, c_div, c_add, c_mul, gelu_out);
    if (gelu) {
      cur = gelu_out;
      what += " + GELU(erf)";
    }
    const std::string z = take_residual_add(cur, chain, what);
    const std::string before = mm.describe();
    mm.inputs.push_back(bias);
    if (!z.empty()) mm.inputs.push_back(z);
    if (gelu) {
      mm.attributes.push_back(Attribute::make_string("activation", "GeluErf"));
      mm.attributes.push_back(Attribute::make_float("gelu_div", c_div));
      mm.attributes.push_back(Attribute::make_float("gelu_add", c_add));
      mm.attributes.push_back(Attribute::make_float("gelu_mul", c_mul));
    }
    commit(mm, "bitsmith", "FusedMatMul", cur, chain, before + what);
    need_bitsmith_ = true;
  }

 public:
  bool need_ms_ = false, need_bitsmith_ = false;

 private:
  Graph& g_;
  const ShapeInferenceResult& types_;
  std::vector<bool> removed_;
  std::unordered_set<std::string> graph_outputs_;
  std::unordered_map<std::string, std::vector<Use>> uses_;
  std::vector<std::string> units_;
};

void ensure_opset(std::vector<OpsetImport>& opsets, const std::string& domain) {
  for (const OpsetImport& o : opsets)
    if (o.domain == domain) return;
  opsets.push_back({domain, 1});
}

}  // namespace

std::vector<std::string> fuse_float_chains(Graph& graph, std::vector<OpsetImport>& opsets,
                                           const ShapeInferenceResult& types) {
  ChainFuser fuser(graph, types);
  std::vector<std::string> units = fuser.run();
  if (fuser.need_ms_) ensure_opset(opsets, "com.microsoft");
  if (fuser.need_bitsmith_) ensure_opset(opsets, "bitsmith");
  return units;
}

}  // namespace bitsmith
