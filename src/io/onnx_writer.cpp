// Model -> ModelProto bytes. Tensor payloads are referenced, never copied, and streamed to the
// file (or the external data file) through AtomicFile. Field order follows field numbers where
// that is free; unknown fields go last, verbatim.
#include <filesystem>

#include "bitsmith/io/atomic_file.h"
#include "bitsmith/io/onnx.h"
#include "io/onnx_internal.h"

namespace bitsmith {
namespace onnx_detail {
namespace {

using Records = std::map<std::string, std::string, std::less<>>;

void write_metadata(wire::Writer& w, uint32_t field,
                    const std::vector<std::pair<std::string, std::string>>& props) {
  for (const auto& [k, v] : props) w.message_field(field, write_string_entry(k, v));
}

void write_string_if(wire::Writer& w, uint32_t field, const std::string& s) {
  if (!s.empty()) w.bytes_field(field, s);
}

wire::Writer write_dim(const Dim& d) {
  wire::Writer w;
  if (d.value != -1) {
    w.int64_field(type_f::kDimValue, d.value);
  } else if (!d.param.empty()) {
    w.bytes_field(type_f::kDimParam, d.param);
  }
  write_string_if(w, type_f::kDimDenotation, d.denotation);
  return w;
}

// TypeProto for kinds kTensor, kSparseTensor and kNone (a denotation or unknown fields only).
wire::Writer write_type(const TypeInfo& t) {
  wire::Writer w;
  if (t.kind == TypeInfo::Kind::kTensor || t.kind == TypeInfo::Kind::kSparseTensor) {
    wire::Writer inner;
    const int code = t.elem_type != DType::kUndefined ? dtype_to_onnx(t.elem_type) : t.elem_type_code;
    if (code != 0) inner.int64_field(type_f::kElemType, code);
    if (t.has_shape) {
      wire::Writer shape;
      for (const Dim& d : t.dims) shape.message_field(type_f::kDim, write_dim(d));
      inner.message_field(type_f::kShape, std::move(shape));
    }
    w.message_field(t.kind == TypeInfo::Kind::kSparseTensor ? type_f::kSparseTensorType : type_f::kTensorType,
                    std::move(inner));
  }
  write_string_if(w, type_f::kDenotation, t.denotation);
  w.raw(t.unknown_fields);
  return w;
}

wire::Writer write_value_info(const ValueInfo& v) {
  wire::Writer w;
  write_string_if(w, value_info_f::kName, v.name);
  if (v.type.kind == TypeInfo::Kind::kOther) {
    w.bytes_field(value_info_f::kType, v.type.raw);
  } else if (v.type.kind != TypeInfo::Kind::kNone || !v.type.denotation.empty() ||
             !v.type.unknown_fields.empty()) {
    w.message_field(value_info_f::kType, write_type(v.type));
  }
  write_string_if(w, value_info_f::kDocString, v.doc_string);
  write_metadata(w, value_info_f::kMetadataProps, v.metadata_props);
  w.raw(v.unknown_fields);
  return w;
}

wire::Writer write_graph(const Graph& g, WriteContext& ctx);

std::string_view find_record(const Records& records, const std::string& key) {
  auto it = records.find(key);
  return it == records.end() ? std::string_view() : std::string_view(it->second);
}

// The value of a singular field is left out only for a reference to a function attribute
// (ref_attr_name) that carries no value.
void write_attribute_value(wire::Writer& w, const Attribute& a, const Records& records, WriteContext& ctx) {
  using namespace attr_f;
  const bool ref = !a.ref_attr_name.empty();
  switch (a.type) {
    case AttrType::kFloat: if (!ref || a.f != 0.f) w.float_field(kF, a.f); break;
    case AttrType::kInt: if (!ref || a.i != 0) w.int64_field(kI, a.i); break;
    case AttrType::kString: if (!ref || !a.s.empty()) w.bytes_field(kS, a.s); break;
    case AttrType::kTensor:
      if (!ref || a.t.defined()) w.message_field(kT, write_tensor(a.t, find_record(records, "t"), ctx));
      break;
    case AttrType::kGraph: if (a.g) w.message_field(kG, write_graph(*a.g, ctx)); break;
    case AttrType::kSparseTensor:
      if (!ref || a.sparse_tensor.values.defined())
        w.message_field(kSparseTensor, write_sparse_tensor(a.sparse_tensor, ctx));
      break;
    case AttrType::kTypeProto: if (!ref || !a.type_proto.empty()) w.bytes_field(kTp, a.type_proto); break;
    case AttrType::kFloats: for (float v : a.floats) w.float_field(kFloats, v); break;
    case AttrType::kInts: for (int64_t v : a.ints) w.int64_field(kInts, v); break;
    case AttrType::kStrings: for (const std::string& s : a.strings) w.bytes_field(kStrings, s); break;
    case AttrType::kTensors:
      for (size_t i = 0; i < a.tensors.size(); ++i)
        w.message_field(kTensors, write_tensor(a.tensors[i],
                                               find_record(records, "tensors[" + std::to_string(i) + "]"), ctx));
      break;
    case AttrType::kGraphs:
      for (const auto& g : a.graphs)
        if (g) w.message_field(kGraphs, write_graph(*g, ctx));
      break;
    case AttrType::kSparseTensors:
      for (const SparseTensor& st : a.sparse_tensors) w.message_field(kSparseTensors, write_sparse_tensor(st, ctx));
      break;
    case AttrType::kTypeProtos: for (const std::string& s : a.type_protos) w.bytes_field(kTypeProtos, s); break;
    case AttrType::kUndefined: break;
  }
}

wire::Writer write_attribute(const Attribute& a, WriteContext& ctx) {
  std::string genuine;
  Records records;
  split_extras_records(a.unknown_fields, &genuine, &records);
  wire::Writer w;
  w.bytes_field(attr_f::kName, a.name);
  write_attribute_value(w, a, records, ctx);
  write_string_if(w, attr_f::kDocString, a.doc_string);
  if (a.type != AttrType::kUndefined) w.int64_field(attr_f::kType, static_cast<int>(a.type));
  write_string_if(w, attr_f::kRefAttrName, a.ref_attr_name);
  w.raw(genuine);
  return w;
}

wire::Writer write_node(const Node& n, WriteContext& ctx) {
  using namespace node_f;
  wire::Writer w;
  for (const std::string& s : n.inputs) w.bytes_field(kInput, s);
  for (const std::string& s : n.outputs) w.bytes_field(kOutput, s);
  write_string_if(w, kName, n.name);
  w.bytes_field(kOpType, n.op_type);
  for (const Attribute& a : n.attributes) w.message_field(kAttribute, write_attribute(a, ctx));
  write_string_if(w, kDocString, n.doc_string);
  write_string_if(w, kDomain, n.domain);
  write_string_if(w, kOverload, n.overload);
  write_metadata(w, kMetadataProps, n.metadata_props);
  w.raw(n.unknown_fields);
  return w;
}

wire::Writer write_graph(const Graph& g, WriteContext& ctx) {
  using namespace graph_f;
  std::string genuine;
  Records records;
  split_extras_records(g.unknown_fields, &genuine, &records);
  wire::Writer w;
  for (const Node& n : g.nodes) w.message_field(kNode, write_node(n, ctx));
  write_string_if(w, kName, g.name);
  for (const Tensor& t : g.initializers)
    w.message_field(kInitializer, write_tensor(t, find_record(records, "initializer:" + t.name()), ctx));
  write_string_if(w, kDocString, g.doc_string);
  for (const ValueInfo& v : g.inputs) w.message_field(kInput, write_value_info(v));
  for (const ValueInfo& v : g.outputs) w.message_field(kOutput, write_value_info(v));
  for (const ValueInfo& v : g.value_info) w.message_field(kValueInfo, write_value_info(v));
  for (const std::string& a : g.quantization_annotation) w.bytes_field(kQuantizationAnnotation, a);
  for (const SparseTensor& st : g.sparse_initializers)
    w.message_field(kSparseInitializer, write_sparse_tensor(st, ctx));
  write_metadata(w, kMetadataProps, g.metadata_props);
  w.raw(genuine);
  return w;
}

wire::Writer write_model(const Model& m, WriteContext& ctx) {
  using namespace model_f;
  wire::Writer w;
  w.int64_field(kIrVersion, m.ir_version);
  write_string_if(w, kProducerName, m.producer_name);
  write_string_if(w, kProducerVersion, m.producer_version);
  write_string_if(w, kDomain, m.domain);
  if (m.model_version != 0) w.int64_field(kModelVersion, m.model_version);
  write_string_if(w, kDocString, m.doc_string);
  w.message_field(kGraph, write_graph(m.graph, ctx));
  for (const OpsetImport& op : m.opset_imports) {
    wire::Writer o;
    write_string_if(o, entry_f::kDomain, op.domain);
    o.int64_field(entry_f::kVersion, op.version);
    w.message_field(kOpsetImport, std::move(o));
  }
  write_metadata(w, kMetadataProps, m.metadata_props);
  for (const std::string& t : m.training_info) w.bytes_field(kTrainingInfo, t);
  for (const std::string& f : m.functions) w.bytes_field(kFunctions, f);
  w.raw(m.unknown_fields);
  return w;
}

// Writes the blobs at their offsets (zero padding between them), atomically.
Status write_data_file(const std::string& path, const WriteContext& ctx) {
  BS_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::create(path));
  static const char kZeros[WriteContext::kDataAlignment] = {};
  for (const WriteContext::Blob& b : ctx.blobs) {
    BS_TRY(out.write(kZeros, static_cast<size_t>(b.offset - out.size())));
    BS_TRY(out.write(b.data, b.nbytes));
  }
  return out.commit();
}

std::string gb_str(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(bytes) / 1e9);
  return buf;
}

}  // namespace

wire::Writer serialize_model_inline(const Model& model) {
  WriteContext ctx;
  return write_model(model, ctx);
}

}  // namespace onnx_detail

Status write_onnx(const Model& model, const std::string& path, const OnnxWriteOptions& options) {
  using namespace onnx_detail;
  const std::filesystem::path p(path);
  const std::string location = p.filename().string() + ".data";
  auto serialize = [&](bool external, WriteContext* ctx) {
    *ctx = WriteContext();
    ctx->external = external;
    ctx->external_min_bytes = options.external_min_bytes;
    ctx->data_location = location;
    return write_model(model, *ctx);
  };
  WriteContext ctx;
  wire::Writer w = serialize(options.external_data == ExternalDataMode::kAlways, &ctx);
  if (options.external_data == ExternalDataMode::kAuto && w.size() > kProtobufLimitBytes)
    w = serialize(true, &ctx);
  if (w.size() > kProtobufLimitBytes)
    return invalid_argument(path + ": the serialized model would be " + gb_str(w.size()) +
                            ", over protobuf's 2 GB limit; write it with external data "
                            "(ExternalDataMode::kAuto or kAlways, smaller external_min_bytes)");
  if (!ctx.blobs.empty()) {
    const std::filesystem::path data_path = p.parent_path() / location;
    BS_TRY(write_data_file(data_path.string(), ctx));
  }
  BS_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::create(path));
  BS_TRY(w.write_to([&out](const void* d, size_t n) { return out.write(d, n); }));
  return out.commit();
}

}  // namespace bitsmith
