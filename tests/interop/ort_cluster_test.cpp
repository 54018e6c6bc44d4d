// ONNX Runtime interop of clustered (palettized) models: the file the `cluster` pass writes
// (uint8 indices + f32 codebook, decoded by Cast -> [Add offsets] -> Gather) loads in ONNX
// Runtime (scripts/ort_run.js, onnxruntime-node CPU) and ORT's outputs match bitsmith's runtime
// on the same file, at ORT's default optimization level and with optimizations disabled. Both
// compute in float32 from the same decoded weights, so they agree to rounding: 1e-5 of the
// output's magnitude. Skipped (with the reason) when node or onnxruntime-node is not installed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "interop/ort_util.h"

namespace bitsmith {
namespace {

const std::string kRoot = test::source_root();

struct Case {
  const char* name;
  std::string model, input;  // paths; input: .npy of one batch
  const char* options;       // cluster options (JSON)
};

std::vector<Case> cases() {
  return {
      {"digits_mlp_4bit", kRoot + "/models/digits_mlp.onnx", kRoot + "/models/digits/eval_flat.npy",
       R"({"bits": 4, "init": "kmeans++"})"},
      {"digits_mlp_groups", kRoot + "/models/digits_mlp.onnx", kRoot + "/models/digits/eval_flat.npy",
       R"({"bits": 3, "granularity": "per-channel-group", "group_size": 16})"},
      {"cnn_small_groups", kRoot + "/models/cnn_small.onnx", kRoot + "/models/cnn_small.input.npy",
       R"({"bits": 5, "init": "density", "granularity": "per-channel-group", "group_size": 4})"},
  };
}

class OrtCluster : public ::testing::TestWithParam<int> {};

TEST_P(OrtCluster, OrtMatchesBitsmith) {
  const Case c = cases()[static_cast<size_t>(GetParam())];
  test::expect_ort_matches_after_pipeline(
      c.name, c.model, c.input,
      nlohmann::json::array({{{"pass", "cluster"}, {"options", nlohmann::json::parse(c.options)}}}),
      [](const PassManager& pm) { ASSERT_GT(pm.records().at(0).counter("weights_clustered"), 0); });
}

INSTANTIATE_TEST_SUITE_P(Models, OrtCluster, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(cases()[static_cast<size_t>(info.param)].name);
                         });

}  // namespace
}  // namespace bitsmith
