// ONNX Runtime interop of low-rank factored models: the file the `low-rank` pass writes (each
// factored layer as two MatMul / Gemm / Conv nodes, spatial Convs as kh x 1 then 1 x kw with the
// original strides, pads and dilations split between them) loads in ONNX Runtime
// (scripts/ort_run.js, onnxruntime-node CPU) and ORT's outputs match bitsmith's runtime on the
// same file, at ORT's default optimization level and with optimizations disabled. Both compute in
// float32 from the same factors, so they agree to rounding: 1e-5 of the output's magnitude.
// Skipped (with the reason) when node or onnxruntime-node is not installed.
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
  const Case c = cases()[static_cast<size_t>(GetParam())];
  test::expect_ort_matches_after_pipeline(
      c.name, c.model, c.input,
      nlohmann::json::array({{{"pass", "fold-batchnorm"}},
                             {{"pass", "low-rank"}, {"options", nlohmann::json::parse(c.options)}}}),
      [](const PassManager& pm) { ASSERT_GE(pm.records().at(1).counter("layers_factorized"), 2); });
}

INSTANTIATE_TEST_SUITE_P(Models, OrtLowRank, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(cases()[static_cast<size_t>(info.param)].name);
                         });

}  // namespace
}  // namespace bitsmith
