// ONNX Runtime interop of low-rank factored models: the file the `low-rank` pass writes (each
// factored layer as two MatMul / Gemm / Conv nodes, spatial Convs as kh x 1 then 1 x kw with the
// original strides, pads and dilations split between them) loads in ONNX Runtime
// (scripts/ort_run.js, onnxruntime-node CPU) and ORT's outputs match bitsmith's runtime on the
// same file, at ORT's default optimization level and with optimizations disabled. Both compute in
// float32 from the same factors, so they agree to rounding: 1e-5 of the output's magnitude.
// Skipped (with the reason) when node or onnxruntime-node is not installed.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "bitsmith/io/model_io.h"
#include "bitsmith/io/npy.h"
#include "bitsmith/passes/manager.h"
#include "bitsmith/runtime/executor.h"

namespace bitsmith {
namespace {

namespace fs = std::filesystem;
const std::string kRoot = BITSMITH_SOURCE_DIR;

bool ort_available() {
  static const bool ok =
      std::system(("cd '" + kRoot + "' && node -e \"require('onnxruntime-node')\" >/dev/null 2>&1").c_str()) == 0;
  return ok;
}

struct Case {
  const char* name;
  std::string model, input;  // paths; input: .npy of one batch
  const char* options;       // low-rank options (JSON), after fold-batchnorm
};

std::vector<Case> cases() {
  return {
      {"digits_mlp", kRoot + "/models/digits_mlp.onnx", kRoot + "/models/digits/eval_flat.npy",
       R"({"energy": 0.9})"},
      {"digits_cnn", kRoot + "/models/digits_cnn.onnx", kRoot + "/models/digits/eval.npy", R"({"energy": 0.8})"},
      {"cnn_small", kRoot + "/models/cnn_small.onnx", kRoot + "/models/cnn_small.input.npy",
       R"({"rank_by": "ratio", "ratio": 0.3})"},
  };
}

class OrtLowRank : public ::testing::TestWithParam<int> {};

TEST_P(OrtLowRank, OrtMatchesBitsmith) {
  if (!ort_available()) GTEST_SKIP() << "node or onnxruntime-node is not installed (npm install --ignore-scripts)";
  const Case c = cases()[static_cast<size_t>(GetParam())];
  if (!fs::exists(c.model) || !fs::exists(c.input)) GTEST_SKIP() << c.model << " or its input not present";
  auto model = load_model(c.model);
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  auto input = read_npy(c.input);
  ASSERT_TRUE(input.is_ok()) << input.status().message();
  Tensor batch = *input;
  if (batch.dim(0) > 32) {  // the first 32 rows
    Shape s = batch.shape();
    s[0] = 32;
    Tensor head(batch.dtype(), s);
    std::copy(batch.bytes(), batch.bytes() + head.nbytes(), head.mutable_bytes());
    batch = head;
  }
  const std::string input_name = model->graph.runtime_inputs().at(0)->name;

  auto pm = PassManager::from_json(
      nlohmann::json::array({{{"pass", "fold-batchnorm"}},
                             {{"pass", "low-rank"}, {"options", nlohmann::json::parse(c.options)}}}));
  ASSERT_TRUE(pm.is_ok()) << pm.status().message();
  PassManagerOptions po;
  po.num_threads = 1;
  Model q = *model;
  ASSERT_TRUE(pm->run(q, po).is_ok());
  ASSERT_GE(pm->records().at(1).counter("layers_factorized"), 2);

  const fs::path dir = fs::temp_directory_path() / ("bitsmith_ortlr_" + std::to_string(::getpid()) + "_" + c.name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string file = (dir / "model.onnx").string(), in_file = (dir / "input.npy").string();
  ASSERT_TRUE(save_model(q, file).is_ok());
  ASSERT_TRUE(write_npy(batch, in_file).is_ok());

  auto written = load_model(file);
  ASSERT_TRUE(written.is_ok()) << written.status().message();
  ExecutorOptions eo;
  eo.num_threads = 1;
  auto exec = Executor::create(*written, eo);
  ASSERT_TRUE(exec.is_ok()) << exec.status().message();
  auto ours = (*exec)->run({{input_name, batch}});
  ASSERT_TRUE(ours.is_ok()) << ours.status().message();
  const Tensor& out = ours->at(0);
  ASSERT_EQ(out.dtype(), DType::kF32);
  double magnitude = 0;
  for (int64_t i = 0; i < out.numel(); ++i) magnitude = std::max(magnitude, std::fabs(double{out.data<float>()[i]}));
  const double tol = 1e-5 * magnitude;
  const std::string out_name = written->graph.outputs.at(0).name;
  for (const char* level : {"all", "disabled"}) {
    SCOPED_TRACE(std::string("ORT opt level ") + level);
    const fs::path odir = dir / level;
    const std::string cmd = "cd '" + kRoot + "' && node scripts/ort_run.js '" + file + "' --input '" + in_file +
                            "' --output-dir '" + odir.string() + "' --opt-level " + level + " >'" +
                            (dir / "log").string() + "' 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::string safe = out_name;
    for (char& ch : safe)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') ch = '_';
    auto theirs = read_npy((odir / (safe + ".npy")).string());
    ASSERT_TRUE(theirs.is_ok()) << theirs.status().message();
    ASSERT_EQ(theirs->shape(), out.shape());
    double diff = 0;
    for (int64_t i = 0; i < out.numel(); ++i)
      diff = std::max(diff, std::fabs(double{out.data<float>()[i]} - theirs->data<float>()[i]));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g (tolerance %.3g)", diff, tol);
    RecordProperty(std::string("max_diff_") + level, buf);
    EXPECT_LE(diff, tol) << c.name << ": max |ORT - bitsmith| " << diff << ", output magnitude " << magnitude;
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Models, OrtLowRank, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(cases()[static_cast<size_t>(info.param)].name);
                         });

}  // namespace
}  // namespace bitsmith
