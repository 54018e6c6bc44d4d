// PassRecord and PassContext.
#include "bitsmith/passes/pass.h"

#include <cmath>

namespace bitsmith {
namespace {

std::string node_label(const Node& node, size_t node_index) {
  return node.name.empty() ? "#" + std::to_string(node_index) : node.name;
}

// SplitMix64 finalizer: spreads (seed, step, name) into a well-mixed RNG seed.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

}  // namespace

void PassRecord::touch(const Node& node, size_t node_index, std::string action) {
  touched.push_back({node_label(node, node_index), qualified_op(node), std::move(action)});
}

void PassRecord::skip(const Node& node, size_t node_index, std::string reason) {
  skipped.push_back({node_label(node, node_index), qualified_op(node), std::move(reason)});
}

int64_t PassRecord::counter(const std::string& name) const {
  auto it = counters.find(name);
  return it == counters.end() ? 0 : it->second;
}

nlohmann::json PassRecord::to_json() const {
  nlohmann::json j = {{"pass", pass}, {"options", options}, {"scope", scope}, {"wall_ms", wall_ms}};
  j["counters"] = nlohmann::json::object();
  for (const auto& [k, v] : counters) j["counters"][k] = v;
  j["touched"] = nlohmann::json::array();
  for (const NodeAction& a : touched) j["touched"].push_back({{"node", a.node}, {"op", a.op}, {"action", a.action}});
  j["skipped"] = nlohmann::json::array();
  for (const NodeSkip& s : skipped) j["skipped"].push_back({{"node", s.node}, {"op", s.op}, {"reason", s.reason}});
  j["notes"] = notes;
  j["tensors"] = nlohmann::json::array();
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  for (const TensorChange& t : tensors)
    j["tensors"].push_back({{"tensor", t.tensor},
                            {"result", t.result},
                            {"more_results", t.more_results},
                            {"dtype_before", std::string(dtype_name(t.dtype_before))},
                            {"dtype_after", std::string(dtype_name(t.dtype_after))},
                            {"numel", t.numel},
                            {"bytes_before", t.bytes_before},
                            {"bytes_after", t.bytes_after},
                            {"sqnr_db", num(t.sqnr_db)},
                            {"cosine", num(t.cosine)},
                            {"max_abs_err", num(t.max_abs_err)},
                            {"how", t.how}});
  return j;
}

PassContext::PassContext(uint64_t seed, int num_threads)
    : seed_(seed), num_threads_(num_threads), rng_(mix64(seed)) {}

void PassContext::begin_pass(std::string_view pass_name, size_t step_index, Scope scope) {
  record_ = PassRecord{};
  record_.pass = std::string(pass_name);
  scope_ = std::move(scope);
  rng_.seed(mix64(seed_ ^ mix64(step_index) ^ fnv1a(pass_name)));
}

}  // namespace bitsmith
