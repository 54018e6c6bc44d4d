// Helpers for the pass tests: run a model with and without a pass, compare outputs, count ops,
// and golden files whose first line is the pipeline they run (MLIR habit).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bitsmith/io/npy.h"
#include "bitsmith/ir/printer.h"
#include "bitsmith/ir/verifier.h"
#include "bitsmith/passes/manager.h"
#include "bitsmith/runtime/executor.h"

namespace bitsmith::test {

inline std::string repo_path(const std::string& rel) { return std::string(BITSMITH_SOURCE_DIR) + "/" + rel; }

// Runs `model` on `feeds` with one thread; fails the test (empty result) on error.
inline std::vector<Tensor> run_model(const Model& model, const NamedTensors& feeds) {
  ExecutorOptions o;
  o.num_threads = 1;
  auto exec = Executor::create(model, o);
  EXPECT_TRUE(exec.is_ok()) << exec.status().message();
  if (!exec.is_ok()) return {};
  auto out = (*exec)->run(feeds);
  EXPECT_TRUE(out.is_ok()) << out.status().message();
  if (!out.is_ok()) return {};
  return std::move(out).value();
}

// Largest |a - b| over f32 tensors of equal shape (inf when shapes differ).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.dtype() != DType::kF32 || b.dtype() != DType::kF32 || a.shape() != b.shape())
    return std::numeric_limits<double>::infinity();
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    m = std::max(m, std::fabs(static_cast<double>(a.data<float>()[i]) - b.data<float>()[i]));
  return m;
}

inline double max_abs(const Tensor& a) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(static_cast<double>(a.data<float>()[i])));
  return m;
}

inline int count_op(const Model& model, const std::string& op) {
  return static_cast<int>(std::count_if(model.graph.nodes.begin(), model.graph.nodes.end(),
                                        [&](const Node& n) { return n.op_type == op; }));
}

// Runs a pipeline given as JSON text; returns the manager (its records) after asserting success.
inline PassManager run_pipeline(Model& model, const std::string& pipeline_json, uint64_t seed = 0) {
  auto pm = PassManager::from_json(nlohmann::json::parse(pipeline_json));
  EXPECT_TRUE(pm.is_ok()) << pm.status().message();
  if (!pm.is_ok()) return {};
  PassManagerOptions o;
  o.seed = seed;
  o.num_threads = 1;
  const Status s = pm->run(model, o);
  EXPECT_TRUE(s.is_ok()) << s.message();
  EXPECT_TRUE(verify(model).is_ok());
  return std::move(pm).value();
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Deterministic random values in [lo, hi).
inline std::vector<float> random_values(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Golden file tests/passes/golden/<name>.txt:
//   line 1: "pipeline: <pipeline JSON>"   (the test reads and runs it)
//   then:   "--- input", print_model(before), "--- output", print_model(after),
//           "--- record", one line per touched/skipped node and counter.
// `model` is the input. Regenerate with BITSMITH_UPDATE_GOLDEN=1 (then check the diff by eye).
inline void check_golden(const std::string& name, Model model) {
  const std::string path = repo_path("tests/passes/golden/" + name + ".txt");
  const std::string golden = read_text(path);
  ASSERT_FALSE(golden.empty()) << "missing golden file " << path;
  const std::string first = golden.substr(0, golden.find('\n'));
  ASSERT_EQ(first.rfind("pipeline: ", 0), 0u) << path << ": first line must be 'pipeline: <json>'";
  const std::string pipeline = first.substr(10);
  std::string text = first + "\n--- input\n" + print_model(model);
  PassManager pm = run_pipeline(model, pipeline);
  text += "--- output\n" + print_model(model) + "--- record\n";
  for (const PassRecord& r : pm.records()) {
    for (const NodeAction& a : r.touched)
      text += r.pass + ": touched " + a.node + " (" + a.op + "): " + a.action + "\n";
    for (const NodeSkip& s : r.skipped) text += r.pass + ": skipped " + s.node + " (" + s.op + "): " + s.reason + "\n";
    for (const auto& [k, v] : r.counters) text += r.pass + ": " + k + " = " + std::to_string(v) + "\n";
  }
  if (std::getenv("BITSMITH_UPDATE_GOLDEN")) {
    std::ofstream(path, std::ios::binary) << text;
    GTEST_SKIP() << "wrote " << path;
  }
  EXPECT_EQ(text, golden);
}

}  // namespace bitsmith::test
