// Running a recipe's pipeline, with automatic mixed precision (compress_internal.h).
#include <algorithm>
#include <cstdio>

#include "bitsmith/compress/sensitivity.h"
#include "bitsmith/passes/manager.h"
#include "compress/compress_internal.h"

namespace bitsmith::compress_detail {

Expected<PipelineRun> run_pipeline(const Model& original, const nlohmann::json& pipeline, const PassManagerOptions& po) {
  BS_ASSIGN_OR_RETURN(PassManager pm, PassManager::from_json(pipeline, "/pipeline"));
  PipelineRun run{original, {}, pm.to_json()};
  BS_TRY(pm.run(run.model, po));
  run.records = pm.records();
  return run;
}

nlohmann::json holding_back(const nlohmann::json& pipeline, const std::vector<std::string>& kept,
                            const std::string& fallback) {
  nlohmann::json p = pipeline;
  if (kept.empty()) return p;
  nlohmann::json names = nlohmann::json::array();
  for (const std::string& k : kept) names.push_back(glob_literal(k));
  for (nlohmann::json& step : p) {
    if (!is_precision_pass(step.value("pass", ""))) continue;
    nlohmann::json& ex = step["scope"]["exclude"]["names"];
    for (const nlohmann::json& n : names) ex.push_back(n);
  }
  if (fallback == "float16")
    p.push_back({{"pass", "convert-float16"}, {"scope", {{"include", {{"names", names}}}}}});
  return p;
}

double metric_value(const std::string& metric, const EvalResult& r, const std::optional<AccuracyMetrics>& before) {
  if (metric == "kld_mean") return r.fidelity->kld_mean;
  if (metric == "kld_p99") return r.fidelity->kld_p99;
  return (before->top1 - r.accuracy->top1) * 100.0;  // top1_drop_pt (labels checked by the recipe)
}

Expected<MixedPrecisionOutcome> run_mixed_precision(const MixedPrecisionInputs& in) {
  const RecipeMixedPrecision& mp = *in.recipe->mixed_precision;
  MixedPrecisionOutcome out;
  SensitivityInputs si;
  si.model = in.original;
  si.pipeline = in.recipe->pipeline;
  si.data = in.data;
  si.labels = in.labels;
  si.calibration = in.po.calibration;
  si.seed = in.po.seed;
  si.threads = in.po.num_threads;
  si.max_layers = in.recipe->sensitivity.max_layers;
  si.batch = in.recipe->evaluation->batch;
  si.output = static_cast<int>(in.recipe->evaluation->output);
  si.progress = in.progress;
  BS_ASSIGN_OR_RETURN(out.ranking, analyze_sensitivity(si));
  // Rank by the metric being held down.
  if (mp.metric == "top1_drop_pt")
    std::stable_sort(out.ranking.begin(), out.ranking.end(), [](const LayerSensitivity& a, const LayerSensitivity& b) {
      return a.top1_drop_pt.value_or(0) > b.top1_drop_pt.value_or(0);
    });
  else if (mp.metric == "kld_p99")
    std::stable_sort(out.ranking.begin(), out.ranking.end(),
                     [](const LayerSensitivity& a, const LayerSensitivity& b) { return a.kld_p99 > b.kld_p99; });

  BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> reference, make_executor(*in.original, in.po.num_threads));
  std::optional<AccuracyMetrics> before;
  if (in.labels) {
    BS_ASSIGN_OR_RETURN(EvalResult r, evaluate_model(*reference, si, nullptr));
    before = r.accuracy;
  }
  const size_t limit = mp.max_layers > 0 ? std::min(out.ranking.size(), static_cast<size_t>(mp.max_layers))
                                         : out.ranking.size();
  std::vector<std::string> kept;
  nlohmann::json steps = nlohmann::json::array();
  for (size_t k = 0;; ++k) {
    const nlohmann::json pipeline = holding_back(in.recipe->pipeline, kept, mp.fallback);
    BS_ASSIGN_OR_RETURN(PipelineRun run, run_pipeline(*in.original, pipeline, in.po));
    BS_ASSIGN_OR_RETURN(std::unique_ptr<Executor> ex, make_executor(run.model, in.po.num_threads));
    BS_ASSIGN_OR_RETURN(EvalResult r, evaluate_model(*ex, si, reference.get()));
    const double value = metric_value(mp.metric, r, before);
    steps.push_back({{"kept", kept}, {"value", value}});
    const bool met = value <= mp.max;
    if (met || k >= limit) {
      nlohmann::json kept_rows = nlohmann::json::array();
      for (size_t i = 0; i < kept.size(); ++i)
        kept_rows.push_back({{"node", out.ranking[i].node}, {"op", out.ranking[i].op}, {"precision", mp.fallback}});
      out.report = {{"metric", mp.metric}, {"max", mp.max},     {"fallback", mp.fallback}, {"met", met},
                    {"value", value},      {"steps", steps},   {"kept", kept_rows}};
      out.run = std::move(run);
      return out;
    }
    kept.push_back(out.ranking[k].node);
  }
}

}  // namespace bitsmith::compress_detail
