// Pieces of compress shared by its files (not public API).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "bitsmith/compress/sensitivity.h"
#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/manager.h"
#include "bitsmith/passes/pass.h"
#include "bitsmith/recipe/recipe.h"
#include "bitsmith/report/evaluate.h"
#include "bitsmith/runtime/executor.h"

namespace bitsmith::compress_detail {

// An executor for an in-memory model (dynamic batch, so data rows can be fed in any batch size).
Expected<std::unique_ptr<Executor>> make_executor(const Model& model, int threads);

// evaluate() without progress output: `data` rows in batches of `batch`, logits from graph output
// `output`; accuracy when `labels`, fidelity against `reference` when given.
Expected<EvalResult> evaluate_model(Executor& model, const Tensor& data, const Tensor* labels, int64_t batch,
                                    int output, Executor* reference);
template <class In>
Expected<EvalResult> evaluate_model(Executor& model, const In& in, Executor* reference) {
  return evaluate_model(model, *in.data, in.labels, in.batch, in.output, reference);
}

// The per-tensor rows of the report: one per float initializer of `original`, followed through
// the TensorChanges of `records` (by name) to what `written` stores. See README "report.json".
nlohmann::json tensor_rows(const Model& original, const Model& written, const std::vector<PassRecord>& records);

// A pipeline run on a copy of a model: the result, the pass records, the canonical pipeline.
struct PipelineRun {
  Model model;
  std::vector<PassRecord> records;
  nlohmann::json pipeline;
};
Expected<PipelineRun> run_pipeline(const Model& original, const nlohmann::json& pipeline, const PassManagerOptions& po);

// `pipeline` with the layers `kept` excluded from every precision step (names matched
// literally); with fallback "float16" a convert-float16 step limited to them is appended.
nlohmann::json holding_back(const nlohmann::json& pipeline, const std::vector<std::string>& kept,
                            const std::string& fallback);

// Automatic mixed precision (recipe "mixed_precision"): ranks layers by sensitivity, then runs
// the pipeline holding back the top 0, 1, 2, ... layers until the metric is <= max (or the
// ranking or max_layers runs out: "met" false). Needs recipe.evaluation and recipe.mixed_precision.
struct MixedPrecisionInputs {
  const Recipe* recipe = nullptr;
  const Model* original = nullptr;
  const Tensor* data = nullptr;
  const Tensor* labels = nullptr;
  PassManagerOptions po;
  bool progress = true;
};
struct MixedPrecisionOutcome {
  PipelineRun run;                       // the chosen run
  std::vector<LayerSensitivity> ranking;
  nlohmann::json report;                 // the report's "mixed_precision" object
};
Expected<MixedPrecisionOutcome> run_mixed_precision(const MixedPrecisionInputs& in);

}  // namespace bitsmith::compress_detail
