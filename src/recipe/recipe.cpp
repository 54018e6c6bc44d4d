// Recipe parsing, validation and canonical form (recipe.h). Each section is described once by an
// OptionTable, which gives strict parsing (pointers, did-you-mean, ranges) and canonical JSON.
#include "bitsmith/recipe/recipe.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "bitsmith/passes/manager.h"
#include "bitsmith/passes/options.h"
#include "bitsmith/passes/presets.h"

namespace bitsmith {
namespace {

const OptionTable<RecipeCalibration>& calibration_table() {
  static const OptionTable<RecipeCalibration> t =
      OptionTable<RecipeCalibration>("key")
          .string("data", &RecipeCalibration::data, "Calibration rows (.npy, [N, ...]) for the model's single input")
          .integer("samples", &RecipeCalibration::samples, "Rows to use, picked with seed (0: all)", 0)
          .integer("seed", &RecipeCalibration::seed, "Seed for picking rows")
          .integer("batch", &RecipeCalibration::batch, "Rows per calibration batch", 1, 1 << 16);
  return t;
}

const OptionTable<RecipeEvaluation>& evaluation_table() {
  static const OptionTable<RecipeEvaluation> t =
      OptionTable<RecipeEvaluation>("key")
          .string("data", &RecipeEvaluation::data, "Evaluation rows (.npy, [N, ...]) for the model's single input")
          .string("labels", &RecipeEvaluation::labels, "Class ids (.npy, [N]) or one-hot [N, C]; \"\" for none")
          .integer("samples", &RecipeEvaluation::samples, "Use the first N rows (0: all)", 0)
          .integer("batch", &RecipeEvaluation::batch, "Rows per run", 1, 1 << 16)
          .integer("output", &RecipeEvaluation::output, "Graph output holding the logits", 0, 1 << 16);
  return t;
}

const OptionTable<RecipeLatency>& latency_table() {
  static const OptionTable<RecipeLatency> t =
      OptionTable<RecipeLatency>("key")
          .integer("batch", &RecipeLatency::batch, "Rows per timed run", 1, 1 << 16)
          .integer("threads", &RecipeLatency::threads, "Threads of the runtime while timing (0: all cores)", 0, 1024)
          .integer("warmup", &RecipeLatency::warmup, "Untimed runs per model first", 0, 100000)
          .integer("iters", &RecipeLatency::iters, "Timed runs per model (interleaved)", 1, 1000000);
  return t;
}

const OptionTable<RecipeGates>& gates_table() {
  static const OptionTable<RecipeGates> t =
      OptionTable<RecipeGates>("gate")
          .optional_real("max_top1_drop_pt", &RecipeGates::max_top1_drop_pt,
                         "Largest top-1 accuracy drop, in percentage points (needs labels)", 0, 100)
          .optional_real("max_kld_mean", &RecipeGates::max_kld_mean,
                         "Largest mean KL divergence of the outputs against the original (nats)", 0)
          .optional_real("min_size_ratio", &RecipeGates::min_size_ratio,
                         "Smallest file size ratio, before / after", 0)
          .optional_real("max_latency_ratio", &RecipeGates::max_latency_ratio,
                         "Largest p50 latency ratio, after / before", 0)
          .optional_real("min_top1_agreement", &RecipeGates::min_top1_agreement,
                         "Smallest fraction of rows whose top-1 agrees with the original", 0, 1)
          .optional_real("max_kld_p99", &RecipeGates::max_kld_p99, "Largest p99 KL divergence (nats)", 0)
          .optional_real("min_bsm_size_ratio", &RecipeGates::min_bsm_size_ratio,
                         "Smallest size ratio of the .bsm container, input bytes / model.bsm bytes (needs output.bsm)", 0);
  return t;
}

const OptionTable<RecipeSensitivity>& sensitivity_table() {
  static const OptionTable<RecipeSensitivity> t =
      OptionTable<RecipeSensitivity>("key")
          .flag("enabled", &RecipeSensitivity::enabled, "Rank layers by the damage of quantizing each alone")
          .integer("max_layers", &RecipeSensitivity::max_layers, "Analyze at most N layers, largest first (0: all)", 0);
  return t;
}

const OptionTable<RecipeMixedPrecision>& mixed_precision_table() {
  static const OptionTable<RecipeMixedPrecision> t =
      OptionTable<RecipeMixedPrecision>("key")
          .enumeration("metric", &RecipeMixedPrecision::metric, "What must stay under max",
                       std::vector<std::pair<std::string, std::string>>{
                           {"top1_drop_pt", "top1_drop_pt"}, {"kld_mean", "kld_mean"}, {"kld_p99", "kld_p99"}})
          .real("max", &RecipeMixedPrecision::max, "The limit for metric", 0)
          .enumeration("fallback", &RecipeMixedPrecision::fallback, "Precision of the layers kept back",
                       std::vector<std::pair<std::string, std::string>>{{"float32", "float32"}, {"float16", "float16"}})
          .integer("max_layers", &RecipeMixedPrecision::max_layers, "Keep at most N layers back (0: no limit)", 0);
  return t;
}

const OptionTable<RecipeOutput>& output_table() {
  static const OptionTable<RecipeOutput> t = OptionTable<RecipeOutput>("key").flag(
      "bsm", &RecipeOutput::bsm, "Also write OUTDIR/model.bsm, the entropy-coded bitsmith container");
  return t;
}

const std::vector<std::string>& top_level_keys() {
  static const std::vector<std::string> keys = {"schema",   "name",     "description", "seed",
                                                "calibration", "evaluation", "latency", "pipeline",
                                                "sensitivity", "mixed_precision", "output", "gates"};
  return keys;
}

// Splits a multi-line Status message into lines (one error each).
void append_lines(const std::string& message, std::vector<std::string>& errors) {
  std::istringstream in(message);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) errors.push_back(line);
}

// A section that is an object (parsed by `table`) or absent/null.
template <class T>
std::optional<T> parse_section(const nlohmann::json& j, const char* key, const OptionTable<T>& table,
                               std::vector<std::string>& errors) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  T value;
  table.parse(*it, json_pointer_append("", key), value, errors);
  return value;
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

// True when some step of the canonical pipeline runs pass `pass` with options matching `pred`.
template <class Pred>
bool pipeline_has(const nlohmann::json& pipeline, const char* pass, Pred pred) {
  for (const nlohmann::json& step : pipeline)
    if (step.value("pass", "") == pass && pred(step.value("options", nlohmann::json::object()))) return true;
  return false;
}

bool uses_static_activations(const nlohmann::json& pipeline) {
  return pipeline_has(pipeline, "quantize", [](const nlohmann::json& o) {
    return o.contains("activations") && o["activations"].value("mode", "") == "static";
  });
}

// The first step that reads calibration data ("" when none): static quantization, wanda or
// sparsegpt pruning, activation-aware low-rank, cluster with a refit.
std::string step_needing_data(const nlohmann::json& pipeline) {
  for (size_t i = 0; i < pipeline.size(); ++i) {
    const std::string pass = pipeline[i].value("pass", "");
    const nlohmann::json o = pipeline[i].value("options", nlohmann::json::object());
    const bool needs = (pass == "quantize" && o.contains("activations") &&
                        o["activations"].value("mode", "") == "static") ||
                       (pass == "prune" && o.value("method", "magnitude") != "magnitude") ||
                       (pass == "low-rank" && o.value("activation_aware", false)) ||
                       (pass == "cluster" && o.value("refit", false));
    if (needs) return "/pipeline/" + std::to_string(i) + " (" + pass + ")";
  }
  return "";
}

bool changes_precision(const nlohmann::json& pipeline) {
  auto any = [](const nlohmann::json&) { return true; };
  return pipeline_has(pipeline, "quantize", any) || pipeline_has(pipeline, "convert-float16", any) ||
         pipeline_has(pipeline, "convert-bfloat16", any);
}

// Checks that need more than one section: data the gates and steps rely on, and files on disk.
void cross_check(const Recipe& r, bool check_files, std::vector<std::string>& errors) {
  if (r.calibration) {
    if (r.calibration->data.empty()) errors.push_back("/calibration/data: required (a .npy file of input rows)");
    else if (check_files && !file_exists(r.resolve(r.calibration->data)))
      errors.push_back("/calibration/data: no such file: " + r.resolve(r.calibration->data));
  }
  if (r.evaluation) {
    if (r.evaluation->data.empty()) errors.push_back("/evaluation/data: required (a .npy file of input rows)");
    else if (check_files && !file_exists(r.resolve(r.evaluation->data)))
      errors.push_back("/evaluation/data: no such file: " + r.resolve(r.evaluation->data));
    if (!r.evaluation->labels.empty() && check_files && !file_exists(r.resolve(r.evaluation->labels)))
      errors.push_back("/evaluation/labels: no such file: " + r.resolve(r.evaluation->labels));
  }
  if (!r.calibration) {
    if (uses_static_activations(r.pipeline))
      errors.push_back("/calibration: the pipeline quantizes activations statically, which needs calibration data "
                       "(add {\"data\": \"calib.npy\"})");
    else if (const std::string step = step_needing_data(r.pipeline); !step.empty())
      errors.push_back("/calibration: step " + step + " reads calibration activations, which needs calibration data "
                       "(add {\"data\": \"calib.npy\"})");
  }
  const bool labels = r.evaluation && !r.evaluation->labels.empty();
  auto need = [&](bool have, const std::optional<double>& gate, const char* name, const char* what) {
    if (gate && !have) errors.push_back(std::string("/gates/") + name + ": needs " + what);
  };
  need(labels, r.gates.max_top1_drop_pt, "max_top1_drop_pt", "evaluation data with labels (/evaluation/labels)");
  need(r.evaluation.has_value(), r.gates.max_kld_mean, "max_kld_mean", "evaluation data (/evaluation/data)");
  need(r.evaluation.has_value(), r.gates.min_top1_agreement, "min_top1_agreement", "evaluation data (/evaluation/data)");
  need(r.evaluation.has_value(), r.gates.max_kld_p99, "max_kld_p99", "evaluation data (/evaluation/data)");
  if (r.gates.min_bsm_size_ratio && !r.output.bsm)
    errors.push_back("/gates/min_bsm_size_ratio: needs the container (/output/bsm: true)");
  if (r.mixed_precision) {
    if (!r.evaluation) errors.push_back("/mixed_precision: needs evaluation data (/evaluation/data)");
    else if (r.mixed_precision->metric == "top1_drop_pt" && !labels)
      errors.push_back("/mixed_precision/metric: \"top1_drop_pt\" needs labels (/evaluation/labels)");
    if (!changes_precision(r.pipeline))
      errors.push_back("/mixed_precision: the pipeline has no quantize or convert-float16/bfloat16 step to hold back");
  }
  if (r.sensitivity.enabled && !r.evaluation && !r.calibration)
    errors.push_back("/sensitivity/enabled: needs evaluation or calibration data to measure the damage on");
}

}  // namespace

std::string Recipe::resolve(const std::string& path) const {
  if (path.empty() || base_dir.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

nlohmann::json Recipe::to_json() const {
  nlohmann::json j;
  j["schema"] = std::string(kRecipeSchema);
  j["name"] = name;
  j["description"] = description;
  j["seed"] = seed;
  j["calibration"] = calibration ? calibration_table().to_json(*calibration) : nlohmann::json();
  j["evaluation"] = evaluation ? evaluation_table().to_json(*evaluation) : nlohmann::json();
  j["latency"] = latency_table().to_json(latency);
  j["pipeline"] = pipeline;
  j["sensitivity"] = sensitivity_table().to_json(sensitivity);
  j["mixed_precision"] = mixed_precision ? mixed_precision_table().to_json(*mixed_precision) : nlohmann::json();
  j["output"] = output_table().to_json(output);
  j["gates"] = gates_table().to_json(gates);
  return j;
}

Expected<Recipe> parse_recipe(const nlohmann::json& j, const std::string& source, const std::string& base_dir,
                              bool check_files) {
  std::vector<std::string> errors;
  Recipe r;
  r.source = source;
  r.base_dir = base_dir;
  auto finish = [&]() -> Status {
    for (std::string& e : errors) e = source + ": " + e;
    return errors_to_status(errors);
  };
  if (!options_detail::check_object_keys(j, top_level_keys(), "", "key", errors)) return finish();
  auto schema = j.find("schema");
  if (schema == j.end()) {
    errors.push_back("/schema: required; expected \"" + std::string(kRecipeSchema) + "\"");
  } else if (!schema->is_string() || *schema != kRecipeSchema) {
    const bool other_version = schema->is_string() && schema->get<std::string>().rfind("bitsmith.recipe/", 0) == 0;
    errors.push_back("/schema: " + json_brief(*schema) +
                     (other_version ? " is a recipe version this bitsmith does not read" : " is not a recipe schema") +
                     "; expected \"" + std::string(kRecipeSchema) + "\"");
  }
  for (const char* key : {"name", "description"}) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    if (!it->is_string()) errors.push_back(std::string("/") + key + ": expected a string, got " + json_brief(*it));
    else (std::string(key) == "name" ? r.name : r.description) = it->get<std::string>();
  }
  if (auto it = j.find("seed"); it != j.end()) {
    if (!it->is_number_integer() || (it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() < 0))
      errors.push_back("/seed: expected a non-negative integer, got " + json_brief(*it));
    else r.seed = it->get<uint64_t>();
  }
  r.calibration = parse_section(j, "calibration", calibration_table(), errors);
  r.evaluation = parse_section(j, "evaluation", evaluation_table(), errors);
  if (auto v = parse_section(j, "latency", latency_table(), errors)) r.latency = *v;
  if (auto v = parse_section(j, "sensitivity", sensitivity_table(), errors)) r.sensitivity = *v;
  r.mixed_precision = parse_section(j, "mixed_precision", mixed_precision_table(), errors);
  if (r.mixed_precision && !j["mixed_precision"].contains("max"))
    errors.push_back("/mixed_precision/max: required (the limit for the metric)");
  if (auto v = parse_section(j, "output", output_table(), errors)) r.output = *v;
  if (auto v = parse_section(j, "gates", gates_table(), errors)) r.gates = *v;
  auto pipeline = j.find("pipeline");
  if (pipeline == j.end()) {
    errors.push_back("/pipeline: required (an array of steps, e.g. [{\"pass\": \"quantize\"}])");
  } else {
    Expected<PassManager> pm = PassManager::from_json(*pipeline, "/pipeline");
    if (!pm) append_lines(pm.status().message(), errors);
    else r.pipeline = pm->to_json();
  }
  if (errors.empty()) cross_check(r, check_files, errors);
  if (!errors.empty()) return finish();
  return r;
}

Expected<Recipe> load_recipe(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(path + ": cannot open the recipe (no such file or not readable)");
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    return invalid_argument(path + ": not valid JSON: " + e.what());
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return parse_recipe(j, path, dir.empty() ? "." : dir);
}

Expected<nlohmann::json> preset_recipe_json(std::string_view name) {
  BS_ASSIGN_OR_RETURN(nlohmann::json pipeline, preset_pipeline(name));
  nlohmann::json j = {{"schema", std::string(kRecipeSchema)}, {"name", std::string(name)}};
  for (const Preset& p : presets()) {
    if (p.name != name) continue;
    j["description"] = std::string(p.summary);
    const nlohmann::json extra = nlohmann::json::parse(p.recipe);
    for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = *it;
  }
  j["pipeline"] = std::move(pipeline);
  return j;
}

}  // namespace bitsmith
