// ModelProto / GraphProto / NodeProto / AttributeProto / ValueInfoProto / TypeProto parsing
// into the IR (ir/graph.h). TensorProto decoding lives in onnx_tensor.cpp.
#include <filesystem>

#include "bitsmith/io/onnx.h"
#include "bitsmith/ir/verifier.h"
#include "io/onnx_internal.h"

namespace bitsmith {
namespace onnx_detail {

using wire::Field;
using wire::WireType;

std::string Where::str() const {
  std::string s = parent ? parent->str() : std::string();
  if (*field) s += (s.empty() ? "" : ".") + std::string(field);
  if (index >= 0) s += "[" + std::to_string(index) + "]";
  if (name && !name->empty()) s += (s.empty() ? "'" : " '") + *name + "'";
  return s;
}

Status ReadContext::error(const Where& w, const std::string& what, StatusCode code) const {
  const std::string place = w.str();
  return Status(code, display + ": " + (place.empty() ? std::string() : place + ": ") + what);
}

Status ReadContext::wrap(const Where& w, const Status& s) const {
  return error(w, s.message(), s.code());
}

namespace {
const char* wire_type_name(WireType t) {
  switch (t) {
    case WireType::kVarint: return "varint";
    case WireType::kFixed64: return "fixed64";
    case WireType::kLen: return "length-delimited";
    case WireType::kFixed32: return "fixed32";
  }
  return "?";
}
}  // namespace

Status expect_type(const ReadContext& ctx, const Where& w, const Field& f, WireType t,
                   const char* field_name) {
  if (f.type == t) return Status::ok();
  return ctx.error(w, std::string(field_name) + " (field " + std::to_string(f.number) + ") at byte " +
                          std::to_string(f.offset) + " has wire type " + wire_type_name(f.type) +
                          ", expected " + wire_type_name(t));
}

void append_extras_record(std::string* unknown_fields, std::string_view key, std::string_view extras) {
  wire::Writer rec;
  rec.bytes_field(1, key);
  rec.bytes_field(2, extras);
  wire::Writer outer;
  outer.message_field(kExtrasRecordField, std::move(rec));
  *unknown_fields += outer.to_string();
}

void split_extras_records(std::string_view unknown_fields, std::string* genuine,
                          std::map<std::string, std::string, std::less<>>* records) {
  const auto* data = reinterpret_cast<const std::byte*>(unknown_fields.data());
  wire::Reader r(std::span<const std::byte>(data, unknown_fields.size()));
  Field f;
  std::string kept;
  while (!r.done()) {
    if (!r.next(&f)) {  // not wire bytes after all: keep everything as it was
      genuine->assign(unknown_fields);
      records->clear();
      return;
    }
    if (f.number != kExtrasRecordField || f.type != WireType::kLen) {
      kept.append(reinterpret_cast<const char*>(f.whole.data()), f.whole.size());
      continue;
    }
    wire::Reader rr(f.bytes);
    Field g;
    std::string key, value;
    while (!rr.done() && rr.next(&g).is_ok()) {
      if (g.type != WireType::kLen) continue;
      (g.number == 1 ? key : value).assign(g.str());
    }
    (*records)[key] = std::move(value);
  }
  *genuine = std::move(kept);
}

namespace {

void keep_unknown(const Field& f, std::string* unknown) {
  unknown->append(reinterpret_cast<const char*>(f.whole.data()), f.whole.size());
}

Status read_string(const ReadContext& ctx, const Where& w, const Field& f, const char* what, std::string* out) {
  BS_TRY(expect_type(ctx, w, f, WireType::kLen, what));
  out->assign(f.str());
  return Status::ok();
}

Status read_int(const ReadContext& ctx, const Where& w, const Field& f, const char* what, int64_t* out) {
  BS_TRY(expect_type(ctx, w, f, WireType::kVarint, what));
  *out = f.as_int64();
  return Status::ok();
}

Status read_bytes_copy(const ReadContext& ctx, const Where& w, const Field& f, const char* what,
                       std::vector<std::string>* out) {
  BS_TRY(expect_type(ctx, w, f, WireType::kLen, what));
  out->emplace_back(f.str());
  return Status::ok();
}

Status parse_metadata_entry(const ReadContext& ctx, const Where& parent, const Field& f,
                            std::vector<std::pair<std::string, std::string>>* props) {
  const Where w{&parent, "metadata_props", static_cast<int64_t>(props->size())};
  props->emplace_back();
  return parse_string_entry(ctx, f, w, &props->back());
}

// ---- TypeProto ----

// TensorShapeProto.Dimension; false in *plain when it holds fields Dim cannot keep.
Status parse_dim(const ReadContext& ctx, const Where& w, const Field& df, Dim* d, bool* plain) {
  BS_TRY(expect_type(ctx, w, df, WireType::kLen, "dim"));
  wire::Reader r = sub_reader(df);
  Field f;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(w, st);
    switch (f.number) {
      case type_f::kDimValue: BS_TRY(read_int(ctx, w, f, "dim_value", &d->value)); d->param.clear(); break;
      case type_f::kDimParam: BS_TRY(read_string(ctx, w, f, "dim_param", &d->param)); d->value = -1; break;
      case type_f::kDimDenotation: BS_TRY(read_string(ctx, w, f, "denotation", &d->denotation)); break;
      default: *plain = false;
    }
  }
  return Status::ok();
}

// TypeProto.Tensor / TypeProto.SparseTensor.
Status parse_tensor_type(const ReadContext& ctx, const Where& w, const Field& tf, TypeInfo* t, bool* plain) {
  BS_TRY(expect_type(ctx, w, tf, WireType::kLen, "tensor_type"));
  wire::Reader r = sub_reader(tf);
  Field f;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(w, st);
    if (f.number == type_f::kElemType) {
      int64_t code = 0;
      BS_TRY(read_int(ctx, w, f, "elem_type", &code));
      t->elem_type_code = static_cast<int>(code);
      t->elem_type = dtype_from_onnx(t->elem_type_code).value_or(DType::kUndefined);
    } else if (f.number == type_f::kShape) {
      BS_TRY(expect_type(ctx, w, f, WireType::kLen, "shape"));
      t->has_shape = true;
      wire::Reader sr = sub_reader(f);
      Field g;
      while (!sr.done()) {
        if (Status st = sr.next(&g); !st) return ctx.wrap(w, st);
        if (g.number != type_f::kDim) {
          *plain = false;
          continue;
        }
        Dim d;
        BS_TRY(parse_dim(ctx, w, g, &d, plain));
        t->dims.push_back(std::move(d));
      }
    } else {
      *plain = false;
    }
  }
  return Status::ok();
}

// Tensor and sparse tensor types are parsed; any other kind, or a tensor type holding fields
// the IR has no slot for, is kept whole in `raw` (kind kOther).
Status parse_type(const ReadContext& ctx, const Where& w, const Field& tf, TypeInfo* t) {
  BS_TRY(expect_type(ctx, w, tf, WireType::kLen, "type"));
  wire::Reader r = sub_reader(tf);
  Field f;
  bool plain = true;
  TypeInfo parsed;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(w, st);
    switch (f.number) {
      case type_f::kTensorType:
      case type_f::kSparseTensorType:
        if (parsed.kind != TypeInfo::Kind::kNone) plain = false;  // oneof given twice
        parsed.kind = f.number == type_f::kTensorType ? TypeInfo::Kind::kTensor : TypeInfo::Kind::kSparseTensor;
        BS_TRY(parse_tensor_type(ctx, w, f, &parsed, &plain));
        break;
      case type_f::kDenotation: BS_TRY(read_string(ctx, w, f, "denotation", &parsed.denotation)); break;
      case type_f::kSequenceType: case type_f::kMapType: case type_f::kOpaqueType:
      case type_f::kOptionalType:
        plain = false;
        break;
      default: keep_unknown(f, &parsed.unknown_fields);
    }
  }
  if (plain) {
    *t = std::move(parsed);
  } else {
    *t = TypeInfo();
    t->kind = TypeInfo::Kind::kOther;
    t->raw.assign(tf.str());
  }
  return Status::ok();
}

Status parse_value_info(const ReadContext& ctx, const Where& w, const Field& vf, ValueInfo* v) {
  BS_TRY(expect_type(ctx, w, vf, WireType::kLen, "ValueInfoProto"));
  Where here = w;
  here.name = &v->name;
  wire::Reader r = sub_reader(vf);
  Field f;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(here, st);
    switch (f.number) {
      case value_info_f::kName: BS_TRY(read_string(ctx, here, f, "name", &v->name)); break;
      case value_info_f::kType: BS_TRY(parse_type(ctx, here, f, &v->type)); break;
      case value_info_f::kDocString: BS_TRY(read_string(ctx, here, f, "doc_string", &v->doc_string)); break;
      case value_info_f::kMetadataProps: BS_TRY(parse_metadata_entry(ctx, here, f, &v->metadata_props)); break;
      default: keep_unknown(f, &v->unknown_fields);
    }
  }
  return Status::ok();
}

Status parse_graph(ReadContext& ctx, const Where& w, const Field& gf, int depth, Graph* g);

// ---- AttributeProto ----

bool field_matches_type(uint32_t number, AttrType t) {
  using namespace attr_f;
  switch (number) {
    case kF: return t == AttrType::kFloat;
    case kI: return t == AttrType::kInt;
    case kS: return t == AttrType::kString;
    case kT: return t == AttrType::kTensor;
    case kG: return t == AttrType::kGraph;
    case kSparseTensor: return t == AttrType::kSparseTensor;
    case kTp: return t == AttrType::kTypeProto;
    case kFloats: return t == AttrType::kFloats;
    case kInts: return t == AttrType::kInts;
    case kStrings: return t == AttrType::kStrings;
    case kTensors: return t == AttrType::kTensors;
    case kGraphs: return t == AttrType::kGraphs;
    case kSparseTensors: return t == AttrType::kSparseTensors;
    case kTypeProtos: return t == AttrType::kTypeProtos;
    default: return false;
  }
}

bool is_value_field(uint32_t number) {
  for (int t : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})
    if (field_matches_type(number, static_cast<AttrType>(t))) return true;
  return false;
}

// The declared type, or (IR version 1 files, no `type`) the one implied by the value field.
Status attribute_type(const ReadContext& ctx, const Where& w, const Field& af, AttrType* type) {
  wire::Reader r = sub_reader(af);
  Field f;
  AttrType implied = AttrType::kUndefined;
  int64_t declared = 0;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(w, st);
    if (f.number == attr_f::kType) {
      BS_TRY(read_int(ctx, w, f, "type", &declared));
    } else if (implied == AttrType::kUndefined && is_value_field(f.number)) {
      for (int t : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})
        if (field_matches_type(f.number, static_cast<AttrType>(t))) implied = static_cast<AttrType>(t);
    }
  }
  if (declared < 0 || declared > 14)
    return ctx.error(w, "attribute type " + std::to_string(declared) + " is not a known AttributeType");
  *type = declared ? static_cast<AttrType>(declared) : implied;
  return Status::ok();
}

Status read_float_values(const ReadContext& ctx, const Where& w, const Field& f, std::vector<float>* out) {
  if (f.type == WireType::kFixed32) {
    out->push_back(f.as_float());
    return Status::ok();
  }
  BS_TRY(expect_type(ctx, w, f, WireType::kLen, "floats"));
  if (f.bytes.size() % 4) return ctx.error(w, "packed floats: size is not a multiple of 4");
  const size_t n = f.bytes.size() / 4, old = out->size();
  out->resize(old + n);
  std::memcpy(out->data() + old, f.bytes.data(), f.bytes.size());
  return Status::ok();
}

Status read_int_values(const ReadContext& ctx, const Where& w, const Field& f, std::vector<int64_t>* out) {
  if (f.type == WireType::kVarint) {
    out->push_back(f.as_int64());
    return Status::ok();
  }
  BS_TRY(expect_type(ctx, w, f, WireType::kLen, "ints"));
  const std::byte* p = f.bytes.data();
  const std::byte* end = p + f.bytes.size();
  while (p < end) {
    uint64_t v = 0;
    if (!wire::decode_varint(&p, end, &v)) return ctx.error(w, "packed ints: truncated varint");
    out->push_back(static_cast<int64_t>(v));
  }
  return Status::ok();
}

// Parses one value field of `a`'s type; tensor extras records go to *records.
Status parse_attribute_value(ReadContext& ctx, const Where& w, const Field& f, int depth, Attribute* a,
                             std::string* records) {
  using namespace attr_f;
  switch (f.number) {
    case kF:
      BS_TRY(expect_type(ctx, w, f, WireType::kFixed32, "f"));
      a->f = f.as_float();
      return Status::ok();
    case kI: return read_int(ctx, w, f, "i", &a->i);
    case kS: return read_string(ctx, w, f, "s", &a->s);
    case kT: {
      std::string extras;
      BS_TRY(parse_tensor(ctx, f, Where{&w, "t"}, &a->t, &extras));
      if (!extras.empty()) append_extras_record(records, "t", extras);
      return Status::ok();
    }
    case kG:
      a->g = std::make_shared<Graph>();
      return parse_graph(ctx, Where{&w, "g"}, f, depth + 1, a->g.get());
    case kSparseTensor: return parse_sparse_tensor(ctx, f, Where{&w, "sparse_tensor"}, &a->sparse_tensor);
    case kTp:
      BS_TRY(expect_type(ctx, w, f, WireType::kLen, "tp"));
      a->type_proto.assign(f.str());
      return Status::ok();
    case kFloats: return read_float_values(ctx, w, f, &a->floats);
    case kInts: return read_int_values(ctx, w, f, &a->ints);
    case kStrings: return read_bytes_copy(ctx, w, f, "strings", &a->strings);
    case kTensors: {
      const int64_t i = static_cast<int64_t>(a->tensors.size());
      std::string extras;
      a->tensors.emplace_back();
      BS_TRY(parse_tensor(ctx, f, Where{&w, "tensors", i}, &a->tensors.back(), &extras));
      if (!extras.empty())
        append_extras_record(records, "tensors[" + std::to_string(i) + "]", extras);
      return Status::ok();
    }
    case kGraphs: {
      const int64_t i = static_cast<int64_t>(a->graphs.size());
      a->graphs.push_back(std::make_shared<Graph>());
      return parse_graph(ctx, Where{&w, "graphs", i}, f, depth + 1, a->graphs.back().get());
    }
    case kSparseTensors: {
      const int64_t i = static_cast<int64_t>(a->sparse_tensors.size());
      a->sparse_tensors.emplace_back();
      return parse_sparse_tensor(ctx, f, Where{&w, "sparse_tensors", i}, &a->sparse_tensors.back());
    }
    case kTypeProtos: return read_bytes_copy(ctx, w, f, "type_protos", &a->type_protos);
    default: return Status::ok();
  }
}

Status parse_attribute(ReadContext& ctx, const Where& w, const Field& af, int depth, Attribute* a) {
  BS_TRY(expect_type(ctx, w, af, WireType::kLen, "AttributeProto"));
  Where here = w;
  here.name = &a->name;
  BS_TRY(attribute_type(ctx, here, af, &a->type));
  // Tensor extras records go after the genuine unknown fields (see onnx_internal.h).
  std::string records;
  wire::Reader r = sub_reader(af);
  Field f;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(here, st);
    switch (f.number) {
      case attr_f::kName: BS_TRY(read_string(ctx, here, f, "name", &a->name)); break;
      case attr_f::kRefAttrName: BS_TRY(read_string(ctx, here, f, "ref_attr_name", &a->ref_attr_name)); break;
      case attr_f::kDocString: BS_TRY(read_string(ctx, here, f, "doc_string", &a->doc_string)); break;
      case attr_f::kType: break;
      default:
        if (field_matches_type(f.number, a->type)) {
          BS_TRY(parse_attribute_value(ctx, here, f, depth, a, &records));
        } else {
          keep_unknown(f, &a->unknown_fields);  // unknown, or a value field not matching `type`
        }
    }
  }
  a->unknown_fields += records;
  return Status::ok();
}

// ---- NodeProto ----

Status parse_node(ReadContext& ctx, const Where& w, const Field& nf, int depth, Node* n) {
  BS_TRY(expect_type(ctx, w, nf, WireType::kLen, "NodeProto"));
  Where here = w;
  here.name = &n->name;
  wire::Reader r = sub_reader(nf);
  Field f;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(here, st);
    switch (f.number) {
      case node_f::kInput: BS_TRY(read_bytes_copy(ctx, here, f, "input", &n->inputs)); break;
      case node_f::kOutput: BS_TRY(read_bytes_copy(ctx, here, f, "output", &n->outputs)); break;
      case node_f::kName: BS_TRY(read_string(ctx, here, f, "name", &n->name)); break;
      case node_f::kOpType: BS_TRY(read_string(ctx, here, f, "op_type", &n->op_type)); break;
      case node_f::kDomain: BS_TRY(read_string(ctx, here, f, "domain", &n->domain)); break;
      case node_f::kOverload: BS_TRY(read_string(ctx, here, f, "overload", &n->overload)); break;
      case node_f::kDocString: BS_TRY(read_string(ctx, here, f, "doc_string", &n->doc_string)); break;
      case node_f::kMetadataProps: BS_TRY(parse_metadata_entry(ctx, here, f, &n->metadata_props)); break;
      case node_f::kAttribute: {
        const Where aw{&here, "attribute", static_cast<int64_t>(n->attributes.size())};
        n->attributes.emplace_back();
        BS_TRY(parse_attribute(ctx, aw, f, depth, &n->attributes.back()));
        break;
      }
      default: keep_unknown(f, &n->unknown_fields);
    }
  }
  return Status::ok();
}

// ---- GraphProto ----

Status parse_value_infos(const ReadContext& ctx, const Where& w, const char* what, const Field& f,
                         std::vector<ValueInfo>* list) {
  const Where vw{&w, what, static_cast<int64_t>(list->size())};
  list->emplace_back();
  return parse_value_info(ctx, vw, f, &list->back());
}

Status parse_graph_field(ReadContext& ctx, const Where& w, const Field& f, int depth, Graph* g,
                         std::string* records) {
  switch (f.number) {
    case graph_f::kNode: {
      const Where nw{&w, "node", static_cast<int64_t>(g->nodes.size())};
      g->nodes.emplace_back();
      return parse_node(ctx, nw, f, depth, &g->nodes.back());
    }
    case graph_f::kName: return read_string(ctx, w, f, "name", &g->name);
    case graph_f::kInitializer: {
      const Where iw{&w, "initializer", static_cast<int64_t>(g->initializers.size())};
      std::string extras;
      g->initializers.emplace_back();
      BS_TRY(parse_tensor(ctx, f, iw, &g->initializers.back(), &extras));
      if (!extras.empty())
        append_extras_record(records, "initializer:" + g->initializers.back().name(), extras);
      return Status::ok();
    }
    case graph_f::kSparseInitializer: {
      const Where sw{&w, "sparse_initializer", static_cast<int64_t>(g->sparse_initializers.size())};
      g->sparse_initializers.emplace_back();
      return parse_sparse_tensor(ctx, f, sw, &g->sparse_initializers.back());
    }
    case graph_f::kDocString: return read_string(ctx, w, f, "doc_string", &g->doc_string);
    case graph_f::kInput: return parse_value_infos(ctx, w, "input", f, &g->inputs);
    case graph_f::kOutput: return parse_value_infos(ctx, w, "output", f, &g->outputs);
    case graph_f::kValueInfo: return parse_value_infos(ctx, w, "value_info", f, &g->value_info);
    case graph_f::kQuantizationAnnotation:
      return read_bytes_copy(ctx, w, f, "quantization_annotation", &g->quantization_annotation);
    case graph_f::kMetadataProps: return parse_metadata_entry(ctx, w, f, &g->metadata_props);
    default:
      keep_unknown(f, &g->unknown_fields);
      return Status::ok();
  }
}

Status parse_graph(ReadContext& ctx, const Where& w, const Field& gf, int depth, Graph* g) {
  BS_TRY(expect_type(ctx, w, gf, WireType::kLen, "GraphProto"));
  if (depth > kMaxGraphDepth)
    return ctx.error(w, "subgraphs are nested more than " + std::to_string(kMaxGraphDepth) +
                            " levels deep; refusing to read further");
  std::string records;
  wire::Reader r = sub_reader(gf);
  Field f;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(w, st);
    BS_TRY(parse_graph_field(ctx, w, f, depth, g, &records));
  }
  g->unknown_fields += records;
  return Status::ok();
}

Status parse_opset(const ReadContext& ctx, const Where& w, const Field& of, OpsetImport* op) {
  BS_TRY(expect_type(ctx, w, of, WireType::kLen, "OperatorSetIdProto"));
  wire::Reader r = sub_reader(of);
  Field f;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(w, st);
    if (f.number == entry_f::kDomain) BS_TRY(read_string(ctx, w, f, "domain", &op->domain));
    if (f.number == entry_f::kVersion) BS_TRY(read_int(ctx, w, f, "version", &op->version));
  }
  return Status::ok();
}

Status parse_model_field(ReadContext& ctx, const Where& w, const Field& f, Model* m, bool* has_graph) {
  switch (f.number) {
    case model_f::kIrVersion: return read_int(ctx, w, f, "ir_version", &m->ir_version);
    case model_f::kOpsetImport: {
      const Where ow{&w, "opset_import", static_cast<int64_t>(m->opset_imports.size())};
      m->opset_imports.emplace_back();
      return parse_opset(ctx, ow, f, &m->opset_imports.back());
    }
    case model_f::kProducerName: return read_string(ctx, w, f, "producer_name", &m->producer_name);
    case model_f::kProducerVersion: return read_string(ctx, w, f, "producer_version", &m->producer_version);
    case model_f::kDomain: return read_string(ctx, w, f, "domain", &m->domain);
    case model_f::kModelVersion: return read_int(ctx, w, f, "model_version", &m->model_version);
    case model_f::kDocString: return read_string(ctx, w, f, "doc_string", &m->doc_string);
    case model_f::kGraph:
      *has_graph = true;  // a repeated singular message merges into the first, as in protobuf
      return parse_graph(ctx, Where{&w, "graph"}, f, 0, &m->graph);
    case model_f::kMetadataProps: return parse_metadata_entry(ctx, w, f, &m->metadata_props);
    case model_f::kTrainingInfo: return read_bytes_copy(ctx, w, f, "training_info", &m->training_info);
    case model_f::kFunctions: return read_bytes_copy(ctx, w, f, "functions", &m->functions);
    default:
      keep_unknown(f, &m->unknown_fields);
      return Status::ok();
  }
}

std::string parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir;
}

Expected<std::shared_ptr<MappedFile>> map_input(const std::string& path, const char* expected) {
  Expected<std::shared_ptr<MappedFile>> mf = MappedFile::open(path);
  if (!mf) return mf.status();
  if ((*mf)->nbytes() == 0)
    return invalid_model(path + ": file is empty (0 bytes); expected " + expected);
  return mf;
}

}  // namespace

Status parse_model_proto(ReadContext& ctx, std::span<const std::byte> bytes, Model* m) {
  m->ir_version = 0;
  bool has_graph = false;
  const Where top;
  wire::Reader r(bytes);
  Field f;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(top, st);
    BS_TRY(parse_model_field(ctx, top, f, m, &has_graph));
  }
  if (!has_graph) return ctx.error(top, "no graph (ModelProto field 7); not an ONNX model");
  return Status::ok();
}

}  // namespace onnx_detail

Expected<Model> read_onnx(const std::string& path, const OnnxReadOptions& options) {
  using namespace onnx_detail;
  ReadContext ctx;
  ctx.display = path;
  ctx.model_dir = parent_dir(path);
  BS_ASSIGN_OR_RETURN(ctx.file, map_input(path, "an ONNX ModelProto"));
  Model m;
  BS_TRY(parse_model_proto(ctx, std::span<const std::byte>(ctx.file->data(), ctx.file->nbytes()), &m));
  if (options.verify_graph) {
    if (Status st = verify(m); !st) return st.with_context(path);
  }
  return m;
}

Expected<Tensor> read_tensor_proto_file(const std::string& path) {
  using namespace onnx_detail;
  ReadContext ctx;
  ctx.display = path;
  ctx.model_dir = parent_dir(path);
  BS_ASSIGN_OR_RETURN(ctx.file, map_input(path, "a serialized TensorProto"));
  // Present the whole file as one length-delimited field so parse_tensor can take it.
  Field whole;
  whole.type = wire::WireType::kLen;
  whole.bytes = std::span<const std::byte>(ctx.file->data(), ctx.file->nbytes());
  whole.whole = whole.bytes;
  Tensor t;
  std::string extras;  // doc_string etc. have nowhere to go in a lone Tensor
  BS_TRY(parse_tensor(ctx, whole, Where{}, &t, &extras));
  return t;
}

}  // namespace bitsmith
