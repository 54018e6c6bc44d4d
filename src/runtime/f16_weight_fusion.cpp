// float16-weight fusion at executor load (see f16_weight_fusion.h for the patterns).
#include "runtime/f16_weight_fusion.h"

#include <string>
#include <unordered_map>
#include <unordered_set>

namespace bitsmith {
namespace {

bool dflt(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

constexpr int64_t kOnnxFloat = 1;  // TensorProto.FLOAT

}  // namespace

std::vector<std::string> fuse_f16_weights(Graph& g, std::vector<OpsetImport>& opsets) {
  std::unordered_set<std::string> graph_out;
  for (const ValueInfo& v : g.outputs) graph_out.insert(v.name);
  // Cast outputs eligible for fusion -> the f16 initializer they widen.
  std::unordered_map<std::string, std::string> casts;
  for (const Node& n : g.nodes) {
    if (!dflt(n) || n.op_type != "Cast" || n.inputs.size() != 1 || n.outputs.size() != 1 || n.outputs[0].empty())
      continue;
    if (n.attr_int("to", 0) != kOnnxFloat || graph_out.count(n.outputs[0])) continue;
    const Tensor* w = g.find_initializer(n.inputs[0]);
    if (!w || w->dtype() != DType::kF16 || w->rank() != 2) continue;
    casts[n.outputs[0]] = n.inputs[0];
  }
  std::vector<std::string> units;
  if (casts.empty()) return units;
  for (Node& n : g.nodes) {
    if (!dflt(n) || (n.op_type != "MatMul" && n.op_type != "Gemm") || n.inputs.size() < 2) continue;
    auto it = casts.find(n.inputs[1]);
    if (it == casts.end() || n.inputs[0] == n.inputs[1] || (n.inputs.size() > 2 && n.inputs[2] == n.inputs[1]))
      continue;
    if (n.op_type == "MatMul" && n.inputs.size() != 2) continue;
    const std::string what = n.describe();
    n.inputs[1] = it->second;
    n.op_type = n.op_type == "MatMul" ? "MatMulF16Weight" : "GemmF16Weight";
    n.domain = "bitsmith";
    units.push_back(what + " -> bitsmith." + n.op_type);
  }
  if (units.empty()) return units;
  // Drop the Casts nothing reads any more.
  std::unordered_set<std::string> read;
  for (const Node& n : g.nodes)
    for (const std::string& in : n.inputs)
      if (!in.empty()) read.insert(in);
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    if (dflt(n) && n.op_type == "Cast" && n.outputs.size() == 1 && casts.count(n.outputs[0]) && !read.count(n.outputs[0]))
      continue;
    kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
  bool has = false;
  for (const OpsetImport& o : opsets) has = has || o.domain == "bitsmith";
  if (!has) opsets.push_back({"bitsmith", 1});
  return units;
}

}  // namespace bitsmith
