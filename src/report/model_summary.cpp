#include "bitsmith/report/model_summary.h"

#include <algorithm>
#include <cstdio>
#include <functional>

namespace bitsmith {
namespace {

void count_tensor(const Tensor& t, const std::string& name, ModelSummary& s,
                  std::vector<TensorSummary>& all) {
  const int64_t n = t.numel();
  const size_t nb = t.dtype() == DType::kString ? 0 : t.nbytes();
  s.params += n;
  s.bytes_by_dtype[std::string(dtype_name(t.dtype()))] += static_cast<int64_t>(nb);
  s.params_by_dtype[std::string(dtype_name(t.dtype()))] += n;
  all.push_back({name, t.dtype(), t.shape(), n, nb});
}

void walk_graph(const Graph& g, ModelSummary& s, std::vector<TensorSummary>& all) {
  for (const Tensor& t : g.initializers) count_tensor(t, t.name(), s, all);
  for (const SparseTensor& st : g.sparse_initializers) count_tensor(st.values, st.values.name(), s, all);
  for (const Node& n : g.nodes) {
    ++s.node_count;
    const bool default_domain = n.domain.empty() || n.domain == "ai.onnx";
    ++s.ops[default_domain ? n.op_type : n.domain + "." + n.op_type];
    for (const Attribute& a : n.attributes) {
      if (n.op_type == "Constant" && default_domain && a.type == AttrType::kTensor)
        count_tensor(a.t, n.outputs.empty() ? n.name : n.outputs[0], s, all);
      if (a.g) walk_graph(*a.g, s, all);
      for (const auto& sub : a.graphs)
        if (sub) walk_graph(*sub, s, all);
    }
  }
}

std::string dims_str(const TypeInfo& type) {
  if (!type.has_shape) return "[?]";
  std::string out = "[";
  for (size_t i = 0; i < type.dims.size(); ++i) {
    if (i) out += ", ";
    const Dim& d = type.dims[i];
    out += d.has_value() ? std::to_string(d.value) : (d.param.empty() ? "?" : d.param);
  }
  return out + "]";
}

nlohmann::json value_json(const ValueInfo& v) {
  nlohmann::json j;
  j["name"] = v.name;
  j["dtype"] = v.type.kind == TypeInfo::Kind::kTensor ? std::string(dtype_name(v.type.elem_type)) : "non-tensor";
  nlohmann::json shape = nlohmann::json::array();
  if (v.type.has_shape) {
    for (const Dim& d : v.type.dims) {
      if (d.has_value()) shape.push_back(d.value);
      else shape.push_back(d.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.param));
    }
    j["shape"] = shape;
  } else {
    j["shape"] = nullptr;
  }
  return j;
}

std::string human_bytes(int64_t b) {
  char buf[64];
  if (b >= (1 << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(b) / (1 << 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.2f KiB", static_cast<double>(b) / 1024);
  else std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  return buf;
}

}  // namespace

std::string type_str(const TypeInfo& type) {
  switch (type.kind) {
    case TypeInfo::Kind::kTensor: return std::string(dtype_name(type.elem_type)) + dims_str(type);
    case TypeInfo::Kind::kSparseTensor: return "sparse " + std::string(dtype_name(type.elem_type)) + dims_str(type);
    case TypeInfo::Kind::kOther: return "non-tensor type";
    case TypeInfo::Kind::kNone: break;
  }
  return "untyped";
}

ModelSummary summarize(const Model& model) {
  ModelSummary s;
  s.producer = model.producer_name + (model.producer_version.empty() ? "" : " " + model.producer_version);
  s.ir_version = model.ir_version;
  s.opsets = model.opset_imports;
  for (const ValueInfo* v : model.graph.runtime_inputs()) s.inputs.push_back(*v);
  s.outputs = model.graph.outputs;
  std::vector<TensorSummary> all;
  walk_graph(model.graph, s, all);
  std::sort(all.begin(), all.end(), [](const TensorSummary& a, const TensorSummary& b) {
    return a.nbytes != b.nbytes ? a.nbytes > b.nbytes : a.name < b.name;
  });
  if (all.size() > 10) all.resize(10);
  s.largest = std::move(all);
  return s;
}

nlohmann::json to_json(const ModelSummary& s) {
  nlohmann::json j;
  j["producer"] = s.producer;
  j["ir_version"] = s.ir_version;
  j["opsets"] = nlohmann::json::object();
  for (const OpsetImport& o : s.opsets) j["opsets"][o.domain.empty() ? "ai.onnx" : o.domain] = o.version;
  j["inputs"] = nlohmann::json::array();
  for (const ValueInfo& v : s.inputs) j["inputs"].push_back(value_json(v));
  j["outputs"] = nlohmann::json::array();
  for (const ValueInfo& v : s.outputs) j["outputs"].push_back(value_json(v));
  j["node_count"] = s.node_count;
  j["ops"] = s.ops;
  j["params"] = s.params;
  j["params_by_dtype"] = s.params_by_dtype;
  j["bytes_by_dtype"] = s.bytes_by_dtype;
  j["largest"] = nlohmann::json::array();
  for (const TensorSummary& t : s.largest)
    j["largest"].push_back({{"name", t.name}, {"dtype", std::string(dtype_name(t.dtype))},
                            {"shape", t.shape}, {"numel", t.numel}, {"bytes", t.nbytes}});
  return j;
}

std::string to_text(const ModelSummary& s) {
  std::string out;
  auto line = [&out](const std::string& l) { out += l + "\n"; };
  line("producer:   " + (s.producer.empty() ? std::string("(none)") : s.producer));
  std::string ops = "opsets:     ir " + std::to_string(s.ir_version);
  for (const OpsetImport& o : s.opsets) ops += ", " + (o.domain.empty() ? std::string("ai.onnx") : o.domain) + " " + std::to_string(o.version);
  line(ops);
  line("inputs:");
  for (const ValueInfo& v : s.inputs) line("  " + v.name + ": " + type_str(v.type));
  line("outputs:");
  for (const ValueInfo& v : s.outputs) line("  " + v.name + ": " + type_str(v.type));
  line("nodes:      " + std::to_string(s.node_count));
  for (const auto& [op, n] : s.ops) line("  " + op + ": " + std::to_string(n));
  line("parameters: " + std::to_string(s.params));
  line("bytes by dtype:");
  for (const auto& [dt, b] : s.bytes_by_dtype) line("  " + dt + ": " + std::to_string(b) + " (" + human_bytes(b) + ")");
  line("largest tensors:");
  for (const TensorSummary& t : s.largest)
    line("  " + t.name + ": " + std::string(dtype_name(t.dtype)) + shape_str(t.shape) + " " + human_bytes(static_cast<int64_t>(t.nbytes)));
  return out;
}

}  // namespace bitsmith
