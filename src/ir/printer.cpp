// Text layout (one item per line, fields in a fixed order, empty fields left out):
//
//   model {
//     ir_version: 8
//     opset_import: "" 17, "com.microsoft" 1
//     producer: "name" "version"          domain, model_version, doc, metadata ... when set
//   }
//   graph main {
//     input x: f32[N, 3, ?, 8]            ? = unknown dim, N = symbolic dim; f32 = unknown rank
//     output y: f32[N, 4]
//     value_info t: f32[N, 4]
//     initializer w: f32[4, 3] #<fnv1a-64 of the bytes>
//     sparse_initializer s: f32[10, 10] nnz=3 values=f32[3] #<hash> indices=i64[3] #<hash>
//     conv1: y = Conv<group=1, pads=[1, 1, 1, 1]>(x, w, "")
//       body: graph loop_body {           graph attributes follow their node, indented
//         ...
//       }
//   }
// Names are printed bare when made of [A-Za-z0-9_./-], otherwise quoted and escaped.
// Floats use %.9g (enough to round-trip an f32) with ".0" added when that looks like an integer.
#include "bitsmith/ir/printer.h"

#include <cmath>
#include <cstdio>
#include <string_view>

namespace bitsmith {
namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t fnv1a(const void* data, size_t n, uint64_t h = kFnvOffset) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}

// Hash of a list of byte strings, each prefixed with its length (so ["ab"] != ["a", "b"]).
uint64_t fnv1a_list(const std::vector<std::string>& items) {
  uint64_t h = kFnvOffset;
  for (const std::string& s : items) {
    const uint64_t len = s.size();
    h = fnv1a(&len, sizeof len, h);
    h = fnv1a(s.data(), s.size(), h);
  }
  return h;
}

std::string hash_str(uint64_t h) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "#%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string bytes_hash(const std::string& bytes) { return hash_str(fnv1a(bytes.data(), bytes.size())); }

std::string escaped(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string name_str(std::string_view s) {
  if (s.empty()) return "\"\"";
  for (unsigned char c : s) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '.' || c == '/' || c == '-';
    if (!plain) return escaped(s);
  }
  return std::string(s);
}

std::string float_str(float f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(f));
  std::string s = buf;
  if (std::isfinite(f) && s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

template <class T, class F>
std::string join(const std::vector<T>& items, F item_str) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) s += ", ";
    s += item_str(items[i]);
  }
  return s;
}

template <class T, class F>
std::string list_str(const std::vector<T>& items, F item_str) {
  return "[" + join(items, item_str) + "]";
}

std::string pairs_str(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string s;
  for (size_t i = 0; i < kv.size(); ++i) s += (i ? ", " : "") + escaped(kv[i].first) + "=" + escaped(kv[i].second);
  return s;
}

std::string quant_str(const QuantParams& q) {
  std::string s = " quant(" + std::string(dtype_name(q.qdtype)) + ", axis=" + std::to_string(q.axis) +
                  ", block_size=" + std::to_string(q.block_size) + ", scales=" +
                  std::to_string(q.scales.size()) +
                  hash_str(fnv1a(q.scales.data(), q.scales.size() * sizeof(float)));
  if (!q.zero_points.empty())
    s += ", zero_points=" + std::to_string(q.zero_points.size()) +
         hash_str(fnv1a(q.zero_points.data(), q.zero_points.size() * sizeof(int32_t)));
  return s + ")";
}

// "f32[2, 3] #hash" (strings: hash of the length-prefixed strings).
std::string tensor_str(const Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = std::string(dtype_name(t.dtype())) + shape_str(t.shape()) + " ";
  s += t.dtype() == DType::kString ? hash_str(fnv1a_list(t.string_data()))
                                   : hash_str(fnv1a(t.bytes(), t.nbytes()));
  if (t.quant()) s += quant_str(*t.quant());
  return s;
}

std::string sparse_str(const SparseTensor& st) {
  std::string s = std::string(dtype_name(st.values.dtype())) + shape_str(st.dims) +
                  " nnz=" + std::to_string(st.values.defined() ? st.values.numel() : 0) +
                  " values=" + tensor_str(st.values) + " indices=" + tensor_str(st.indices);
  if (!st.unknown_fields.empty()) s += " unknown_fields=" + bytes_hash(st.unknown_fields);
  return s;
}

std::string dim_str(const Dim& d) {
  std::string s = d.has_value() ? std::to_string(d.value) : d.param.empty() ? "?" : name_str(d.param);
  if (!d.denotation.empty()) s += "{" + escaped(d.denotation) + "}";
  return s;
}

std::string type_str(const TypeInfo& t) {
  std::string s;
  switch (t.kind) {
    case TypeInfo::Kind::kNone: return "notype";
    case TypeInfo::Kind::kOther: return "type" + bytes_hash(t.raw);
    case TypeInfo::Kind::kSparseTensor: s = "sparse "; break;
    case TypeInfo::Kind::kTensor: break;
  }
  s += t.elem_type != DType::kUndefined ? std::string(dtype_name(t.elem_type))
                                        : "dtype" + std::to_string(t.elem_type_code);
  if (t.has_shape) s += list_str(t.dims, dim_str);
  if (!t.denotation.empty()) s += " denotation=" + escaped(t.denotation);
  if (!t.unknown_fields.empty()) s += " unknown_fields=" + bytes_hash(t.unknown_fields);
  return s;
}

class Printer {
 public:
  explicit Printer(std::string& out) : out_(out) {}

  void line(int indent, const std::string& text) {
    out_.append(static_cast<size_t>(indent), ' ');
    out_ += text;
    out_ += '\n';
  }
  // `label` prefixes the header line ("then_branch: graph then_body {").
  void graph(const Graph& g, int indent, const std::string& label = {});

 private:
  void value(const char* kind, const ValueInfo& v, int indent);
  void node(const Node& n, int indent);
  std::string attribute_value(const Attribute& a);
  std::string& out_;
};

void Printer::value(const char* kind, const ValueInfo& v, int indent) {
  line(indent, std::string(kind) + " " + name_str(v.name) + ": " + type_str(v.type));
  if (!v.doc_string.empty()) line(indent + 2, "doc: " + escaped(v.doc_string));
  if (!v.metadata_props.empty()) line(indent + 2, "metadata: " + pairs_str(v.metadata_props));
  if (!v.unknown_fields.empty()) line(indent + 2, "unknown_fields: " + bytes_hash(v.unknown_fields));
}

std::string Printer::attribute_value(const Attribute& a) {
  auto graph_ref = [](const std::shared_ptr<Graph>& g) { return g ? "graph " + name_str(g->name) : "null"; };
  switch (a.type) {
    case AttrType::kFloat: return float_str(a.f);
    case AttrType::kInt: return std::to_string(a.i);
    case AttrType::kString: return escaped(a.s);
    case AttrType::kTensor: return "tensor(" + tensor_str(a.t) + ")";
    case AttrType::kGraph: return graph_ref(a.g);
    case AttrType::kSparseTensor: return "sparse(" + sparse_str(a.sparse_tensor) + ")";
    case AttrType::kTypeProto: return "type_proto" + bytes_hash(a.type_proto);
    case AttrType::kFloats: return list_str(a.floats, float_str);
    case AttrType::kInts: return list_str(a.ints, [](int64_t v) { return std::to_string(v); });
    case AttrType::kStrings: return list_str(a.strings, [](const std::string& v) { return escaped(v); });
    case AttrType::kTensors:
      return list_str(a.tensors, [](const Tensor& t) { return "tensor(" + tensor_str(t) + ")"; });
    case AttrType::kGraphs: return list_str(a.graphs, graph_ref);
    case AttrType::kSparseTensors:
      return list_str(a.sparse_tensors, [](const SparseTensor& s) { return "sparse(" + sparse_str(s) + ")"; });
    case AttrType::kTypeProtos:
      return list_str(a.type_protos, [](const std::string& b) { return "type_proto" + bytes_hash(b); });
    case AttrType::kUndefined: break;
  }
  return "undefined";
}

void Printer::node(const Node& n, int indent) {
  std::string s = n.name.empty() ? "" : name_str(n.name) + ": ";
  s += n.outputs.empty() ? "()" : join(n.outputs, name_str);
  s += " = ";
  if (!n.domain.empty()) s += n.domain + ".";
  s += n.op_type;
  if (!n.overload.empty()) s += ":" + name_str(n.overload);
  if (!n.attributes.empty()) {
    s += "<";
    for (size_t i = 0; i < n.attributes.size(); ++i) {
      const Attribute& a = n.attributes[i];
      if (i) s += ", ";
      s += name_str(a.name) + "=";
      s += a.ref_attr_name.empty() ? attribute_value(a)
                                   : "@" + name_str(a.ref_attr_name) + ":" + attr_type_name(a.type);
      if (!a.doc_string.empty()) s += " doc=" + escaped(a.doc_string);
      if (!a.unknown_fields.empty()) s += " unknown_fields=" + bytes_hash(a.unknown_fields);
    }
    s += ">";
  }
  s += "(" + join(n.inputs, name_str) + ")";
  line(indent, s);
  if (!n.doc_string.empty()) line(indent + 2, "doc: " + escaped(n.doc_string));
  if (!n.metadata_props.empty()) line(indent + 2, "metadata: " + pairs_str(n.metadata_props));
  if (!n.unknown_fields.empty()) line(indent + 2, "unknown_fields: " + bytes_hash(n.unknown_fields));
  for (const Attribute& a : n.attributes) {
    if (a.type == AttrType::kGraph && a.g) {
      graph(*a.g, indent + 2, name_str(a.name) + ": ");
    } else if (a.type == AttrType::kGraphs) {
      for (size_t k = 0; k < a.graphs.size(); ++k) {
        if (!a.graphs[k]) continue;
        graph(*a.graphs[k], indent + 2, name_str(a.name) + "[" + std::to_string(k) + "]: ");
      }
    }
  }
}

void Printer::graph(const Graph& g, int indent, const std::string& label) {
  line(indent, label + "graph " + name_str(g.name) + " {");
  const int in = indent + 2;
  if (!g.doc_string.empty()) line(in, "doc: " + escaped(g.doc_string));
  for (const ValueInfo& v : g.inputs) value("input", v, in);
  for (const ValueInfo& v : g.outputs) value("output", v, in);
  for (const ValueInfo& v : g.value_info) value("value_info", v, in);
  for (const Tensor& t : g.initializers) line(in, "initializer " + name_str(t.name()) + ": " + tensor_str(t));
  for (const SparseTensor& st : g.sparse_initializers)
    line(in, "sparse_initializer " + name_str(st.values.name()) + ": " + sparse_str(st));
  for (const Node& n : g.nodes) node(n, in);
  if (!g.metadata_props.empty()) line(in, "metadata: " + pairs_str(g.metadata_props));
  if (!g.quantization_annotation.empty())
    line(in, "quantization_annotation: " + std::to_string(g.quantization_annotation.size()) + " " +
                 hash_str(fnv1a_list(g.quantization_annotation)));
  if (!g.unknown_fields.empty()) line(in, "unknown_fields: " + bytes_hash(g.unknown_fields));
  line(indent, "}");
}

}  // namespace

std::string print_graph(const Graph& graph, int indent) {
  std::string out;
  Printer(out).graph(graph, indent);
  return out;
}

std::string print_model(const Model& m) {
  std::string out;
  Printer p(out);
  p.line(0, "model {");
  p.line(2, "ir_version: " + std::to_string(m.ir_version));
  if (!m.opset_imports.empty())
    p.line(2, "opset_import: " + join(m.opset_imports, [](const OpsetImport& o) {
             return escaped(o.domain) + " " + std::to_string(o.version);
           }));
  if (!m.producer_name.empty() || !m.producer_version.empty())
    p.line(2, "producer: " + escaped(m.producer_name) + " " + escaped(m.producer_version));
  if (!m.domain.empty()) p.line(2, "domain: " + escaped(m.domain));
  if (m.model_version != 0) p.line(2, "model_version: " + std::to_string(m.model_version));
  if (!m.doc_string.empty()) p.line(2, "doc: " + escaped(m.doc_string));
  if (!m.metadata_props.empty()) p.line(2, "metadata: " + pairs_str(m.metadata_props));
  if (!m.functions.empty())
    p.line(2, "functions: " + std::to_string(m.functions.size()) + " " + hash_str(fnv1a_list(m.functions)));
  if (!m.training_info.empty())
    p.line(2, "training_info: " + std::to_string(m.training_info.size()) + " " +
                  hash_str(fnv1a_list(m.training_info)));
  if (!m.unknown_fields.empty()) p.line(2, "unknown_fields: " + bytes_hash(m.unknown_fields));
  p.line(0, "}");
  p.graph(m.graph, 0);
  return out;
}

}  // namespace bitsmith
