// ONNX Runtime interop of quantized models (issue 4, §5): for each preset on models/cnn_small,
// models/gpt_tiny and mnist-8, the written file loads in ONNX Runtime (scripts/ort_run.js, the
// onnxruntime-node CPU build) and ORT's outputs match bitsmith's runtime on the same file, at
// ORT's default optimization level and with optimizations disabled:
//   int8-static       within one quantization step of the output (the scale of the
//                     DequantizeLinear nearest the graph output); also written as QOperator
//   int8-dynamic      integer arithmetic on both sides: 1e-3 of the output's magnitude
//   int4-weight-only  float compute (with the session config the model's metadata asks for,
//                     session.qdq_matmulnbits_accuracy_level=0): 1e-4 of the magnitude
//   fp16, bf16        rtol 1e-2 of the magnitude
// Skipped (with the reason) when node or onnxruntime-node is not installed.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <unordered_map>

#include "bitsmith/io/idx.h"
#include "bitsmith/io/model_io.h"
#include "bitsmith/io/npy.h"
#include "bitsmith/ir/verifier.h"
#include "bitsmith/passes/manager.h"
#include "bitsmith/passes/presets.h"
#include "bitsmith/runtime/executor.h"
#include "interop/ort_util.h"

namespace bitsmith {
namespace {

namespace fs = std::filesystem;
const std::string kRoot = BITSMITH_SOURCE_DIR;

using test::ort_available;

struct ModelCase {
  const char* name;
  std::string model;  // path
  std::string input;  // .npy of one batch for the comparison; "mnist": test image 0
};

std::vector<ModelCase> model_cases() {
  const std::string mnist_dir = kRoot + "/../shared/data/onnx-mnist-cntk";
  return {{"cnn_small", kRoot + "/models/cnn_small.onnx", kRoot + "/models/cnn_small.input.npy"},
          {"gpt_tiny", kRoot + "/models/gpt_tiny.onnx", kRoot + "/models/gpt_tiny.input.npy"},
          {"mnist8", mnist_dir + "/mnist-8.onnx", "mnist"}};
}

// The first `rows` MNIST test images as raw pixel values, f32 [rows, 1, 28, 28].
Expected<Tensor> mnist_images(int64_t rows) {
  BS_ASSIGN_OR_RETURN(Tensor images, read_idx(kRoot + "/../shared/data/mnist/t10k-images-idx3-ubyte.gz"));
  Tensor t(DType::kF32, {rows, 1, 28, 28});
  for (int64_t i = 0; i < rows * 28 * 28; ++i) t.mutable_data<float>()[i] = images.data<uint8_t>()[i];
  return t;
}

// Scale of the DequantizeLinear nearest the graph output `name` (walking back through the first
// non-constant input of float ops); 0 when there is none.
float output_step(const Model& m, const std::string& name) {
  const auto producers = m.graph.producer_index();
  std::string v = name;
  for (int hops = 0; hops < 16; ++hops) {
    auto p = producers.find(v);
    if (p == producers.end()) return 0;
    const Node& n = m.graph.nodes[p->second];
    if (n.op_type == "DequantizeLinear") {
      const Tensor* s = m.graph.find_initializer(n.inputs[1]);
      return s && s->numel() == 1 && s->dtype() == DType::kF32 ? s->data<float>()[0] : 0;
    }
    std::string next;
    for (const std::string& in : n.inputs)
      if (!in.empty() && !m.graph.find_initializer(in)) {
        next = in;
        break;
      }
    if (next.empty()) return 0;
    v = next;
  }
  return 0;
}

std::string metadata(const Model& m, const std::string& key) {
  for (const auto& [k, v] : m.metadata_props)
    if (k == key) return v;
  return "";
}

class OrtQuantize : public ::testing::TestWithParam<std::tuple<int, const char*>> {};

TEST_P(OrtQuantize, OrtMatchesBitsmith) {
  if (!ort_available()) GTEST_SKIP() << "node or onnxruntime-node is not installed (npm install --ignore-scripts)";
  const ModelCase mc = model_cases()[static_cast<size_t>(std::get<0>(GetParam()))];
  const std::string preset = std::get<1>(GetParam());
  if (!fs::exists(mc.model)) GTEST_SKIP() << mc.model << " not present";
  auto model = load_model(mc.model);
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  auto input = mc.input == "mnist" ? mnist_images(1) : read_npy(mc.input);
  ASSERT_TRUE(input.is_ok()) << input.status().message();
  const std::string input_name = model->graph.runtime_inputs().at(0)->name;

  // Quantize with the preset, calibrating on the comparison batch (mnist: test images 0-63).
  // "int8-static-qoperator": the int8-static preset written as QLinearConv / QLinearMatMul.
  const bool qoperator = preset == "int8-static-qoperator";
  auto pipeline = preset_pipeline(qoperator ? "int8-static" : preset);
  ASSERT_TRUE(pipeline.is_ok());
  if (qoperator)
    for (auto& step : *pipeline)
      if (step["pass"] == "quantize") step["options"]["format"] = "qoperator";
  auto pm = PassManager::from_json(*pipeline);
  ASSERT_TRUE(pm.is_ok()) << pm.status().message();
  PassManagerOptions po;
  po.num_threads = 1;
  auto calib_rows = mc.input == "mnist" ? mnist_images(64) : Expected<Tensor>(input->clone());
  ASSERT_TRUE(calib_rows.is_ok()) << calib_rows.status().message();
  const Tensor calib = *calib_rows;
  po.calibration = [&](const BatchVisitor& visit) { return visit({{input_name, calib}}); };
  Model q = *model;
  ASSERT_TRUE(pm->run(q, po).is_ok());

  const fs::path dir = fs::temp_directory_path() / ("bitsmith_ortq_" + std::to_string(::getpid()) + "_" + mc.name +
                                                    "_" + preset);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string file = (dir / "model.onnx").string(), in_file = (dir / "input.npy").string();
  ASSERT_TRUE(save_model(q, file).is_ok());
  ASSERT_TRUE(write_npy(*input, in_file).is_ok());

  // bitsmith on the written file.
  auto written = load_model(file);
  ASSERT_TRUE(written.is_ok()) << written.status().message();
  ExecutorOptions eo;
  eo.num_threads = 1;
  auto exec = Executor::create(*written, eo);
  ASSERT_TRUE(exec.is_ok()) << exec.status().message();
  auto ours = (*exec)->run({{input_name, *input}});
  ASSERT_TRUE(ours.is_ok()) << ours.status().message();
  const Tensor& out = ours->at(0);
  ASSERT_EQ(out.dtype(), DType::kF32);
  const std::string out_name = written->graph.outputs.at(0).name;
  double magnitude = 0;
  for (int64_t i = 0; i < out.numel(); ++i) magnitude = std::max(magnitude, std::fabs(double{out.data<float>()[i]}));

  double tol = 0;
  if (preset == "int8-static" || qoperator) {
    const float step = output_step(*written, out_name);
    ASSERT_GT(step, 0.f) << "no DequantizeLinear upstream of the output";
    tol = step * 1.0001;
  } else if (preset == "int8-dynamic") {
    tol = 1e-3 * magnitude;
  } else if (preset == "int4-weight-only") {
    tol = 1e-4 * magnitude;
  } else {
    tol = 1e-2 * magnitude;
  }
  const std::string config = metadata(*written, "bitsmith.quantize.ort_session_config");
  test::expect_ort_output_close(std::string(mc.name) + " " + preset, dir, file, in_file, out, out_name, tol, config);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Presets, OrtQuantize,
                         ::testing::Combine(::testing::Values(0, 1, 2),
                                            ::testing::Values("int8-static", "int8-static-qoperator", "int8-dynamic",
                                                              "int4-weight-only", "fp16", "bf16")),
                         [](const ::testing::TestParamInfo<std::tuple<int, const char*>>& info) {
                           std::string name = std::string(model_cases()[static_cast<size_t>(std::get<0>(info.param))].name) +
                                              "_" + std::get<1>(info.param);
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace bitsmith
