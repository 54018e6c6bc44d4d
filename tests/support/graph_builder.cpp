#include "support/graph_builder.h"

#include <utility>

namespace bitsmith::test {

Attribute attr_int(std::string name, int64_t v) { return Attribute::make_int(std::move(name), v); }
Attribute attr_float(std::string name, float v) { return Attribute::make_float(std::move(name), v); }
Attribute attr_string(std::string name, std::string v) {
  return Attribute::make_string(std::move(name), std::move(v));
}
Attribute ints(std::string name, std::vector<int64_t> v) {
  return Attribute::make_ints(std::move(name), std::move(v));
}
Attribute floats(std::string name, std::vector<float> v) {
  return Attribute::make_floats(std::move(name), std::move(v));
}
Attribute strings(std::string name, std::vector<std::string> v) {
  Attribute a;
  a.name = std::move(name);
  a.type = AttrType::kStrings;
  a.strings = std::move(v);
  return a;
}
Attribute tensor_attr(std::string name, Tensor v) {
  return Attribute::make_tensor(std::move(name), std::move(v));
}
Attribute graph_attr(std::string name, Graph g) {
  Attribute a;
  a.name = std::move(name);
  a.type = AttrType::kGraph;
  a.g = std::make_shared<Graph>(std::move(g));
  return a;
}
Attribute graphs_attr(std::string name, std::vector<Graph> gs) {
  Attribute a;
  a.name = std::move(name);
  a.type = AttrType::kGraphs;
  for (Graph& g : gs) a.graphs.push_back(std::make_shared<Graph>(std::move(g)));
  return a;
}

TypeInfo tensor_type(DType dtype, const std::vector<DimArg>& dims) {
  TypeInfo t = TypeInfo::tensor(dtype, {});
  for (const DimArg& d : dims) t.dims.push_back(d.dim);
  return t;
}

namespace {
ValueInfo make_value(std::string name, TypeInfo type) {
  ValueInfo v;
  v.name = std::move(name);
  v.type = std::move(type);
  return v;
}
TypeInfo unranked(DType dtype) {
  TypeInfo t = TypeInfo::tensor(dtype, {});
  t.has_shape = false;
  return t;
}
}  // namespace

GraphBuilder::GraphBuilder(std::string graph_name) { graph_.name = std::move(graph_name); }

GraphBuilder& GraphBuilder::input(std::string name, DType dtype, std::vector<DimArg> dims) {
  graph_.inputs.push_back(make_value(std::move(name), tensor_type(dtype, dims)));
  return *this;
}
GraphBuilder& GraphBuilder::output(std::string name, DType dtype, std::vector<DimArg> dims) {
  graph_.outputs.push_back(make_value(std::move(name), tensor_type(dtype, dims)));
  return *this;
}
GraphBuilder& GraphBuilder::value_info(std::string name, DType dtype, std::vector<DimArg> dims) {
  graph_.value_info.push_back(make_value(std::move(name), tensor_type(dtype, dims)));
  return *this;
}
GraphBuilder& GraphBuilder::input_unranked(std::string name, DType dtype) {
  graph_.inputs.push_back(make_value(std::move(name), unranked(dtype)));
  return *this;
}
GraphBuilder& GraphBuilder::output_unranked(std::string name, DType dtype) {
  graph_.outputs.push_back(make_value(std::move(name), unranked(dtype)));
  return *this;
}

GraphBuilder& GraphBuilder::initializer(Tensor t) {
  graph_.initializers.push_back(std::move(t));
  return *this;
}

GraphBuilder& GraphBuilder::node(std::string op_type, std::vector<std::string> inputs,
                                 std::vector<std::string> outputs, std::vector<Attribute> attributes,
                                 std::string name, std::string domain) {
  Node n;
  n.name = name.empty() ? op_type + "_" + std::to_string(graph_.nodes.size()) : std::move(name);
  n.op_type = std::move(op_type);
  n.domain = std::move(domain);
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attributes = std::move(attributes);
  graph_.nodes.push_back(std::move(n));
  return *this;
}

Model GraphBuilder::model(int64_t opset, std::vector<OpsetImport> extra_opsets) const {
  Model m;
  m.producer_name = "bitsmith-test";
  m.opset_imports.push_back(OpsetImport{"", opset});
  for (OpsetImport& o : extra_opsets) m.opset_imports.push_back(std::move(o));
  m.graph = graph_;
  return m;
}

}  // namespace bitsmith::test
