// quantize on a real model (issue 4, §6): mnist-8.onnx with the MNIST test set, calibrated on
// images 0-499, scored on all 10,000 with bitsmith's runtime. Top-1 drop against the float model
// (measured here too, not hard-coded): int8 static per-channel <= 0.2 pt (QDQ and QOperator),
// int8 dynamic <= 0.2 pt, int4 weight-only blocks of 32 <= 1 pt. Measured figures go to the test
// properties (--gtest_output=xml) and into failure messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <ostream>

#include "bitsmith/io/idx.h"
#include "bitsmith/io/model_io.h"
#include "bitsmith/passes/manager.h"
#include "bitsmith/passes/presets.h"
#include "bitsmith/runtime/executor.h"

namespace bitsmith {
namespace {

const std::string kDataDir = BITSMITH_SOURCE_DIR "/../shared/data";
constexpr int64_t kPixels = 28 * 28;

struct Mnist {
  Tensor images;  // u8 [N, 28, 28]
  Tensor labels;  // u8 [N]
};

const Mnist& mnist() {
  static const Mnist d = [] {
    Mnist m;
    auto images = read_idx(kDataDir + "/mnist/t10k-images-idx3-ubyte.gz");
    auto labels = read_idx(kDataDir + "/mnist/t10k-labels-idx1-ubyte.gz");
    if (images.is_ok()) m.images = *images;
    if (labels.is_ok()) m.labels = *labels;
    return m;
  }();
  return d;
}

// Raw pixel values 0..255 as f32 [count, 1, 28, 28] (the input mnist-8 expects).
Tensor batch_f32(int64_t first, int64_t count) {
  Tensor t(DType::kF32, {count, 1, 28, 28});
  const uint8_t* src = mnist().images.data<uint8_t>() + first * kPixels;
  float* dst = t.mutable_data<float>();
  for (int64_t i = 0; i < count * kPixels; ++i) dst[i] = static_cast<float>(src[i]);
  return t;
}

// Top-1 hits over the whole test set (batches of 250, one thread: these tensors are too small
// for threads to pay off, and the test binary may share the machine).
int64_t correct(const Model& model) {
  ExecutorOptions o;
  o.dynamic_batch = true;
  o.num_threads = 1;
  auto exec = Executor::create(model, o);
  EXPECT_TRUE(exec.is_ok()) << exec.status().message();
  if (!exec.is_ok()) return -1;
  const std::string input = (*exec)->inputs().at(0).name;
  const int64_t n = mnist().images.dim(0);
  int64_t hits = 0;
  for (int64_t first = 0; first < n; first += 250) {
    const int64_t count = std::min<int64_t>(250, n - first);
    auto out = (*exec)->run({{input, batch_f32(first, count)}});
    EXPECT_TRUE(out.is_ok()) << out.status().message();
    if (!out.is_ok()) return -1;
    const float* logits = (*out)[0].data<float>();
    for (int64_t i = 0; i < count; ++i) {
      const float* row = logits + i * 10;
      if (std::max_element(row, row + 10) - row == mnist().labels.data<uint8_t>()[first + i]) ++hits;
    }
  }
  return hits;
}

// Images 0-499 in batches of 32.
CalibrationData calibration(const std::string& input) {
  return [input](const BatchVisitor& visit) -> Status {
    for (int64_t first = 0; first < 500; first += 32) BS_TRY(visit({{input, batch_f32(first, std::min<int64_t>(32, 500 - first))}}));
    return Status::ok();
  };
}

struct Variant {
  const char* preset;
  nlohmann::json quantize_options;  // merged over the preset's quantize step
  double max_drop_pt;
};

// For ctest's test names (otherwise gtest prints the struct's bytes).
void PrintTo(const Variant& v, std::ostream* os) { *os << v.preset << " " << v.quantize_options.dump(); }

class QuantizeMnist : public ::testing::TestWithParam<Variant> {};

TEST_P(QuantizeMnist, AccuracyDropWithinBudget) {
  const std::string path = kDataDir + "/onnx-mnist-cntk/mnist-8.onnx";
  if (!std::filesystem::exists(path) || !std::filesystem::exists(kDataDir + "/mnist"))
    GTEST_SKIP() << "shared MNIST data not present";
  ASSERT_TRUE(mnist().images.defined() && mnist().labels.defined());
  auto model = load_model(path);
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  static const int64_t float_correct = correct(*model);
  ASSERT_GT(float_correct, 9800);

  const Variant& v = GetParam();
  auto pipeline = preset_pipeline(v.preset);
  ASSERT_TRUE(pipeline.is_ok());
  for (auto& step : *pipeline)
    if (step["pass"] == "quantize") step["options"].merge_patch(v.quantize_options);
  auto pm = PassManager::from_json(*pipeline);
  ASSERT_TRUE(pm.is_ok()) << pm.status().message();
  Model q = *model;
  PassManagerOptions o;
  o.num_threads = 1;
  o.calibration = calibration(q.graph.inputs.at(0).name);
  ASSERT_TRUE(pm->run(q, o).is_ok());
  ASSERT_EQ(pm->records().back().counter("nodes_quantized"), 3);  // two Convs and the MatMul

  const int64_t hits = correct(q);
  const double drop = static_cast<double>(float_correct - hits) / 100.0;  // percentage points
  RecordProperty("float_correct", static_cast<int>(float_correct));
  RecordProperty("quantized_correct", static_cast<int>(hits));
  EXPECT_LE(drop, v.max_drop_pt) << v.preset << ": " << float_correct << " -> " << hits << " correct of 10000";
}

INSTANTIATE_TEST_SUITE_P(
    Presets, QuantizeMnist,
    ::testing::Values(Variant{"int8-static", nlohmann::json::object(), 0.2},
                      Variant{"int8-static", {{"format", "qoperator"}}, 0.2},
                      Variant{"int8-dynamic", nlohmann::json::object(), 0.2},
                      Variant{"int4-weight-only", nlohmann::json::object(), 1.0}),
    [](const ::testing::TestParamInfo<Variant>& info) {
      std::string name = std::string(info.param.preset) + (info.param.quantize_options.empty() ? "" : "_qoperator");
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

}  // namespace
}  // namespace bitsmith
