// `compress` on the bundled digits CNN: the report's numbers agree with independent measurements,
// gates fail with the outputs still written, output is deterministic across thread counts,
// failures leave nothing behind, mixed precision keeps the chosen layers in float.
#include "bitsmith/compress/compress.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "bitsmith/compress/sensitivity.h"
#include "bitsmith/io/model_io.h"
#include "bitsmith/io/npy.h"
#include "bitsmith/passes/scope.h"
#include "bitsmith/report/evaluate.h"
#include "passes/pass_test_util.h"

namespace bitsmith {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

class Compress : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bitsmith_compress_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The digits int8 recipe, made cheap for tests: 128 evaluation rows, few latency runs.
  static nlohmann::json recipe_json() {
    return nlohmann::json::parse(R"({
      "schema": "bitsmith.recipe/1",
      "calibration": {"data": "../digits/calib.npy", "samples": 64},
      "evaluation": {"data": "../digits/eval.npy", "labels": "../digits/eval_labels.npy", "samples": 128},
      "latency": {"batch": 1, "threads": 1, "warmup": 1, "iters": 5},
      "pipeline": [
        {"pass": "fold-batchnorm"},
        {"pass": "quantize", "options": {"activations": {"mode": "static", "observer": "minmax"}},
         "scope": {"exclude": {"names": ["*head*"]}}}
      ],
      "gates": {"max_top1_drop_pt": 5.0, "max_kld_mean": 0.05, "min_size_ratio": 2.0}
    })");
  }
  static Recipe recipe(const nlohmann::json& j) {
    Expected<Recipe> r = parse_recipe(j, "test recipe", test::repo_path("models/recipes"));
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return std::move(r).value();
  }
  CompressOptions options(const std::string& out, int threads = 1) const {
    CompressOptions o;
    o.model_path = model_;
    o.out_dir = (dir_ / out).string();
    o.threads = threads;
    o.progress = false;
    return o;
  }

  fs::path dir_;
  std::string model_ = test::repo_path("models/digits_cnn.onnx");
};

TEST_F(Compress, WritesTheModelAndAReportWhoseNumbersAreMeasured) {
  Expected<CompressResult> r = compress(recipe(recipe_json()), options("out"));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const nlohmann::json& rep = r->report;
  for (const char* f : {"model.onnx", "report.json", "report.md", "report.html"})
    EXPECT_TRUE(fs::exists(dir_ / "out" / f)) << f;
  // No staging folder is left behind.
  for (const fs::directory_entry& e : fs::directory_iterator(dir_ / "out"))
    EXPECT_EQ(e.path().filename().string().find(".bitsmith-staging"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "out" / "report.json")), rep);

  // Keys CI scripts depend on.
  for (const char* p : {"/size/before_bytes", "/size/after_bytes", "/size/ratio", "/accuracy/before/top1",
                        "/accuracy/after/top1", "/accuracy/top1_drop_pt", "/fidelity/top1_agreement",
                        "/fidelity/kld_mean", "/latency/before/p50_ms", "/latency/after/p50_ms", "/latency/ratio"})
    EXPECT_TRUE(rep.contains(nlohmann::json::json_pointer(p))) << p;
  // Sizes are the files' bytes.
  EXPECT_EQ(rep["size"]["before_bytes"].get<int64_t>(), static_cast<int64_t>(fs::file_size(model_)));
  EXPECT_EQ(rep["size"]["after_bytes"].get<int64_t>(), static_cast<int64_t>(fs::file_size(dir_ / "out" / "model.onnx")));
  EXPECT_DOUBLE_EQ(rep["size"]["ratio"].get<double>(),
                   rep["size"]["before_bytes"].get<double>() / rep["size"]["after_bytes"].get<double>());

  // Accuracy and fidelity agree with evaluating the files independently.
  Expected<Model> before = load_model(model_);
  Expected<Model> after = load_model((dir_ / "out" / "model.onnx").string());
  ASSERT_TRUE(before.is_ok() && after.is_ok());
  ExecutorOptions eo;
  eo.dynamic_batch = true;
  auto bx = Executor::create(*before, eo);
  auto ax = Executor::create(*after, eo);
  ASSERT_TRUE(bx.is_ok() && ax.is_ok());
  Tensor data = slice_rows(*read_npy(test::repo_path("models/digits/eval.npy")), 0, 128);
  Tensor labels = slice_rows(*read_npy(test::repo_path("models/digits/eval_labels.npy")), 0, 128);
  EvalOptions opt;
  opt.progress = false;
  Expected<EvalResult> eb = evaluate(**bx, data, &labels, nullptr, opt);
  Expected<EvalResult> ea = evaluate(**ax, data, &labels, bx->get(), opt);
  ASSERT_TRUE(eb.is_ok() && ea.is_ok());
  EXPECT_DOUBLE_EQ(rep["accuracy"]["before"]["top1"].get<double>(), eb->accuracy->top1);
  EXPECT_DOUBLE_EQ(rep["accuracy"]["after"]["top1"].get<double>(), ea->accuracy->top1);
  EXPECT_DOUBLE_EQ(rep["accuracy"]["top1_drop_pt"].get<double>(), (eb->accuracy->top1 - ea->accuracy->top1) * 100);
  EXPECT_DOUBLE_EQ(rep["fidelity"]["kld_mean"].get<double>(), ea->fidelity->kld_mean);
  EXPECT_DOUBLE_EQ(rep["fidelity"]["top1_agreement"].get<double>(), ea->fidelity->top1_agreement);
  EXPECT_EQ(rep["accuracy"]["samples"].get<int64_t>(), 128);

  // Gates: one row per gate given, value taken from the report.
  ASSERT_EQ(rep["gates"].size(), 3u);
  EXPECT_EQ(rep["gates"][0]["name"], "max_top1_drop_pt");
  EXPECT_EQ(rep["gates"][0]["value"], rep["accuracy"]["top1_drop_pt"]);
  EXPECT_EQ(rep["status"], r->failed_gates.empty() ? "passed" : "failed");

  // Per-tensor rows: quantized weights are int8 with a measured error, the head stays f32 exact.
  bool saw_int8 = false, saw_head = false;
  for (const nlohmann::json& t : rep["size"]["tensors"]) {
    if (t["name"] == "head.weight") {
      saw_head = true;
      EXPECT_EQ(t["dtype_after"], "f32");
      EXPECT_EQ(t["note"], "unchanged");
    }
    if (t["dtype_after"] == "i8") {
      saw_int8 = true;
      EXPECT_TRUE(t["sqnr_db"].is_number()) << t.dump();
      EXPECT_GT(t["sqnr_db"].get<double>(), 20.0) << t.dump();
      EXPECT_LT(t["bytes_after"].get<int64_t>(), t["bytes_before"].get<int64_t>());
      EXPECT_DOUBLE_EQ(t["bits_per_weight"].get<double>(),
                       t["bytes_after"].get<double>() * 8 / t["numel"].get<double>());
    }
  }
  EXPECT_TRUE(saw_int8);
  EXPECT_TRUE(saw_head);
  // Provenance hashes.
  EXPECT_EQ(rep["provenance"]["model_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(rep["provenance"]["recipe"], recipe(recipe_json()).to_json());
}

TEST_F(Compress, AFailedGateStillWritesEverythingMarkedFailed) {
  nlohmann::json j = recipe_json();
  j["gates"]["min_size_ratio"] = 100.0;
  Expected<CompressResult> r = compress(recipe(j), options("out"));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->failed_gates.size(), 1u);
  EXPECT_EQ(r->failed_gates[0].rfind("min_size_ratio", 0), 0u);
  EXPECT_EQ(r->report["status"], "failed");
  EXPECT_TRUE(fs::exists(dir_ / "out" / "model.onnx"));
  const nlohmann::json written = nlohmann::json::parse(slurp(dir_ / "out" / "report.json"));
  EXPECT_EQ(written["status"], "failed");
  bool marked = false;
  for (const nlohmann::json& g : written["gates"])
    if (g["name"] == "min_size_ratio") marked = !g["passed"].get<bool>();
  EXPECT_TRUE(marked);
}

TEST_F(Compress, SameModelRecipeAndSeedGiveIdenticalOutputsAtOneAndTwoThreads) {
  const Recipe rc = recipe(recipe_json());
  Expected<CompressResult> a = compress(rc, options("t1", 1));
  Expected<CompressResult> b = compress(rc, options("t2", 2));
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(slurp(dir_ / "t1" / "model.onnx"), slurp(dir_ / "t2" / "model.onnx"));
  nlohmann::json ra = report_without_timing(a->report), rb = report_without_timing(b->report);
  // The output paths differ by design.
  ra.erase("model");
  rb.erase("model");
  EXPECT_EQ(ra, rb) << nlohmann::json::diff(ra, rb).dump(1);
}

TEST_F(Compress, AFailureLeavesNoOutputFolderBehind) {
  nlohmann::json j = recipe_json();
  j["evaluation"]["data"] = "../digits/calib_flat.npy";  // wrong shape for the CNN
  Expected<CompressResult> r = compress(recipe(j), options("out"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataError);
  EXPECT_NE(r.status().message().find("/evaluation/data"), std::string::npos) << r.status().message();
  EXPECT_FALSE(fs::exists(dir_ / "out"));

  // A truncated model: nothing written either.
  const fs::path bad = dir_ / "truncated.onnx";
  const std::string bytes = slurp(model_);
  std::ofstream(bad, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  CompressOptions o = options("out2");
  o.model_path = bad.string();
  Expected<CompressResult> t = compress(recipe(recipe_json()), o);
  ASSERT_FALSE(t.is_ok());
  EXPECT_NE(t.status().message().find(bad.string()), std::string::npos) << t.status().message();
  EXPECT_FALSE(fs::exists(dir_ / "out2"));
}

TEST_F(Compress, MixedPrecisionKeepsTheChosenLayersInFloat) {
  nlohmann::json j = recipe_json();
  j["mixed_precision"] = {{"metric", "kld_mean"}, {"max", 0.0}, {"max_layers", 2}};  // unreachable: keeps 2
  Expected<CompressResult> r = compress(recipe(j), options("out"));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const nlohmann::json& mp = r->report["mixed_precision"];
  ASSERT_TRUE(mp.is_object());
  EXPECT_FALSE(mp["met"].get<bool>());
  ASSERT_EQ(mp["kept"].size(), 2u);
  ASSERT_EQ(mp["steps"].size(), 3u);  // 0, 1, 2 layers kept back, each measured
  // The kept layers are the two most sensitive, in ranking order, and their weights stay float.
  const nlohmann::json& ranking = r->report["sensitivity"];
  Expected<Model> m = load_model((dir_ / "out" / "model.onnx").string());
  ASSERT_TRUE(m.is_ok());
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(mp["kept"][i]["node"], ranking[i]["node"]);
    const std::string name = mp["kept"][i]["node"];
    bool found = false;
    for (const Node& n : m->graph.nodes)
      if (n.name == name) {
        found = true;
        const Tensor* w = m->graph.find_initializer(n.inputs[1]);
        ASSERT_NE(w, nullptr) << name << " weight is not a plain initializer";
        EXPECT_EQ(w->dtype(), DType::kF32) << name;
      }
    EXPECT_TRUE(found) << name;
  }
  // The final value is the last step's, and each step holds back one more layer.
  EXPECT_EQ(mp["value"], mp["steps"][2]["value"]);
  EXPECT_EQ(mp["steps"][2]["kept"].size(), 2u);
}

TEST_F(Compress, MixedPrecisionFloat16FallbackStoresTheKeptLayerInFloat16) {
  nlohmann::json j = recipe_json();
  j["mixed_precision"] = {{"metric", "kld_mean"}, {"max", 0.0}, {"max_layers", 1}, {"fallback", "float16"}};
  Expected<CompressResult> r = compress(recipe(j), options("out"));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const nlohmann::json& kept = r->report["mixed_precision"]["kept"];
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0]["precision"], "float16");
  Expected<Model> m = load_model((dir_ / "out" / "model.onnx").string());
  ASSERT_TRUE(m.is_ok());
  bool found = false;
  for (const Node& n : m->graph.nodes)
    if (n.name == kept[0]["node"].get<std::string>()) {
      const Tensor* w = m->graph.find_initializer(n.inputs[1]);
      ASSERT_NE(w, nullptr);
      EXPECT_EQ(w->dtype(), DType::kF16);
      found = true;
    }
  EXPECT_TRUE(found);
}

TEST(Sensitivity, RanksEveryQuantizableLayerWithAReason) {
  Expected<Model> m = load_model(test::repo_path("models/digits_cnn.onnx"));
  ASSERT_TRUE(m.is_ok());
  Tensor data = slice_rows(*read_npy(test::repo_path("models/digits/eval.npy")), 0, 64);
  SensitivityInputs in;
  in.model = &*m;
  in.pipeline = nlohmann::json::parse(R"([{"pass": "quantize", "options": {"activations": {"mode": "dynamic"}}}])");
  in.data = &data;
  in.threads = 1;
  in.progress = false;
  Expected<std::vector<LayerSensitivity>> r = analyze_sensitivity(in);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  size_t weighted = 0;
  for (size_t i = 0; i < m->graph.nodes.size(); ++i) weighted += is_weighted_layer(m->graph, i) ? 1 : 0;
  EXPECT_EQ(r->size(), weighted);
  for (size_t i = 0; i < r->size(); ++i) {
    EXPECT_FALSE((*r)[i].reason.empty());
    EXPECT_GT((*r)[i].weights, 0);
    if (i > 0) {
      EXPECT_GE((*r)[i - 1].kld_mean, (*r)[i].kld_mean);
    }
  }
  bool depthwise = false;
  for (const LayerSensitivity& l : *r) depthwise = depthwise || l.reason.find("depthwise") != std::string::npos;
  EXPECT_TRUE(depthwise);
  // max_layers keeps the largest layers only.
  in.max_layers = 2;
  Expected<std::vector<LayerSensitivity>> two = analyze_sensitivity(in);
  ASSERT_TRUE(two.is_ok());
  EXPECT_EQ(two->size(), 2u);
}

TEST(Sensitivity, GlobLiteralMatchesOnlyItself) {
  EXPECT_EQ(glob_literal("/a/b"), "/a/b");
  EXPECT_EQ(glob_literal("x*[y]?\\"), "x\\*\\[y]\\?\\\\");
}

}  // namespace
}  // namespace bitsmith
