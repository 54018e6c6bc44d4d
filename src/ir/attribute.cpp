#include "bitsmith/ir/attribute.h"

namespace bitsmith {

const char* attr_type_name(AttrType t) {
  switch (t) {
    case AttrType::kFloat: return "float";
    case AttrType::kInt: return "int";
    case AttrType::kString: return "string";
    case AttrType::kTensor: return "tensor";
    case AttrType::kGraph: return "graph";
    case AttrType::kSparseTensor: return "sparse_tensor";
    case AttrType::kTypeProto: return "type_proto";
    case AttrType::kFloats: return "floats";
    case AttrType::kInts: return "ints";
    case AttrType::kStrings: return "strings";
    case AttrType::kTensors: return "tensors";
    case AttrType::kGraphs: return "graphs";
    case AttrType::kSparseTensors: return "sparse_tensors";
    case AttrType::kTypeProtos: return "type_protos";
    case AttrType::kUndefined: break;
  }
  return "undefined";
}

Attribute Attribute::make_float(std::string name, float v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::kFloat; a.f = v; return a;
}
Attribute Attribute::make_int(std::string name, int64_t v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::kInt; a.i = v; return a;
}
Attribute Attribute::make_string(std::string name, std::string v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::kString; a.s = std::move(v); return a;
}
Attribute Attribute::make_ints(std::string name, std::vector<int64_t> v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::kInts; a.ints = std::move(v); return a;
}
Attribute Attribute::make_floats(std::string name, std::vector<float> v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::kFloats; a.floats = std::move(v); return a;
}
Attribute Attribute::make_tensor(std::string name, Tensor v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::kTensor; a.t = std::move(v); return a;
}

}  // namespace bitsmith
