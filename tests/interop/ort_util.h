// ONNX Runtime interop helpers for tests: is ORT there (node + onnxruntime-node in the repo's
// node_modules), and "run this pipeline, write the model, and check ORT's output against
// bitsmith's on the same file" (scripts/ort_run.js, opt levels all and disabled).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "bitsmith/io/model_io.h"
#include "bitsmith/io/npy.h"
#include "bitsmith/passes/manager.h"
#include "bitsmith/runtime/executor.h"

namespace bitsmith::test {

inline const std::string& source_root() {
  static const std::string root = BITSMITH_SOURCE_DIR;
  return root;
}

inline bool ort_available() {
  static const bool ok = std::system(("cd '" + source_root() +
                                      "' && node -e \"require('onnxruntime-node')\" >/dev/null 2>&1")
                                         .c_str()) == 0;
  return ok;
}

// Runs `file` in ORT on `in_file` (scripts/ort_run.js, opt levels all and disabled; `config`
// is a KEY=VALUE session option or "") and expects its output `out_name` within `tol` (max abs) of
// bitsmith's output `out`. Scratch files go under `dir`.
inline void expect_ort_output_close(const std::string& name, const std::filesystem::path& dir, const std::string& file,
                                    const std::string& in_file, const Tensor& out, const std::string& out_name,
                                    double tol, const std::string& config) {
  namespace fs = std::filesystem;
  for (const char* level : {"all", "disabled"}) {
    SCOPED_TRACE(std::string("ORT opt level ") + level);
    const fs::path odir = dir / level;
    const std::string cmd = "cd '" + source_root() + "' && node scripts/ort_run.js '" + file + "' --input '" +
                            in_file + "' --output-dir '" + odir.string() + "' --opt-level " + level +
                            (config.empty() ? "" : " --config " + config) + " >'" + (dir / "log").string() + "' 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::string safe = out_name;
    for (char& ch : safe)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') ch = '_';
    auto theirs = read_npy((odir / (safe + ".npy")).string());
    ASSERT_TRUE(theirs.is_ok()) << theirs.status().message();
    ASSERT_EQ(theirs->shape(), out.shape());
    double diff = 0, magnitude = 0;
    for (int64_t i = 0; i < out.numel(); ++i) {
      diff = std::max(diff, std::fabs(double{out.data<float>()[i]} - theirs->data<float>()[i]));
      magnitude = std::max(magnitude, std::fabs(double{out.data<float>()[i]}));
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g (tolerance %.3g)", diff, tol);
    ::testing::Test::RecordProperty(std::string("max_diff_") + level, buf);
    EXPECT_LE(diff, tol) << name << ": max |ORT - bitsmith| " << diff << ", tolerance " << tol << " (output magnitude "
                         << magnitude << ")";
  }
}

// Runs `pipeline` on `model_path`, lets `check` look at the records, writes the result and runs
// it on the first (up to) 32 rows of `input_path` in bitsmith and in ORT; expects the largest
// difference of the first output to be at most rel_tol x its largest magnitude. Skips (saying
// why) without ORT or without the files.
inline void expect_ort_matches_after_pipeline(const std::string& name, const std::string& model_path,
                                              const std::string& input_path, const nlohmann::json& pipeline,
                                              const std::function<void(const PassManager&)>& check,
                                              double rel_tol = 1e-5) {
  namespace fs = std::filesystem;
  if (!ort_available()) GTEST_SKIP() << "node or onnxruntime-node is not installed (npm install --ignore-scripts)";
  if (!fs::exists(model_path) || !fs::exists(input_path)) GTEST_SKIP() << model_path << " or its input not present";
  auto model = load_model(model_path);
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  auto input = read_npy(input_path);
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
  auto pm = PassManager::from_json(pipeline);
  ASSERT_TRUE(pm.is_ok()) << pm.status().message();
  PassManagerOptions po;
  po.num_threads = 1;
  Model q = *model;
  ASSERT_TRUE(pm->run(q, po).is_ok());
  check(*pm);

  const fs::path dir = fs::temp_directory_path() / ("bitsmith_ort_" + std::to_string(::getpid()) + "_" + name);
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
  const double tol = rel_tol * magnitude;
  expect_ort_output_close(name, dir, file, in_file, out, written->graph.outputs.at(0).name, tol, "");
  fs::remove_all(dir);
}

}  // namespace bitsmith::test
