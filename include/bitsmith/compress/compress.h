// `bitsmith compress`: runs a recipe on a model and writes OUTDIR/model.onnx with a report of
// what it gained and lost, every number measured (report JSON schema: README "report.json").
//
// Steps: hash the inputs; run the pipeline (with automatic mixed precision when the recipe asks);
// write the model; reload the written file and evaluate it against the original on the
// evaluation data (fidelity, and accuracy before/after with labels); time both models
// interleaved in one process; build the per-tensor table from the pass records; rank layer
// sensitivity when asked; check the gates. Everything is written into a staging folder inside
// OUTDIR and moved into place at the end, so a failed run leaves no half-written file.
//
// A failed gate is not an error: the outputs are written (status "failed") and
// CompressResult::failed_gates lists it; the CLI exits 3.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/recipe/recipe.h"

namespace bitsmith {

struct CompressOptions {
  std::string model_path;
  std::string out_dir;
  int threads = 0;        // passes and evaluation (0: all cores); latency uses recipe.latency.threads
  bool progress = true;   // progress on stderr
};

struct CompressResult {
  nlohmann::json report;                  // what report.json holds
  std::vector<std::string> failed_gates;  // "max_top1_drop_pt: 1.2 > 1.0", in gate order
  std::string model_file, report_json, report_md, report_html;  // the written files
};

Expected<CompressResult> compress(const Recipe& recipe, const CompressOptions& options);

// A copy of `report` without the fields that hold times, which differ run to run: latency
// before/after/ratio, passes[].wall_ms, timing, and the value/passed of the max_latency_ratio
// gate. Everything left is deterministic for a model, recipe and seed (tested).
nlohmann::json report_without_timing(const nlohmann::json& report);

}  // namespace bitsmith
