// Recipes: the JSON a team commits next to a model to say how to compress it, on what data to
// judge the result, and which gates the result must pass (`bitsmith compress --recipe R.json`).
//
// Schema "bitsmith.recipe/1" (every key but "schema" and "pipeline" optional; defaults shown by
// `bitsmith compress --print-recipe`):
//   {
//     "schema": "bitsmith.recipe/1",
//     "name": "digits-int8", "description": "...",
//     "seed": 0,                                   // seeds every pass (PassContext::rng)
//     "calibration": {"data": "calib.npy", "samples": 256, "seed": 0, "batch": 32},
//     "evaluation": {"data": "x.npy", "labels": "y.npy", "samples": 0, "batch": 32, "output": 0},
//     "latency": {"batch": 1, "threads": 1, "warmup": 5, "iters": 50},
//     "pipeline": [ {"pass": "...", "options": {...}, "scope": {...}} ],   // passes/manager.h
//     "sensitivity": {"enabled": false, "max_layers": 0},
//     "mixed_precision": {"metric": "top1_drop_pt", "max": 0.2, "fallback": "float32", "max_layers": 0},
//     "output": {"bsm": false},                    // also write OUTDIR/model.bsm (io/bsm.h)
//     "gates": {"max_top1_drop_pt": 0.5, "max_kld_mean": 0.01, "min_size_ratio": 3.5,
//               "max_latency_ratio": 1.0, "min_top1_agreement": 0.99, "max_kld_p99": 0.1,
//               "min_bsm_size_ratio": 30}
//   }
// Data paths are relative to the recipe file (absolute paths are kept). calibration.samples 0
// means every row; rows are picked with calibration.seed. evaluation.samples 0 means every row
// (the first N rows otherwise); evaluation.output picks the graph output holding the logits.
// latency.threads 0 means all cores. A gate left out (or null) is not checked.
//
// Validation is strict and happens before any work: unknown keys (with "did you mean"), wrong
// types, out-of-range values, missing data files, gates or mixed precision that need data the
// recipe does not give, and a static-quantization step without calibration data are all errors;
// every error is reported at once, one per line, each naming the recipe and the JSON pointer.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bitsmith/core/status.h"

namespace bitsmith {

inline constexpr std::string_view kRecipeSchema = "bitsmith.recipe/1";

struct RecipeCalibration {
  std::string data;     // .npy rows [N, ...] for the model's single input
  int64_t samples = 0;  // rows to use, picked with `seed` (0: all)
  uint64_t seed = 0;
  int64_t batch = 32;   // rows per calibration batch
};

struct RecipeEvaluation {
  std::string data;     // .npy rows [N, ...] for the model's single input
  std::string labels;   // .npy class ids [N] (or one-hot [N, C]); "" when none
  int64_t samples = 0;  // first N rows (0: all)
  int64_t batch = 32;
  int64_t output = 0;   // which graph output holds the logits
};

struct RecipeLatency {
  int64_t batch = 1;
  int64_t threads = 1;  // 0: all cores
  int64_t warmup = 5;
  int64_t iters = 50;
};

// Gate names are fixed (CI scripts depend on them). Fractions in [0, 1]; "pt" = percentage points.
struct RecipeGates {
  std::optional<double> max_top1_drop_pt;    // accuracy.top1_drop_pt <= limit (needs labels)
  std::optional<double> max_kld_mean;        // fidelity.kld_mean <= limit (needs evaluation data)
  std::optional<double> min_size_ratio;      // size.ratio (before / after bytes) >= limit
  std::optional<double> max_latency_ratio;   // latency.ratio (after / before p50) <= limit
  std::optional<double> min_top1_agreement;  // fidelity.top1_agreement >= limit
  std::optional<double> max_kld_p99;         // fidelity.kld_p99 <= limit
  std::optional<double> min_bsm_size_ratio;  // size.bsm.ratio (before / model.bsm bytes) >= limit (needs output.bsm)
};

struct RecipeSensitivity {
  bool enabled = false;    // rank layers by the damage of quantizing each alone (into the report)
  int64_t max_layers = 0;  // analyze at most this many weighted layers, largest first (0: all)
};

// Keep the most sensitive layers in `fallback` precision until `metric` <= `max`.
struct RecipeMixedPrecision {
  std::string metric = "top1_drop_pt";  // top1_drop_pt | kld_mean | kld_p99
  double max = 0;
  std::string fallback = "float32";     // float32 | float16
  int64_t max_layers = 0;               // keep at most this many layers (0: no limit)
};

struct RecipeOutput {
  bool bsm = false;  // also write the bitsmith container model.bsm (entropy-coded, io/bsm.h)
};

struct Recipe {
  std::string name, description;
  uint64_t seed = 0;
  std::optional<RecipeCalibration> calibration;
  std::optional<RecipeEvaluation> evaluation;
  RecipeLatency latency;
  nlohmann::json pipeline = nlohmann::json::array();  // canonical (every pass option filled in)
  RecipeSensitivity sensitivity;
  std::optional<RecipeMixedPrecision> mixed_precision;
  RecipeOutput output;
  RecipeGates gates;

  std::string source;    // where it came from: the recipe file, or "preset NAME"
  std::string base_dir;  // relative data paths resolve against it ("" = current directory)

  // `path` resolved against base_dir (absolute paths unchanged).
  std::string resolve(const std::string& path) const;
  // The canonical recipe: every key present, defaults filled in, data paths as written.
  nlohmann::json to_json() const;
};

// Validates and parses recipe JSON. `source` names it in errors; `base_dir` resolves data paths
// (files are checked to exist when `check_files`). Errors: kInvalidArgument, one line per
// problem, each "<source>: <JSON pointer>: <what is wrong>".
Expected<Recipe> parse_recipe(const nlohmann::json& j, const std::string& source, const std::string& base_dir,
                              bool check_files = true);
// Reads and parses a recipe file (kIoError when missing; kInvalidArgument for bad JSON, with the
// line and column).
Expected<Recipe> load_recipe(const std::string& path);
// Built-in preset `name` (passes/presets.h) as a recipe with no data: the caller adds
// calibration/evaluation from flags. Unknown name: kInvalidArgument with did-you-mean.
Expected<nlohmann::json> preset_recipe_json(std::string_view name);

}  // namespace bitsmith
