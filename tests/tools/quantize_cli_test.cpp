// `bitsmith quantize`: presets and flags, summary on stdout, exit codes (1 bad flags/options,
// 2 bad model/data) and nothing written on error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "bitsmith/io/npy.h"
#include "bitsmith/io/onnx.h"
#include "support/cli_fixture.h"

namespace bitsmith {
namespace {

namespace fs = std::filesystem;

using test::CliResult;
using test::slurp;

class QuantizeCli : public test::CliFixture {
 protected:
  QuantizeCli() : CliFixture("bitsmith_qcli") {}
};

const char* kCnn = "models/cnn_small.onnx";
const char* kCnnInput = "models/cnn_small.input.npy";

TEST_F(QuantizeCli, DefaultPresetIsDynamicWithoutCalibration) {
  const CliResult r = run(std::string("quantize ") + kCnn + " -o " + tmp("q.onnx"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("preset int8-dynamic"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("quantized 6 node(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reduce_range"), std::string::npos) << r.out;
  auto m = read_onnx(tmp("q.onnx"));
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  bool preset = false;
  for (const auto& [k, v] : m->metadata_props) preset |= k == "bitsmith.preset" && v == "int8-dynamic";
  EXPECT_TRUE(preset);
}

TEST_F(QuantizeCli, CalibrationMeansStaticAndJsonSummary) {
  const CliResult r = run(std::string("quantize ") + kCnn + " -o " + tmp("q.onnx") + " --calib " + kCnnInput +
                          " --calib-samples 3 --seed 5 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["preset"], "int8-static");
  EXPECT_GT(j["file_bytes_before"].get<int64_t>(), 0);
  EXPECT_GT(j["file_bytes_after"].get<int64_t>(), 0);
  const nlohmann::json& q = j["records"].back();
  EXPECT_EQ(q["pass"], "quantize");
  EXPECT_EQ(q["counters"]["nodes_quantized"], 6);
  EXPECT_EQ(q["counters"]["calibration_batches"], 1);  // 3 rows: one batch
  EXPECT_EQ(q["options"]["activations"]["mode"], "static");
  // The same seed gives the same file.
  ASSERT_EQ(run(std::string("quantize ") + kCnn + " -o " + tmp("q2.onnx") + " --calib " + kCnnInput +
                " --calib-samples 3 --seed 5")
                .exit_code,
            0);
  EXPECT_EQ(slurp(tmp("q.onnx")), slurp(tmp("q2.onnx")));
}

TEST_F(QuantizeCli, FlagsOverrideThePreset) {
  const CliResult r = run(std::string("quantize models/gpt_tiny.onnx -o ") + tmp("q.onnx") +
                          " --weights int4 --granularity per-block --block-size 64 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const nlohmann::json& o = j["records"].back()["options"];
  EXPECT_EQ(o["weights"]["dtype"], "int4");
  EXPECT_EQ(o["weights"]["block_size"], 64);
  EXPECT_EQ(o["activations"]["mode"], "none");  // 4-bit implies weight-only
  EXPECT_LT(j["file_bytes_after"].get<int64_t>(), j["file_bytes_before"].get<int64_t>() / 2);

  const CliResult ex = run(std::string("quantize ") + kCnn + " -o " + tmp("e.onnx") + " --exclude '*' --json");
  ASSERT_EQ(ex.exit_code, 0) << ex.err;
  const nlohmann::json exj = nlohmann::json::parse(ex.out);
  const nlohmann::json& rec = exj["records"].back();
  EXPECT_EQ(rec["counters"].value("nodes_quantized", 0), 0);
  EXPECT_EQ(rec["skipped"].size(), 6u);
}

TEST_F(QuantizeCli, BadOptionsExitOneAndWriteNothing) {
  EXPECT_EQ(run(std::string("quantize ") + kCnn + " -o " + tmp("a.onnx") + " --weights int5").exit_code, 1);
  const CliResult no_calib = run(std::string("quantize ") + kCnn + " -o " + tmp("b.onnx") + " --preset int8-static");
  EXPECT_EQ(no_calib.exit_code, 1);
  EXPECT_NE(no_calib.err.find("calibration"), std::string::npos) << no_calib.err;
  const CliResult combo = run(std::string("quantize ") + kCnn + " -o " + tmp("c.onnx") +
                              " --weights int4 --activations static");
  EXPECT_EQ(combo.exit_code, 1);
  EXPECT_NE(combo.err.find("weight-only"), std::string::npos) << combo.err;
  const CliResult fp16 = run(std::string("quantize ") + kCnn + " -o " + tmp("d.onnx") + " --preset fp16 --weights int8");
  EXPECT_EQ(fp16.exit_code, 1);
  const CliResult preset = run(std::string("quantize ") + kCnn + " -o " + tmp("e.onnx") + " --preset int8-statc");
  EXPECT_EQ(preset.exit_code, 1);
  EXPECT_NE(preset.err.find("did you mean \"int8-static\""), std::string::npos) << preset.err;
  for (const char* f : {"a.onnx", "b.onnx", "c.onnx", "d.onnx", "e.onnx"}) EXPECT_FALSE(fs::exists(tmp(f))) << f;
}

TEST_F(QuantizeCli, PassesListsNestedOptions) {
  const CliResult r = run("passes quantize");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* key : {"weights.dtype", "weights.granularity", "weights.block_size", "weights.reduce_range",
                          "activations.mode", "activations.observer", "activations.percentile", "format"})
    EXPECT_NE(r.out.find(std::string("  ") + key + " ("), std::string::npos) << key << "\n" << r.out;
}

TEST_F(QuantizeCli, BadModelOrDataExitTwoAndWriteNothing) {
  // Calibration rows of the wrong shape.
  ASSERT_TRUE(write_npy(Tensor(DType::kF32, {2, 3, 16, 16}), tmp("bad.npy")).is_ok());
  const CliResult shape = run(std::string("quantize ") + kCnn + " -o " + tmp("a.onnx") + " --calib " + tmp("bad.npy"));
  EXPECT_EQ(shape.exit_code, 2);
  EXPECT_NE(shape.err.find("dim 2"), std::string::npos) << shape.err;
  // Empty calibration set.
  ASSERT_TRUE(write_npy(Tensor(DType::kF32, {0, 3, 32, 32}), tmp("empty.npy")).is_ok());
  const CliResult empty = run(std::string("quantize ") + kCnn + " -o " + tmp("b.onnx") + " --calib " + tmp("empty.npy"));
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("empty"), std::string::npos) << empty.err;
  // Wrong dtype.
  ASSERT_TRUE(write_npy(Tensor(DType::kI32, {2, 3, 32, 32}), tmp("int.npy")).is_ok());
  EXPECT_EQ(run(std::string("quantize ") + kCnn + " -o " + tmp("c.onnx") + " --calib " + tmp("int.npy")).exit_code, 2);
  // An already quantized model.
  ASSERT_EQ(run(std::string("quantize ") + kCnn + " -o " + tmp("q.onnx")).exit_code, 0);
  const CliResult again = run("quantize " + tmp("q.onnx") + " -o " + tmp("d.onnx"));
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already quantized"), std::string::npos) << again.err;
  // A missing model.
  EXPECT_EQ(run("quantize " + tmp("missing.onnx") + " -o " + tmp("e.onnx")).exit_code, 2);
  for (const char* f : {"a.onnx", "b.onnx", "c.onnx", "d.onnx", "e.onnx"}) EXPECT_FALSE(fs::exists(tmp(f))) << f;
}

}  // namespace
}  // namespace bitsmith
