// `bitsmith compress` and `bitsmith analyze` from the shell: summary on stdout, exit codes
// (1 bad recipe/flags, 2 bad model/data, 3 gate failed with outputs kept), --print-recipe.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include "support/cli_fixture.h"

namespace bitsmith {
namespace {

namespace fs = std::filesystem;

using test::CliResult;
using test::slurp;

class CompressCli : public test::CliFixture {
 protected:
  CompressCli() : CliFixture("bitsmith_ccli") {}
  // A recipe file in the temp folder, pointing at the repo's digits data by absolute path.
  std::string write_recipe(nlohmann::json gates, const std::string& name = "r.json") const {
    const std::string d = std::string(BITSMITH_SOURCE_DIR) + "/models/digits/";
    nlohmann::json j = {
        {"schema", "bitsmith.recipe/1"},
        {"calibration", {{"data", d + "calib.npy"}, {"samples", 64}}},
        {"evaluation", {{"data", d + "eval.npy"}, {"labels", d + "eval_labels.npy"}, {"samples", 100}}},
        {"latency", {{"iters", 3}, {"warmup", 1}}},
        {"pipeline", nlohmann::json::parse(R"([{"pass": "fold-batchnorm"}, {"pass": "quantize",
             "options": {"activations": {"mode": "static"}}}])")},
        {"gates", std::move(gates)}};
    std::ofstream(tmp(name)) << j.dump(2);
    return tmp(name);
  }
};

TEST_F(CompressCli, PrintsTheSummaryAndWritesFourFiles) {
  const std::string r = write_recipe({{"min_size_ratio", 2.0}});
  const CliResult c = run("-q compress models/digits_cnn.onnx --recipe " + r + " -o " + tmp("out"));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("| metric | before | after | change |"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("min_size_ratio"), std::string::npos) << c.out;
  for (const char* f : {"model.onnx", "report.json", "report.md", "report.html"})
    EXPECT_TRUE(fs::exists(dir_ / "out" / f)) << f;
  const nlohmann::json rep = nlohmann::json::parse(slurp(dir_ / "out" / "report.json"));
  EXPECT_EQ(rep["status"], "passed");
}

TEST_F(CompressCli, AFailedGateExitsThreeNamesItAndKeepsTheOutputs) {
  const std::string r = write_recipe({{"min_size_ratio", 1000.0}, {"max_top1_drop_pt", 50.0}});
  const CliResult c = run("-q compress models/digits_cnn.onnx --recipe " + r + " -o " + tmp("out"));
  EXPECT_EQ(c.exit_code, 3) << c.err;
  EXPECT_NE(c.err.find("gate failed: min_size_ratio"), std::string::npos) << c.err;
  EXPECT_EQ(c.err.find("gate failed: max_top1_drop_pt"), std::string::npos) << c.err;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "model.onnx"));
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "out" / "report.json"))["status"], "failed");
}

TEST_F(CompressCli, ABadRecipeExitsOneWithEveryErrorAndWritesNothing) {
  const std::string r = tmp("bad.json");
  std::ofstream(r) << R"({"schema": "bitsmith.recipe/1", "pipline": [], "gates": {"max_kld": 1}})";
  const CliResult c = run("compress models/digits_cnn.onnx --recipe " + r + " -o " + tmp("out"));
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_NE(c.err.find(r + ": /pipline: unknown key"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("did you mean \"pipeline\""), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("/gates/max_kld"), std::string::npos) << c.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(CompressCli, BadDataExitsTwoAndWritesNothing) {
  const CliResult c = run("compress models/digits_cnn.onnx --preset int8-static --calib models/digits/calib_flat.npy -o " +
                          tmp("out"));
  EXPECT_EQ(c.exit_code, 2) << c.err;
  EXPECT_NE(c.err.find("calib_flat.npy"), std::string::npos) << c.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  const CliResult m = run("compress models/nope.onnx --preset fp16 -o " + tmp("out"));
  EXPECT_EQ(m.exit_code, 2) << m.err;
}

TEST_F(CompressCli, PresetWithFlagsAndGate) {
  const CliResult c = run("-q compress models/digits_mlp.onnx --preset int8-dynamic --eval models/digits/eval_flat.npy "
                          "--labels models/digits/eval_labels.npy --gate max_kld_mean=1.0 --json -o " + tmp("out"));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const nlohmann::json rep = nlohmann::json::parse(c.out);
  EXPECT_EQ(rep["gates"][0]["name"], "max_kld_mean");
  EXPECT_TRUE(rep["accuracy"]["after"]["top1"].is_number());
  const CliResult bad = run("compress models/digits_mlp.onnx --preset int8-dynamic --gate max_kld_mean -o " + tmp("x"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("NAME=NUMBER"), std::string::npos) << bad.err;
}

TEST_F(CompressCli, PrintRecipeGivesTheCanonicalFormOfPresetsAndFiles) {
  const CliResult p = run("compress --print-recipe --preset int8-static");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const nlohmann::json j = nlohmann::json::parse(p.out);
  EXPECT_EQ(j["schema"], "bitsmith.recipe/1");
  EXPECT_EQ(j["calibration"]["data"], "calib.npy");  // placeholder of the template
  EXPECT_EQ(j["pipeline"].back()["options"]["activations"]["mode"], "static");
  EXPECT_TRUE(j["gates"].contains("max_latency_ratio"));
  const CliResult f = run("compress --print-recipe --recipe models/recipes/digits_int8.json");
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(nlohmann::json::parse(f.out)["gates"]["max_top1_drop_pt"], 1.0);
  const CliResult u = run("compress --print-recipe --preset int8-statik");
  EXPECT_EQ(u.exit_code, 1);
  EXPECT_NE(u.err.find("int8-static"), std::string::npos) << u.err;
}

TEST_F(CompressCli, AnalyzeRanksLayers) {
  const CliResult c = run("-q analyze models/digits_cnn.onnx --preset int8-dynamic --eval models/digits/eval.npy "
                          "--labels models/digits/eval_labels.npy --max-layers 3 --json");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const nlohmann::json j = nlohmann::json::parse(c.out);
  ASSERT_EQ(j["layers"].size(), 3u);
  for (size_t i = 1; i < 3; ++i) EXPECT_GE(j["layers"][i - 1]["kld_mean"], j["layers"][i]["kld_mean"]);
  const CliResult t = run("-q analyze models/digits_cnn.onnx --preset int8-dynamic --eval models/digits/eval.npy --max-layers 2");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("| rank | layer |"), std::string::npos);
  const CliResult none = run("analyze models/digits_cnn.onnx --preset int8-dynamic");
  EXPECT_EQ(none.exit_code, 1);
}

}  // namespace
}  // namespace bitsmith
