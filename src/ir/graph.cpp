#include "bitsmith/ir/graph.h"

#include <queue>
#include <unordered_set>

namespace bitsmith {

TypeInfo TypeInfo::tensor(DType t, const Shape& shape) {
  TypeInfo ti;
  ti.kind = Kind::kTensor;
  ti.elem_type = t;
  ti.elem_type_code = dtype_to_onnx(t);
  ti.has_shape = true;
  for (int64_t d : shape) ti.dims.push_back(Dim{d, {}, {}});
  return ti;
}

std::optional<Shape> TypeInfo::static_shape() const {
  if (kind != Kind::kTensor || !has_shape) return std::nullopt;
  Shape s;
  for (const Dim& d : dims) {
    if (!d.has_value()) return std::nullopt;
    s.push_back(d.value);
  }
  return s;
}

const Attribute* Node::find_attr(const std::string& attr_name) const {
  for (const Attribute& a : attributes)
    if (a.name == attr_name) return &a;
  return nullptr;
}
Attribute* Node::find_attr(const std::string& attr_name) {
  for (Attribute& a : attributes)
    if (a.name == attr_name) return &a;
  return nullptr;
}
int64_t Node::attr_int(const std::string& n, int64_t dflt) const {
  const Attribute* a = find_attr(n);
  return a && a->type == AttrType::kInt ? a->i : dflt;
}
float Node::attr_float(const std::string& n, float dflt) const {
  const Attribute* a = find_attr(n);
  return a && a->type == AttrType::kFloat ? a->f : dflt;
}
std::string Node::attr_string(const std::string& n, const std::string& dflt) const {
  const Attribute* a = find_attr(n);
  return a && a->type == AttrType::kString ? a->s : dflt;
}
std::vector<int64_t> Node::attr_ints(const std::string& n, const std::vector<int64_t>& dflt) const {
  const Attribute* a = find_attr(n);
  return a && a->type == AttrType::kInts ? a->ints : dflt;
}
std::vector<float> Node::attr_floats(const std::string& n, const std::vector<float>& dflt) const {
  const Attribute* a = find_attr(n);
  return a && a->type == AttrType::kFloats ? a->floats : dflt;
}
std::string Node::describe() const {
  std::string op = (domain.empty() || domain == "ai.onnx") ? op_type : domain + "." + op_type;
  return "node '" + name + "' (" + op + ")";
}

const Tensor* Graph::find_initializer(const std::string& value_name) const {
  for (const Tensor& t : initializers)
    if (t.name() == value_name) return &t;
  return nullptr;
}
Tensor* Graph::find_initializer(const std::string& value_name) {
  for (Tensor& t : initializers)
    if (t.name() == value_name) return &t;
  return nullptr;
}
const ValueInfo* Graph::find_input(const std::string& value_name) const {
  for (const ValueInfo& v : inputs)
    if (v.name == value_name) return &v;
  return nullptr;
}
std::vector<const ValueInfo*> Graph::runtime_inputs() const {
  std::unordered_set<std::string> inits;
  for (const Tensor& t : initializers) inits.insert(t.name());
  std::vector<const ValueInfo*> out;
  for (const ValueInfo& v : inputs)
    if (!inits.count(v.name)) out.push_back(&v);
  return out;
}

std::unordered_map<std::string, size_t> Graph::producer_index() const {
  std::unordered_map<std::string, size_t> m;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const std::string& o : nodes[i].outputs)
      if (!o.empty()) m.emplace(o, i);
  return m;
}

std::unordered_map<std::string, std::vector<size_t>> Graph::consumer_index() const {
  std::unordered_map<std::string, std::vector<size_t>> m;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const std::string& in : nodes[i].inputs)
      if (!in.empty()) m[in].push_back(i);
  return m;
}

Expected<std::vector<size_t>> Graph::topological_order() const {
  const auto producers = producer_index();
  const size_t n = nodes.size();
  std::vector<int> pending(n, 0);
  std::vector<std::vector<size_t>> users(n);
  for (size_t i = 0; i < n; ++i) {
    std::unordered_set<size_t> deps;
    for (const std::string& in : nodes[i].inputs) {
      if (in.empty()) continue;
      auto it = producers.find(in);
      if (it != producers.end() && it->second != i) deps.insert(it->second);
      else if (it != producers.end() && it->second == i)
        return invalid_model(nodes[i].describe() + ": consumes its own output '" + in + "'");
    }
    pending[i] = static_cast<int>(deps.size());
    for (size_t d : deps) users[d].push_back(i);
  }
  // Kahn's algorithm with a min-heap on the original index: stable for already-sorted graphs.
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push(i);
  std::vector<size_t> order;
  order.reserve(n);
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t u : users[i])
      if (--pending[u] == 0) ready.push(u);
  }
  if (order.size() != n) {
    for (size_t i = 0; i < n; ++i)
      if (pending[i] > 0) return invalid_model(nodes[i].describe() + ": is on a cycle");
  }
  return order;
}

Status Graph::sort_topologically() {
  BS_ASSIGN_OR_RETURN(std::vector<size_t> order, topological_order());
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (size_t i : order) sorted.push_back(std::move(nodes[i]));
  nodes = std::move(sorted);
  return Status::ok();
}

int64_t Model::opset(const std::string& domain_name) const {
  for (const OpsetImport& o : opset_imports) {
    const bool is_default = o.domain.empty() || o.domain == "ai.onnx";
    const bool want_default = domain_name.empty() || domain_name == "ai.onnx";
    if ((is_default && want_default) || o.domain == domain_name) return o.version;
  }
  return -1;
}

void Model::set_metadata(const std::string& key, const std::string& value) {
  for (auto& kv : metadata_props)
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  metadata_props.emplace_back(key, value);
}

}  // namespace bitsmith
