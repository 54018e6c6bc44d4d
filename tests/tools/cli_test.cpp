// End-to-end tests of the `bitsmith` binary: exit codes, stdout/stderr split, outputs on disk.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "bitsmith/io/npy.h"
#include "bitsmith/io/onnx.h"
#include "bitsmith/ir/printer.h"

namespace bitsmith {
namespace {

namespace fs = std::filesystem;

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the CLI with `args` (a shell-quoted string) from the repo root.
CliResult run_cli(const std::string& args) {
  const fs::path dir = fs::temp_directory_path() / ("bitsmith_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string out_file = (dir / "stdout").string(), err_file = (dir / "stderr").string();
  const std::string cmd = std::string("cd '") + BITSMITH_SOURCE_DIR + "' && '" + BITSMITH_CLI_PATH + "' " + args +
                          " >'" + out_file + "' 2>'" + err_file + "'";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto slurp = [](const std::string& p) {
    std::ifstream f(p);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  r.out = slurp(out_file);
  r.err = slurp(err_file);
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = fs::temp_directory_path() /
           ("bitsmith_cli_case_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
  }
  void TearDown() override { fs::remove_all(tmp_); }
  std::string tmp(const std::string& name) const { return (tmp_ / name).string(); }
  fs::path tmp_;
};

const char* kCnn = "models/cnn_small.onnx";
const std::string kMnist = std::string(BITSMITH_SOURCE_DIR) + "/../shared/data/onnx-mnist-cntk/mnist-8.onnx";

TEST_F(CliTest, VersionAndHelp) {
  CliResult r = run_cli("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("bitsmith"), std::string::npos);
  r = run_cli("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"inspect", "convert", "run", "eval", "bench"})
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  r = run_cli("inspect --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--json"), std::string::npos);
}

TEST_F(CliTest, UsageErrorsExitOne) {
  EXPECT_EQ(run_cli("").exit_code, 1);
  EXPECT_EQ(run_cli("no-such-command").exit_code, 1);
  EXPECT_EQ(run_cli("inspect").exit_code, 1);  // missing MODEL
  EXPECT_EQ(run_cli("bench models/cnn_small.onnx --iters 0").exit_code, 1);
}

TEST_F(CliTest, InspectJsonHasStableKeysAndCountsParams) {
  CliResult r = run_cli("inspect --json '" + kMnist + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"params", "bytes_by_dtype", "ops", "inputs", "outputs"}) EXPECT_TRUE(j.contains(key)) << key;
  // Count the parameters independently from the reader's initializers.
  Expected<Model> m = read_onnx(kMnist);
  ASSERT_TRUE(m.is_ok());
  int64_t params = 0, bytes = 0;
  for (const Tensor& t : m->graph.initializers) {
    params += t.numel();
    bytes += static_cast<int64_t>(t.nbytes());
  }
  EXPECT_EQ(j["params"].get<int64_t>(), params);
  int64_t json_bytes = 0;
  for (auto& [k, v] : j["bytes_by_dtype"].items()) json_bytes += v.get<int64_t>();
  EXPECT_EQ(json_bytes, bytes);
  EXPECT_EQ(j["ops"]["Conv"].get<int>(), 2);
  EXPECT_EQ(j["inputs"][0]["name"], "Input3");
  EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json({1, 1, 28, 28}));
}

TEST_F(CliTest, InspectMissingFileExitsTwoWithOneLine) {
  CliResult r = run_cli("inspect no/such/model.onnx");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("no/such/model.onnx"), std::string::npos) << r.err;
}

TEST_F(CliTest, ConvertRoundTripsWithAndWithoutExternalData) {
  for (const bool external : {false, true}) {
    const std::string out = tmp(external ? "ext.onnx" : "plain.onnx");
    CliResult r = run_cli(std::string("convert ") + kCnn + " '" + out + "'" + (external ? " --external-data" : ""));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(fs::exists(out + ".data"), external);
    Expected<Model> a = read_onnx(std::string(BITSMITH_SOURCE_DIR) + "/" + kCnn);
    Expected<Model> b = read_onnx(out);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    EXPECT_EQ(print_model(*a), print_model(*b));
  }
}

TEST_F(CliTest, ConvertOfCorruptInputLeavesNoOutput) {
  const std::string bad = tmp("bad.onnx");
  std::ofstream(bad) << "this is not a protobuf \x01\x02\x03";
  const std::string out = tmp("out.onnx");
  CliResult r = run_cli("convert '" + bad + "' '" + out + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.onnx"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  // Nothing else (no temporary file) is left in the folder either.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(tmp_)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST_F(CliTest, ConvertUnknownExtensionIsAnError) {
  CliResult r = run_cli(std::string("convert ") + kCnn + " '" + tmp("x.weird") + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("x.weird"), std::string::npos) << r.err;
}

TEST_F(CliTest, RunWritesOutputsThatMatchTorch) {
  CliResult r = run_cli(std::string("run ") + kCnn + " --input models/cnn_small.input.npy --output-dir '" + tmp("o") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Expected<Tensor> got = read_npy(tmp("o/logits.npy"));
  Expected<Tensor> want = read_npy(std::string(BITSMITH_SOURCE_DIR) + "/models/cnn_small.torch_out.npy");
  ASSERT_TRUE(got.is_ok() && want.is_ok());
  ASSERT_EQ(got->shape(), want->shape());
  const float* g = got->data<float>();
  const float* w = want->data<float>();
  for (int64_t i = 0; i < got->numel(); ++i) EXPECT_NEAR(g[i], w[i], 1e-4) << i;
}

TEST_F(CliTest, RunRejectsWrongInputs) {
  // Unknown input name.
  CliResult r = run_cli(std::string("run ") + kCnn + " --input nope=models/cnn_small.input.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  // Wrong shape: the CNN's input fed to MNIST.
  r = run_cli("run '" + kMnist + "' --input models/cnn_small.input.npy");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Input3"), std::string::npos) << r.err;
  // Missing data file.
  r = run_cli(std::string("run ") + kCnn + " --input /no/such.npy");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/no/such.npy"), std::string::npos) << r.err;
  // NaN in the data.
  Tensor x(DType::kF32, {1, 3, 32, 32});
  x.mutable_data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(write_npy(x, tmp("nan.npy")).is_ok());
  r = run_cli(std::string("run ") + kCnn + " --input '" + tmp("nan.npy") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("input"), std::string::npos) << r.err;
}

TEST_F(CliTest, EvalAgainstItselfIsPerfectAndJsonHasTheKeys) {
  CliResult r = run_cli(std::string("eval ") + kCnn + " --data models/cnn_small.input.npy --reference " + kCnn +
                        " --labels '" + tmp("labels.npy") + "' --json");
  EXPECT_EQ(r.exit_code, 2);  // labels file does not exist yet
  // Labels = torch's argmax, so top-1 must be 100 %.
  Expected<Tensor> ref = read_npy(std::string(BITSMITH_SOURCE_DIR) + "/models/cnn_small.torch_out.npy");
  ASSERT_TRUE(ref.is_ok());
  const int64_t rows = ref->dim(0), classes = ref->dim(1);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = ref->data<float>() + i * classes;
    labels.push_back(std::max_element(row, row + classes) - row);
  }
  ASSERT_TRUE(write_npy(Tensor::from_vector<int64_t>(labels, {rows}), tmp("labels.npy")).is_ok());
  r = run_cli(std::string("eval ") + kCnn + " --data models/cnn_small.input.npy --reference " + kCnn +
              " --labels '" + tmp("labels.npy") + "' --json --batch 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"top1", "top5", "top1_agreement", "cosine", "sqnr_db", "max_abs_err", "kld_mean", "kld_p99"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["samples"].get<int>(), rows);
  EXPECT_EQ(j["top1"].get<double>(), 1.0);
  EXPECT_EQ(j["top1_agreement"].get<double>(), 1.0);
  EXPECT_EQ(j["max_abs_err"].get<double>(), 0.0);
}

TEST_F(CliTest, BenchJsonTimesEveryModel) {
  CliResult r = run_cli(std::string("bench ") + kCnn + " " + kCnn + " --iters 3 --warmup 1 --batch 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["models"].size(), 2u);
  for (const auto& m : j["models"]) {
    EXPECT_GT(m["p50_ms"].get<double>(), 0);
    EXPECT_LE(m["min_ms"].get<double>(), m["p50_ms"].get<double>());
    EXPECT_LE(m["p50_ms"].get<double>(), m["p99_ms"].get<double>());
  }
  EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 0);
}

TEST_F(CliTest, BenchProfileCountsEveryNodeByOpType) {
  CliResult r = run_cli(std::string("bench ") + kCnn + " --iters 2 --warmup 0 --batch 1 --profile --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto m = nlohmann::json::parse(r.out)["models"][0];
  ASSERT_TRUE(m.contains("profile")) << r.out;
  // The node counts per op type must add up to the model's nodes, as `inspect --json` counts them.
  CliResult inspect = run_cli(std::string("inspect ") + kCnn + " --json");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto info = nlohmann::json::parse(inspect.out);
  int64_t nodes = 0;
  double share = 0;
  for (const auto& row : m["profile"]) {
    nodes += row["nodes"].get<int64_t>();
    share += row["share"].get<double>();
    EXPECT_GE(row["total_ms"].get<double>(), 0) << row.dump();
  }
  EXPECT_EQ(nodes, info["node_count"].get<int64_t>());
  EXPECT_NEAR(share, 1.0, 1e-9);
}

}  // namespace
}  // namespace bitsmith
