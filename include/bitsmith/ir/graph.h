// The graph IR: Model > Graph > Node / ValueInfo / initializers, mirroring ONNX's ModelProto.
//
// Values are identified by name (ONNX's convention): a value is defined by exactly one of a graph
// input, an initializer, a node output, or an enclosing graph (for subgraphs). The empty name ""
// in a node's inputs or outputs means "optional argument not given".
//
// Nothing is dropped: fields this code does not interpret are kept (FunctionProto and
// TrainingInfoProto as serialized bytes; unknown protobuf fields as wire bytes in each
// `unknown_fields`) and re-emitted by the writer.
//
// Nodes are stored in a vector; passes may reorder, insert and erase them and then call
// verify() (ir/verifier.h). topological_order() gives an order in which every node comes after
// the producers of its inputs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bitsmith/core/tensor.h"
#include "bitsmith/ir/attribute.h"

namespace bitsmith {

// One dimension of a value's type: a known size, a symbolic name, or unknown.
struct Dim {
  int64_t value = -1;       // >= 0 when known
  std::string param;        // symbolic name ("batch") when not known
  std::string denotation;
  bool has_value() const { return value >= 0; }
  bool operator==(const Dim&) const = default;
};

// TypeProto. Tensor types are parsed; every other kind (sequence, map, optional, ...) is kept as
// its serialized bytes in `raw`.
struct TypeInfo {
  enum class Kind { kNone, kTensor, kSparseTensor, kOther };
  Kind kind = Kind::kNone;
  DType elem_type = DType::kUndefined;
  int elem_type_code = 0;           // ONNX code as read (kept when not a known DType)
  bool has_shape = false;           // false: rank unknown
  std::vector<Dim> dims;
  std::string denotation;
  std::string raw;                  // kOther: whole TypeProto; otherwise empty
  std::string unknown_fields;       // unknown fields of the TypeProto itself

  static TypeInfo tensor(DType t, const Shape& shape);
  // Concrete shape when every dim is known.
  std::optional<Shape> static_shape() const;
};

struct ValueInfo {
  std::string name;
  TypeInfo type;
  std::string doc_string;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  std::string unknown_fields;
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" and "ai.onnx" are the default domain
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<Attribute> attributes;
  std::string doc_string;
  std::string overload;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  std::string unknown_fields;

  const Attribute* find_attr(const std::string& attr_name) const;
  Attribute* find_attr(const std::string& attr_name);
  // Typed lookups with defaults (no type check beyond the AttrType).
  int64_t attr_int(const std::string& attr_name, int64_t dflt) const;
  float attr_float(const std::string& attr_name, float dflt) const;
  std::string attr_string(const std::string& attr_name, const std::string& dflt) const;
  std::vector<int64_t> attr_ints(const std::string& attr_name, const std::vector<int64_t>& dflt = {}) const;
  std::vector<float> attr_floats(const std::string& attr_name, const std::vector<float>& dflt = {}) const;
  // "Conv" or "com.microsoft.MatMulNBits"; "node 'conv3' (Conv)" for messages.
  std::string describe() const;
};

class Graph {
 public:
  std::string name;
  std::string doc_string;
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::vector<ValueInfo> value_info;
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;  // each with its name set; order as in the file
  std::vector<SparseTensor> sparse_initializers;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  std::vector<std::string> quantization_annotation;  // TensorAnnotation, serialized bytes
  std::string unknown_fields;

  // Initializer lookup by name (linear scan; build an index for hot loops).
  const Tensor* find_initializer(const std::string& value_name) const;
  Tensor* find_initializer(const std::string& value_name);
  const ValueInfo* find_input(const std::string& value_name) const;
  // Graph inputs that are not initializers (the data the caller must feed).
  std::vector<const ValueInfo*> runtime_inputs() const;

  // value name -> index of the producing node.
  std::unordered_map<std::string, size_t> producer_index() const;
  // value name -> indices of consuming nodes (in node order; a node appears once per use).
  std::unordered_map<std::string, std::vector<size_t>> consumer_index() const;

  // Node indices in an order where producers come first; stable (keeps file order when it is
  // already topological). Error naming a node on a cycle; inputs defined nowhere are ignored here
  // (the verifier reports them).
  Expected<std::vector<size_t>> topological_order() const;
  // Reorders `nodes` topologically (see topological_order()).
  Status sort_topologically();
};

struct OpsetImport {
  std::string domain;
  int64_t version = 0;
  bool operator==(const OpsetImport&) const = default;
};

class Model {
 public:
  int64_t ir_version = 8;
  std::vector<OpsetImport> opset_imports;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc_string;
  Graph graph;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  std::vector<std::string> training_info;  // TrainingInfoProto, serialized bytes
  std::vector<std::string> functions;      // FunctionProto, serialized bytes
  std::string unknown_fields;

  // Opset version for `domain` ("" = ai.onnx), or -1 if not imported.
  int64_t opset(const std::string& domain_name = "") const;
  // Sets a metadata_props entry (replacing an existing key).
  void set_metadata(const std::string& key, const std::string& value);
};

}  // namespace bitsmith
