// Recipes: strict validation (every error at once, each naming the file and JSON pointer, with
// did-you-mean), canonical form (defaults filled in, stable under a round trip), data checks.
#include "bitsmith/recipe/recipe.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "bitsmith/passes/presets.h"
#include "passes/pass_test_util.h"

namespace bitsmith {
namespace {

namespace fs = std::filesystem;

// A recipe in the repository's digits example folder layout: data paths relative to models/recipes.
nlohmann::json digits_recipe() {
  return nlohmann::json::parse(R"({
    "schema": "bitsmith.recipe/1",
    "calibration": {"data": "../digits/calib.npy", "samples": 64},
    "evaluation": {"data": "../digits/eval.npy", "labels": "../digits/eval_labels.npy"},
    "pipeline": [
      {"pass": "fold-batchnorm"},
      {"pass": "quantize", "options": {"activations": {"mode": "static", "observer": "minmax"}},
       "scope": {"exclude": {"names": ["*head*"]}}}
    ],
    "gates": {"max_top1_drop_pt": 0.5, "max_kld_mean": 0.01, "min_size_ratio": 2.5, "max_latency_ratio": 2.0}
  })");
}

std::string recipes_dir() { return test::repo_path("models/recipes"); }

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = s.find('\n', start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

TEST(Recipe, ParsesAndResolvesPathsAgainstTheRecipeFolder) {
  Expected<Recipe> r = parse_recipe(digits_recipe(), "r.json", recipes_dir());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_TRUE(r->calibration.has_value());
  EXPECT_EQ(r->calibration->samples, 64);
  EXPECT_EQ(r->resolve(r->calibration->data), fs::path(test::repo_path("models/digits/calib.npy")).lexically_normal());
  EXPECT_EQ(r->resolve("/abs/x.npy"), "/abs/x.npy");
  ASSERT_TRUE(r->gates.max_top1_drop_pt.has_value());
  EXPECT_DOUBLE_EQ(*r->gates.max_top1_drop_pt, 0.5);
  EXPECT_FALSE(r->gates.min_top1_agreement.has_value());
  EXPECT_EQ(r->pipeline.size(), 2u);
}

TEST(Recipe, CanonicalFormFillsDefaultsAndRoundTrips) {
  Expected<Recipe> r = parse_recipe(digits_recipe(), "r.json", recipes_dir());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const nlohmann::json c = r->to_json();
  // Defaults appear: latency, sensitivity, every pass option, every gate (null when unset).
  EXPECT_EQ(c["latency"]["iters"], RecipeLatency{}.iters);
  EXPECT_EQ(c["calibration"]["batch"], RecipeCalibration{}.batch);
  EXPECT_TRUE(c["gates"].contains("max_kld_p99"));
  EXPECT_TRUE(c["gates"]["max_kld_p99"].is_null());
  EXPECT_TRUE(c["pipeline"][1]["options"]["weights"].contains("dtype"));
  EXPECT_TRUE(c["mixed_precision"].is_null());
  Expected<Recipe> again = parse_recipe(c, "canonical", recipes_dir());
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  EXPECT_EQ(again->to_json(), c);
}

TEST(Recipe, ReportsEveryErrorAtOnceWithPointersAndSuggestions) {
  nlohmann::json j = digits_recipe();
  j["gates"]["max_top1_drop"] = 1;                 // typo of max_top1_drop_pt
  j["calibration"]["sampels"] = 10;                // typo of samples
  j["latency"]["iters"] = 0;                       // out of range
  j["pipeline"][1]["options"]["weights"]["dtype"] = "int9";  // not allowed
  j["evalutation"] = nlohmann::json::object();     // unknown top-level key
  Expected<Recipe> r = parse_recipe(j, "bad.json", recipes_dir());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  const std::string m = r.status().message();
  const std::vector<std::string> ls = lines(m);
  EXPECT_EQ(ls.size(), 5u) << m;
  for (const std::string& l : ls) EXPECT_EQ(l.rfind("bad.json: /", 0), 0u) << l;
  EXPECT_NE(m.find("/gates/max_top1_drop"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean \"max_top1_drop_pt\""), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean \"samples\""), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean \"evaluation\""), std::string::npos) << m;
  EXPECT_NE(m.find("/latency/iters"), std::string::npos) << m;
  EXPECT_NE(m.find("/pipeline/1/options/weights/dtype"), std::string::npos) << m;
}

TEST(Recipe, RefusesWrongSchemaAndMissingPipeline) {
  Expected<Recipe> r = parse_recipe(nlohmann::json{{"schema", "bitsmith.recipe/2"}}, "v2.json", "");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("/schema"), std::string::npos);
  EXPECT_NE(r.status().message().find("version"), std::string::npos);
  EXPECT_NE(r.status().message().find("/pipeline: required"), std::string::npos) << r.status().message();
  Expected<Recipe> none = parse_recipe(nlohmann::json{{"pipeline", nlohmann::json::array()}}, "x.json", "");
  ASSERT_FALSE(none.is_ok());
  EXPECT_NE(none.status().message().find("x.json: /schema: required"), std::string::npos);
  Expected<Recipe> type = parse_recipe(nlohmann::json::array(), "arr.json", "");
  ASSERT_FALSE(type.is_ok());
}

TEST(Recipe, ChecksDataTheStepsAndGatesNeed) {
  nlohmann::json j = digits_recipe();
  j.erase("calibration");
  j["evaluation"].erase("labels");
  j["mixed_precision"] = {{"metric", "top1_drop_pt"}, {"max", 0.2}};
  Expected<Recipe> r = parse_recipe(j, "r.json", recipes_dir());
  ASSERT_FALSE(r.is_ok());
  const std::string m = r.status().message();
  EXPECT_NE(m.find("/calibration: the pipeline quantizes activations statically"), std::string::npos) << m;
  EXPECT_NE(m.find("/gates/max_top1_drop_pt: needs evaluation data with labels"), std::string::npos) << m;
  EXPECT_NE(m.find("/mixed_precision/metric"), std::string::npos) << m;
  // max is required in mixed_precision.
  nlohmann::json k = digits_recipe();
  k["mixed_precision"] = {{"metric", "kld_mean"}};
  Expected<Recipe> r2 = parse_recipe(k, "r.json", recipes_dir());
  ASSERT_FALSE(r2.is_ok());
  EXPECT_NE(r2.status().message().find("/mixed_precision/max: required"), std::string::npos);
}

TEST(Recipe, StepsThatReadActivationsNeedCalibrationData) {
  nlohmann::json j = digits_recipe();
  j.erase("calibration");
  j["gates"].erase("max_top1_drop_pt");
  j["pipeline"] = nlohmann::json::parse(R"([{"pass": "prune", "options": {"method": "magnitude"}},
                                            {"pass": "prune", "options": {"method": "sparsegpt"}}])");
  Expected<Recipe> r = parse_recipe(j, "r.json", recipes_dir());
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("/calibration: step /pipeline/1 (prune) reads calibration activations"),
            std::string::npos)
      << r.status().message();
  j["pipeline"].erase(1);
  EXPECT_TRUE(parse_recipe(j, "r.json", recipes_dir()).is_ok());
}

TEST(Recipe, MissingDataFilesNameThePointerAndThePath) {
  nlohmann::json j = digits_recipe();
  j["evaluation"]["labels"] = "../digits/nope.npy";
  Expected<Recipe> r = parse_recipe(j, "r.json", recipes_dir());
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("/evaluation/labels: no such file: "), std::string::npos);
  EXPECT_NE(r.status().message().find("nope.npy"), std::string::npos);
  EXPECT_TRUE(parse_recipe(j, "r.json", recipes_dir(), /*check_files=*/false).is_ok());
}

TEST(Recipe, LoadRecipeReportsBadJsonAndMissingFiles) {
  const fs::path dir = fs::temp_directory_path() / ("bitsmith_recipe_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string bad = (dir / "bad.json").string();
  std::ofstream(bad) << "{\"schema\": \"bitsmith.recipe/1\",\n \"pipeline\": [}";
  Expected<Recipe> r = load_recipe(bad);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(bad + ": not valid JSON"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().message();
  Expected<Recipe> missing = load_recipe((dir / "none.json").string());
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  fs::remove_all(dir);
}

TEST(Recipe, EveryBundledRecipeAndEveryPresetParses) {
  for (const fs::directory_entry& e : fs::directory_iterator(recipes_dir())) {
    Expected<Recipe> r = load_recipe(e.path().string());
    EXPECT_TRUE(r.is_ok()) << e.path() << ": " << r.status().message();
  }
  for (const std::string& name : preset_names()) {
    Expected<nlohmann::json> j = preset_recipe_json(name);
    ASSERT_TRUE(j.is_ok()) << name;
    (*j)["calibration"] = {{"data", "calib.npy"}};
    Expected<Recipe> r = parse_recipe(*j, "preset " + name, "", /*check_files=*/false);
    EXPECT_TRUE(r.is_ok()) << name << ": " << r.status().message();
  }
  Expected<nlohmann::json> unknown = preset_recipe_json("int8-statik");
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("int8-static"), std::string::npos);
}

}  // namespace
}  // namespace bitsmith
