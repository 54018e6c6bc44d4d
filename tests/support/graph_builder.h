// GraphBuilder: build a Graph / Model in code for tests.
//
//   test::GraphBuilder b;
//   b.input("x", DType::kF32, {"N", 3, 8, 8})                 // "N": symbolic dim
//    .initializer(Tensor::from_vector<float>(w, {4, 3, 3, 3}, "w"))
//    .node("Conv", {"x", "w"}, {"y"}, {test::ints("pads", {1, 1, 1, 1})}, "conv1")
//    .node("Relu", {"y"}, {"z"})
//    .output("z", DType::kF32, {"N", 4, 8, 8});
//   Model m = b.model();          // opset_import {"" : 17}, producer "bitsmith-test"
//   ASSERT_TRUE(verify(m).is_ok());
//
// The builder only records what it is told: it checks nothing (tests of the verifier build
// broken graphs on purpose). Nodes get the name given, or "<op_type>_<k>" when none is given
// (k counts nodes added so far), so error messages in tests name a node.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bitsmith/core/tensor.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith::test {

// One dimension for input()/output(): a size (3) or a symbolic name ("N"); kUnknownDim for "?".
struct DimArg {
  DimArg(int v) : dim{v, {}, {}} {}                 // NOLINT(google-explicit-constructor)
  DimArg(int64_t v) : dim{v, {}, {}} {}             // NOLINT(google-explicit-constructor)
  DimArg(const char* param) : dim{-1, param, {}} {} // NOLINT(google-explicit-constructor)
  Dim dim;
};
inline const DimArg kUnknownDim{int64_t{-1}};

// Attribute shorthands (Attribute::make_* has the rest).
Attribute attr_int(std::string name, int64_t v);
Attribute attr_float(std::string name, float v);
Attribute attr_string(std::string name, std::string v);
Attribute ints(std::string name, std::vector<int64_t> v);
Attribute floats(std::string name, std::vector<float> v);
Attribute strings(std::string name, std::vector<std::string> v);
Attribute tensor_attr(std::string name, Tensor v);
Attribute graph_attr(std::string name, Graph g);                 // kGraph
Attribute graphs_attr(std::string name, std::vector<Graph> gs);  // kGraphs

// TypeInfo of a tensor with the given dims (symbolic dims allowed).
TypeInfo tensor_type(DType dtype, const std::vector<DimArg>& dims);

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string graph_name = "test_graph");

  // Graph input / output / value_info with a ranked tensor type.
  GraphBuilder& input(std::string name, DType dtype, std::vector<DimArg> dims);
  GraphBuilder& output(std::string name, DType dtype, std::vector<DimArg> dims);
  GraphBuilder& value_info(std::string name, DType dtype, std::vector<DimArg> dims);
  // Same with an unknown rank.
  GraphBuilder& input_unranked(std::string name, DType dtype);
  GraphBuilder& output_unranked(std::string name, DType dtype);

  // Adds `t` as an initializer; `t.name()` must be set (it is the value name).
  GraphBuilder& initializer(Tensor t);
  // Convenience: an initializer from values.
  template <class T>
  GraphBuilder& initializer(std::string name, const std::vector<T>& values, Shape shape) {
    return initializer(Tensor::from_vector<T>(values, std::move(shape), std::move(name)));
  }

  // Appends a node (default domain unless `domain` is given). Empty strings in inputs/outputs
  // are "optional argument not given".
  GraphBuilder& node(std::string op_type, std::vector<std::string> inputs,
                     std::vector<std::string> outputs, std::vector<Attribute> attributes = {},
                     std::string name = {}, std::string domain = {});

  // The node added last (to set doc_string, overload, ... after node()).
  Node& last_node() { return graph_.nodes.back(); }

  Graph& graph() { return graph_; }
  // A copy of the graph built so far (e.g. for graph_attr()).
  Graph build() const { return graph_; }
  // A Model holding a copy of the graph, importing {"" : opset} plus `extra_opsets`.
  Model model(int64_t opset = 17, std::vector<OpsetImport> extra_opsets = {}) const;

 private:
  Graph graph_;
};

}  // namespace bitsmith::test
