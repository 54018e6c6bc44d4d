// Node attributes of every ONNX kind, sparse tensors and opaque type protos.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bitsmith/core/tensor.h"

namespace bitsmith {

class Graph;

// SparseTensorProto: `values` [NNZ], `indices` int64 [NNZ] (linearized) or [NNZ, rank], dense `dims`.
struct SparseTensor {
  Tensor values;
  Tensor indices;
  std::vector<int64_t> dims;
  std::string unknown_fields;  // wire bytes of fields this reader does not know, re-emitted as is
};

// AttributeProto.AttributeType codes (the ONNX values).
enum class AttrType : int {
  kUndefined = 0,
  kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kGraph = 5, kSparseTensor = 11, kTypeProto = 13,
  kFloats = 6, kInts = 7, kStrings = 8, kTensors = 9, kGraphs = 10, kSparseTensors = 12,
  kTypeProtos = 14,
};

const char* attr_type_name(AttrType t);

// One attribute. Only the member(s) matching `type` are meaningful.
// TypeProto payloads are kept as serialized bytes (opaque).
struct Attribute {
  std::string name;
  AttrType type = AttrType::kUndefined;
  std::string ref_attr_name;  // function-body attribute reference; usually empty
  std::string doc_string;

  float f = 0.f;
  int64_t i = 0;
  std::string s;  // raw bytes
  Tensor t;
  std::shared_ptr<Graph> g;
  SparseTensor sparse_tensor;
  std::string type_proto;

  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;
  std::vector<SparseTensor> sparse_tensors;
  std::vector<std::string> type_protos;

  std::string unknown_fields;

  static Attribute make_float(std::string name, float v);
  static Attribute make_int(std::string name, int64_t v);
  static Attribute make_string(std::string name, std::string v);
  static Attribute make_ints(std::string name, std::vector<int64_t> v);
  static Attribute make_floats(std::string name, std::vector<float> v);
  static Attribute make_tensor(std::string name, Tensor v);
};

}  // namespace bitsmith
