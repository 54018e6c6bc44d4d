// One-layer-at-a-time sensitivity (compress/sensitivity.h).
#include "bitsmith/compress/sensitivity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "bitsmith/core/progress.h"
#include "bitsmith/passes/manager.h"
#include "bitsmith/passes/scope.h"
#include "bitsmith/report/evaluate.h"
#include "compress/compress_internal.h"

namespace bitsmith {
namespace {

struct Candidate {
  size_t index = 0;
  std::string node, op;
  int64_t weights = 0;
};

// Weighted layers that some precision step has in scope, in graph order.
Expected<std::vector<Candidate>> candidates(const Model& model, const nlohmann::json& pipeline) {
  const Graph& g = model.graph;
  std::vector<bool> any(g.nodes.size(), false);
  for (size_t s = 0; s < pipeline.size(); ++s) {
    if (!is_precision_pass(pipeline[s].value("pass", ""))) continue;
    BS_ASSIGN_OR_RETURN(Scope scope, Scope::from_json(pipeline[s].value("scope", nlohmann::json::object()),
                                                      "/pipeline/" + std::to_string(s) + "/scope"));
    const std::vector<bool> sel = scope.select(g);
    for (size_t i = 0; i < sel.size(); ++i) any[i] = any[i] || sel[i];
  }
  std::vector<Candidate> out;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!any[i] || !is_weighted_layer(g, i) || g.nodes[i].name.empty()) continue;
    const Node& n = g.nodes[i];
    const size_t w = n.op_type.rfind("QLinear", 0) == 0 ? 3 : 1;
    const Tensor* t = w < n.inputs.size() ? g.find_initializer(n.inputs[w]) : nullptr;
    out.push_back({i, n.name, qualified_op(n), t ? t->numel() : 0});
  }
  return out;
}

// The pipeline with every precision step narrowed to node `name`.
nlohmann::json narrowed(const nlohmann::json& pipeline, const std::string& name) {
  nlohmann::json p = pipeline;
  for (nlohmann::json& step : p) {
    if (!is_precision_pass(step.value("pass", ""))) continue;
    nlohmann::json& include = step["scope"]["include"];
    include = {{"names", {glob_literal(name)}}};
  }
  return p;
}

// Mean and max |x| and rms of the values seen, per value name.
struct RangeStats {
  double max_abs = 0, sum_sq = 0;
  int64_t n = 0;
  double peak_to_rms() const { return n && sum_sq > 0 ? max_abs / std::sqrt(sum_sq / static_cast<double>(n)) : 0; }
};

void accumulate(RangeStats& s, const Tensor& t) {
  if (t.dtype() != DType::kF32) return;
  const float* v = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double a = std::fabs(static_cast<double>(v[i]));
    if (std::isfinite(a)) {
      s.max_abs = std::max(s.max_abs, a);
      s.sum_sq += a * a;
      ++s.n;
    }
  }
}

// Input-activation statistics of the candidates over the first batch of the data.
Expected<std::map<std::string, RangeStats>> input_stats(const SensitivityInputs& in, const std::vector<Candidate>& cs) {
  std::map<std::string, RangeStats> stats;
  for (const Candidate& c : cs) stats[in.model->graph.nodes[c.index].inputs[0]];
  ExecutorOptions eo;
  eo.num_threads = in.threads;
  eo.dynamic_batch = true;
  eo.fuse_float = false;  // observe every activation (fused chains would hide their inner values)
  BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> ex, Executor::create(*in.model, eo));
  const int64_t rows = std::min<int64_t>(in.data->dim(0), std::max<int64_t>(1, in.batch));
  const Tensor batch = slice_rows(*in.data, 0, rows);
  const std::string input = ex->inputs().at(0).name;
  if (auto it = stats.find(input); it != stats.end()) accumulate(it->second, batch);
  BS_TRY(ex->run_observed({{input, batch}}, [&](const Node&, const std::string& v, const Tensor& t) -> Status {
            if (auto it = stats.find(v); it != stats.end()) accumulate(it->second, t);
            return Status::ok();
          }).status());
  return stats;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Why a layer may be fragile, from its weight and input statistics.
std::string explain(const Graph& g, const Candidate& c, const RangeStats& act) {
  std::vector<std::string> why;
  const Node& n = g.nodes[c.index];
  const Tensor* w = g.find_initializer(n.inputs[n.op_type.rfind("QLinear", 0) == 0 ? 3 : 1]);
  if (n.op_type == "Conv" && w && w->rank() >= 2) {
    const Attribute* group = n.find_attr("group");
    const int64_t groups = group ? group->i : 1;
    if (groups > 1 && w->dim(1) == 1) why.push_back("depthwise");
    const int64_t per_channel = w->numel() / std::max<int64_t>(1, w->dim(0));
    if (per_channel < 64) why.push_back("few weights per channel (" + std::to_string(per_channel) + ")");
  } else if (w && w->rank() == 2) {
    const int64_t k = n.op_type == "Gemm" && n.find_attr("transB") && n.find_attr("transB")->i ? w->dim(1) : w->dim(0);
    if (k < 64) why.push_back("short reduction (" + std::to_string(k) + " inputs per output)");
  }
  if (w && w->dtype() == DType::kF32) {
    RangeStats ws;
    accumulate(ws, *w);
    if (ws.peak_to_rms() > 8) why.push_back("outlier-heavy weights (max/rms " + fmt("%.1f", ws.peak_to_rms()) + ")");
  }
  if (act.peak_to_rms() > 8) why.push_back("outlier-heavy input activation (max/rms " + fmt("%.1f", act.peak_to_rms()) + ")");
  else if (act.max_abs > 0 && act.peak_to_rms() > 4)
    why.push_back("wide input activation range (max/rms " + fmt("%.1f", act.peak_to_rms()) + ")");
  for (const std::string& out : n.outputs)
    for (const ValueInfo& o : g.outputs)
      if (o.name == out) why.push_back("produces a model output");
  if (why.empty()) return "no standout property; error spread evenly";
  std::string s;
  for (const std::string& r : why) s += (s.empty() ? "" : "; ") + r;
  return s;
}

}  // namespace

bool is_precision_pass(const std::string& pass) {
  return pass == "quantize" || pass == "convert-float16" || pass == "convert-bfloat16";
}

std::string glob_literal(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

Expected<std::vector<LayerSensitivity>> analyze_sensitivity(const SensitivityInputs& in) {
  BS_ASSIGN_OR_RETURN(std::vector<Candidate> cs, candidates(*in.model, in.pipeline));
  if (in.max_layers > 0 && static_cast<int64_t>(cs.size()) > in.max_layers) {
    std::stable_sort(cs.begin(), cs.end(), [](const Candidate& a, const Candidate& b) { return a.weights > b.weights; });
    cs.resize(static_cast<size_t>(in.max_layers));
    std::sort(cs.begin(), cs.end(), [](const Candidate& a, const Candidate& b) { return a.index < b.index; });
  }
  BS_ASSIGN_OR_RETURN(auto stats, input_stats(in, cs));
  BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> reference, compress_detail::make_executor(*in.model, in.threads));
  std::optional<AccuracyMetrics> before;
  if (in.labels) {
    BS_ASSIGN_OR_RETURN(EvalResult r, compress_detail::evaluate_model(*reference, in, nullptr));
    before = r.accuracy;
  }
  std::vector<LayerSensitivity> out;
  Progress progress("sensitivity", static_cast<int64_t>(cs.size()), in.progress);
  for (const Candidate& c : cs) {
    BS_ASSIGN_OR_RETURN(PassManager pm, PassManager::from_json(narrowed(in.pipeline, c.node), "/pipeline"));
    Model m = *in.model;
    PassManagerOptions po;
    po.seed = in.seed;
    po.num_threads = in.threads;
    po.calibration = in.calibration;
    BS_TRY(pm.run(m, po).with_context("layer '" + c.node + "'"));
    BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> ex, compress_detail::make_executor(m, in.threads));
    BS_ASSIGN_OR_RETURN(EvalResult r, compress_detail::evaluate_model(*ex, in, reference.get()));
    LayerSensitivity l;
    l.node = c.node;
    l.op = c.op;
    l.weights = c.weights;
    l.kld_mean = r.fidelity->kld_mean;
    l.kld_p99 = r.fidelity->kld_p99;
    l.top1_agreement = r.fidelity->top1_agreement;
    if (before && r.accuracy) l.top1_drop_pt = (before->top1 - r.accuracy->top1) * 100.0;
    l.reason = explain(in.model->graph, c, stats[in.model->graph.nodes[c.index].inputs[0]]);
    out.push_back(std::move(l));
    progress.advance();
  }
  progress.finish();
  std::stable_sort(out.begin(), out.end(), [](const LayerSensitivity& a, const LayerSensitivity& b) {
    if (a.kld_mean != b.kld_mean) return a.kld_mean > b.kld_mean;
    if (a.top1_agreement != b.top1_agreement) return a.top1_agreement < b.top1_agreement;
    return a.node < b.node;
  });
  return out;
}

nlohmann::json to_json(const std::vector<LayerSensitivity>& layers) {
  nlohmann::json j = nlohmann::json::array();
  for (const LayerSensitivity& l : layers)
    j.push_back({{"node", l.node},
                 {"op", l.op},
                 {"weights", l.weights},
                 {"kld_mean", l.kld_mean},
                 {"kld_p99", l.kld_p99},
                 {"top1_agreement", l.top1_agreement},
                 {"top1_drop_pt", l.top1_drop_pt ? nlohmann::json(*l.top1_drop_pt) : nlohmann::json()},
                 {"reason", l.reason}});
  return j;
}

}  // namespace bitsmith
