// Shared by the executor fusion tests (f16 weights, float chains): run a model with given
// executor options and compare outputs byte for byte.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "bitsmith/runtime/executor.h"

namespace bitsmith::test {

struct FusionRun {
  std::vector<std::vector<float>> outputs;  // every f32 output, flattened
  std::vector<std::string> units;           // Executor::fused_units()
};

// Loads and runs `model`; failures are reported as test failures (the result is then empty).
inline FusionRun run_fused(const Model& model, const NamedTensors& feeds, const ExecutorOptions& opt) {
  FusionRun r;
  auto e = Executor::create(model, opt);
  EXPECT_TRUE(e.is_ok()) << e.status().message();
  if (!e.is_ok()) return r;
  r.units = (*e)->fused_units();
  auto out = (*e)->run(feeds);
  EXPECT_TRUE(out.is_ok()) << out.status().message();
  if (!out.is_ok()) return r;
  for (const Tensor& t : *out) r.outputs.emplace_back(t.data<float>(), t.data<float>() + t.numel());
  return r;
}

// Byte comparison: NaN-safe, and -0 vs +0 count as different.
inline bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
}

}  // namespace bitsmith::test
