// quantize pass: every mode on tiny Conv / MatMul / Gemm graphs (the rewritten model verifies,
// runs in bitsmith's executor and stays close to the float model), op counts, file sizes,
// records and provenance, and the refusals.
#include <gtest/gtest.h>

#include <filesystem>

#include "bitsmith/io/onnx.h"
#include "bitsmith/passes/presets.h"
#include "bitsmith/passes/registry.h"
#include "passes/pass_test_util.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using nlohmann::json;
using test::GraphBuilder;

// x [N, 3, 8, 8] -> Conv(4 filters 3x3, pads 1, bias) -> Relu -> y
Model conv_model() {
  GraphBuilder b;
  b.input("x", DType::kF32, {"N", 3, 8, 8})
      .initializer("w", test::random_values(4 * 3 * 3 * 3, 1), {4, 3, 3, 3})
      .initializer("b", test::random_values(4, 2, -0.2f, 0.2f), {4})
      .node("Conv", {"x", "w", "b"}, {"c"}, {test::ints("pads", {1, 1, 1, 1})}, "conv1")
      .node("Relu", {"c"}, {"y"}, {}, "relu1")
      .output("y", DType::kF32, {"N", 4, 8, 8});
  return b.model();
}

// x [N, 64] -> MatMul(w [64, 24]) -> y
Model matmul_model(int64_t k = 64, int64_t n = 24) {
  GraphBuilder b;
  b.input("x", DType::kF32, {"N", k})
      .initializer("w", test::random_values(static_cast<size_t>(k * n), 3), {k, n})
      .node("MatMul", {"x", "w"}, {"y"}, {}, "mm1")
      .output("y", DType::kF32, {"N", n});
  return b.model();
}

// x [N, 32] -> Gemm(w [16, 32] transB, C [16], alpha 0.5, beta 2) -> y
Model gemm_model() {
  GraphBuilder b;
  b.input("x", DType::kF32, {"N", 32})
      .initializer("w", test::random_values(16 * 32, 4), {16, 32})
      .initializer("c", test::random_values(16, 5), {16})
      .node("Gemm", {"x", "w", "c"}, {"y"},
            {test::attr_int("transB", 1), test::attr_float("alpha", 0.5f), test::attr_float("beta", 2.f)}, "gemm1")
      .output("y", DType::kF32, {"N", 16});
  return b.model();
}

Tensor random_input(const Shape& shape, uint32_t seed) {
  return Tensor::from_vector<float>(test::random_values(static_cast<size_t>(shape_numel(shape)), seed, -1.f, 1.f),
                                    shape, "x");
}

// Calibration: `extra` (when given: the batch the test compares on, so minmax ranges cover it)
// then `batches` random batches of `rows` rows shaped like `row_shape`.
CalibrationData calibration(const Shape& row_shape, int batches, int64_t rows = 4, Tensor extra = {}) {
  return [=](const BatchVisitor& visit) -> Status {
    if (extra.defined()) BS_TRY(visit({{"x", extra}}));
    for (int k = 0; k < batches; ++k) {
      Shape s = row_shape;
      s.insert(s.begin(), rows);
      BS_TRY(visit({{"x", random_input(s, 100 + static_cast<uint32_t>(k))}}));
    }
    return Status::ok();
  };
}

struct QRun {
  Status status;
  PassRecord record;
};

// Runs quantize with `options` (JSON) on `model` in place.
QRun quantize(Model& model, const json& options, CalibrationData calib = {}, Scope scope = {}) {
  PassManager pm;
  QRun r;
  r.status = pm.add("quantize", options, std::move(scope));
  if (!r.status) return r;
  PassManagerOptions o;
  o.num_threads = 1;
  o.seed = 7;
  o.calibration = std::move(calib);
  r.status = pm.run(model, o);
  if (!pm.records().empty()) r.record = pm.records().back();
  return r;
}

struct Case {
  const char* name;
  json options;
  bool needs_calibration;
  double rel_tol;  // max |q - f| / max |f|
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"weight_only_int8", {{"activations", {{"mode", "none"}}}}, false, 0.03},
      {"weight_only_uint8_per_tensor_asym",
       {{"weights", {{"dtype", "uint8"}, {"granularity", "per-tensor"}, {"symmetric", false}}},
        {"activations", {{"mode", "none"}}}},
       false, 0.03},
      {"weight_only_int4_block16",
       {{"weights", {{"dtype", "int4"}, {"granularity", "per-block"}, {"block_size", 16}}},
        {"activations", {{"mode", "none"}}}},
       false, 0.2},
      {"dynamic", {{"activations", {{"mode", "dynamic"}}}}, false, 0.04},
      {"static_qdq", {{"activations", {{"mode", "static"}}}}, true, 0.05},
      {"static_qoperator", {{"activations", {{"mode", "static"}}}, {"format", "qoperator"}}, true, 0.05},
      {"static_int8_symmetric_percentile",
       {{"activations", {{"mode", "static"}, {"dtype", "int8"}, {"symmetric", true}, {"observer", "percentile"}}}},
       true, 0.06},
  };
  return c;
}

void check_all_modes(Model (*make)(), const Shape& row_shape) {
  const Model float_model = make();
  const Tensor x = random_input([&] { Shape s = row_shape; s.insert(s.begin(), 3); return s; }(), 42);
  const std::vector<Tensor> ref = test::run_model(float_model, {{"x", x}});
  ASSERT_EQ(ref.size(), 1u);
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    Model m = make();
    QRun r = quantize(m, c.options, c.needs_calibration ? calibration(row_shape, 3, 4, x) : CalibrationData{});
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    ASSERT_TRUE(verify(m).is_ok()) << verify(m).message();
    EXPECT_EQ(r.record.counter("nodes_quantized"), 1);
    EXPECT_EQ(r.record.counter("weights_quantized"), 1);
    EXPECT_EQ(m.graph.find_initializer("w"), nullptr) << "the float weight stays in the model";
    EXPECT_LT(r.record.counter("bytes_after"), r.record.counter("bytes_before"));
    const std::vector<Tensor> out = test::run_model(m, {{"x", x}});
    ASSERT_EQ(out.size(), 1u);
    const double err = test::max_abs_diff(out[0], ref[0]);
    EXPECT_LE(err, c.rel_tol * test::max_abs(ref[0])) << "max |quantized - float| " << err;
    EXPECT_GT(err, 0.0) << "nothing was quantized?";
    bool has_options = false;
    for (const auto& [k, v] : m.metadata_props) has_options |= k == "bitsmith.quantize.options";
    EXPECT_TRUE(has_options);
  }
}

TEST(QuantizePass, ConvEveryMode) { check_all_modes(conv_model, {3, 8, 8}); }
TEST(QuantizePass, MatMulEveryMode) {
  check_all_modes([] { return matmul_model(); }, {64});
}
TEST(QuantizePass, GemmEveryMode) { check_all_modes(gemm_model, {32}); }

TEST(QuantizePass, OpCountsPerMode) {
  Model qdq = conv_model();
  ASSERT_TRUE(quantize(qdq, {{"activations", {{"mode", "static"}}}}, calibration({3, 8, 8}, 2)).status.is_ok());
  // Complete units: Q/DQ on the input and on the output, DQ for weight and bias.
  EXPECT_EQ(test::count_op(qdq, "QuantizeLinear"), 2);
  EXPECT_EQ(test::count_op(qdq, "DequantizeLinear"), 4);
  EXPECT_EQ(test::count_op(qdq, "Conv"), 1);

  Model qop = conv_model();
  ASSERT_TRUE(quantize(qop, {{"activations", {{"mode", "static"}}}, {"format", "qoperator"}}, calibration({3, 8, 8}, 2))
                  .status.is_ok());
  EXPECT_EQ(test::count_op(qop, "QLinearConv"), 1);
  EXPECT_EQ(test::count_op(qop, "QuantizeLinear"), 1);
  EXPECT_EQ(test::count_op(qop, "DequantizeLinear"), 1);
  EXPECT_EQ(test::count_op(qop, "Conv"), 0);

  Model dyn = matmul_model();
  ASSERT_TRUE(quantize(dyn, json::object()).status.is_ok());  // default: dynamic
  EXPECT_EQ(test::count_op(dyn, "DynamicQuantizeLinear"), 1);
  EXPECT_EQ(test::count_op(dyn, "MatMulInteger"), 1);
  EXPECT_EQ(test::count_op(dyn, "MatMul"), 0);

  Model i4 = matmul_model();
  ASSERT_TRUE(quantize(i4, {{"weights", {{"dtype", "int4"}, {"granularity", "per-block"}}},
                            {"activations", {{"mode", "none"}}}})
                  .status.is_ok());
  EXPECT_EQ(i4.opset(""), 21);  // blocked DequantizeLinear
  EXPECT_GE(i4.ir_version, 10);
  bool expects_config = false;
  for (const auto& [k, v] : i4.metadata_props)
    expects_config |= k == "bitsmith.quantize.ort_session_config" && v == "session.qdq_matmulnbits_accuracy_level=0";
  EXPECT_TRUE(expects_config);
}

// Serialized size of a model.
int64_t file_bytes(const Model& m, const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".onnx");
  EXPECT_TRUE(write_onnx(m, path.string()).is_ok());
  const auto n = static_cast<int64_t>(std::filesystem::file_size(path));
  std::filesystem::remove(path);
  return n;
}

TEST(QuantizePass, OutputIsReallySmaller) {
  const Model f = matmul_model(512, 256);  // 512 KiB of f32 weight
  const int64_t float_bytes = file_bytes(f, "q_f32");
  Model i8 = f;
  ASSERT_TRUE(quantize(i8, {{"activations", {{"mode", "none"}}}}).status.is_ok());
  Model i4 = f;
  ASSERT_TRUE(quantize(i4, {{"weights", {{"dtype", "int4"}, {"granularity", "per-block"}, {"block_size", 32}}},
                            {"activations", {{"mode", "none"}}}})
                  .status.is_ok());
  const double r8 = static_cast<double>(file_bytes(i8, "q_i8")) / static_cast<double>(float_bytes);
  const double r4 = static_cast<double>(file_bytes(i4, "q_i4")) / static_cast<double>(float_bytes);
  // int8: 1/4 plus 256 scales; int4: 1/8 plus one f32 scale and one i4 zero point per 32 weights.
  EXPECT_GT(r8, 0.25);
  EXPECT_LT(r8, 0.26);
  EXPECT_GT(r4, 0.125);
  EXPECT_LT(r4, 0.125 + 4.5 / 32 / 4 + 0.005);
}

TEST(QuantizePass, RecordsWhatItDidAndSkipped) {
  GraphBuilder b;
  b.input("x", DType::kF32, {"N", 8})
      .input("w_in", DType::kF32, {8, 4})
      .initializer("w", test::random_values(8 * 8, 9), {8, 8})
      .node("MatMul", {"x", "w"}, {"h"}, {}, "keep_me")
      .node("MatMul", {"h", "w_in"}, {"y"}, {}, "runtime_weight")
      .output("y", DType::kF32, {"N", 4});
  Model m = b.model();
  QRun r = quantize(m, json::object());
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  ASSERT_EQ(r.record.touched.size(), 1u);
  EXPECT_EQ(r.record.touched[0].node, "keep_me");
  EXPECT_NE(r.record.touched[0].action.find("i8 per-channel (axis 1) symmetric 7-bit"), std::string::npos)
      << r.record.touched[0].action;
  ASSERT_EQ(r.record.skipped.size(), 1u);
  EXPECT_EQ(r.record.skipped[0].node, "runtime_weight");
  EXPECT_NE(r.record.skipped[0].reason.find("not a constant initializer"), std::string::npos);
  bool reduce_range_note = false;
  for (const std::string& n : r.record.notes) reduce_range_note |= n.find("7 bits (reduce_range)") != std::string::npos;
  EXPECT_TRUE(reduce_range_note);

  // Scope: an excluded node is skipped and recorded as such.
  Model m2 = matmul_model();
  Scope scope;
  scope.exclude.names = {"mm*"};
  QRun r2 = quantize(m2, json::object(), {}, scope);
  ASSERT_TRUE(r2.status.is_ok());
  EXPECT_EQ(r2.record.counter("nodes_quantized"), 0);
  ASSERT_EQ(r2.record.skipped.size(), 1u);
  EXPECT_EQ(r2.record.skipped[0].reason, "outside the pass scope");
  EXPECT_EQ(test::count_op(m2, "MatMul"), 1);
  EXPECT_NE(m2.graph.find_initializer("w"), nullptr);
}

TEST(QuantizePass, RefusesAnAlreadyQuantizedModel) {
  Model m = conv_model();
  ASSERT_TRUE(quantize(m, json::object()).status.is_ok());
  const Model before = m;
  QRun again = quantize(m, json::object());
  ASSERT_FALSE(again.status.is_ok());
  EXPECT_EQ(again.status.code(), StatusCode::kUnsupported);
  EXPECT_NE(again.status.message().find("already quantized"), std::string::npos) << again.status.message();
  EXPECT_NE(again.status.message().find("ConvInteger"), std::string::npos) << again.status.message();
  EXPECT_EQ(print_model(m), print_model(before));
}

TEST(QuantizePass, RefusesBadCalibration) {
  Model m = conv_model();
  const std::string before = print_model(m);
  QRun none = quantize(m, {{"activations", {{"mode", "static"}}}});
  EXPECT_EQ(none.status.code(), StatusCode::kInvalidArgument) << none.status.message();
  EXPECT_NE(none.status.message().find("calibration"), std::string::npos);
  QRun empty = quantize(m, {{"activations", {{"mode", "static"}}}}, calibration({3, 8, 8}, 0));
  EXPECT_EQ(empty.status.code(), StatusCode::kDataError) << empty.status.message();
  EXPECT_NE(empty.status.message().find("empty"), std::string::npos);
  QRun shape = quantize(m, {{"activations", {{"mode", "static"}}}}, calibration({5, 8, 8}, 2));
  EXPECT_EQ(shape.status.code(), StatusCode::kDataError) << shape.status.message();
  EXPECT_NE(shape.status.message().find("calibration batch 0"), std::string::npos) << shape.status.message();
  CalibrationData wrong_dtype = [](const BatchVisitor& visit) {
    return visit({{"x", Tensor(DType::kI32, {2, 3, 8, 8})}});
  };
  QRun dtype = quantize(m, {{"activations", {{"mode", "static"}}}}, wrong_dtype);
  EXPECT_EQ(dtype.status.code(), StatusCode::kDataError) << dtype.status.message();
  EXPECT_EQ(print_model(m), before);  // nothing changed
}

TEST(QuantizePass, RefusesBadOptionsAndScope) {
  const auto create_error = [](const json& o) {
    auto p = create_pass("quantize", o, "/options");
    return p.is_ok() ? std::string() : p.status().message();
  };
  EXPECT_NE(create_error({{"weights", {{"dtype", "int4"}}}, {"activations", {{"mode", "static"}}}})
                .find("/options/activations/mode: 4-bit weights are weight-only"),
            std::string::npos);
  EXPECT_NE(create_error({{"weights", {{"block_size", 8}}}}).find("/options/weights/block_size: 8 is out of range"),
            std::string::npos);
  EXPECT_NE(create_error({{"weights", {{"dtyp", "int8"}}}}).find("did you mean \"dtype\""), std::string::npos);
  EXPECT_NE(create_error({{"activations", {{"mode", "dynamic"}, {"dtype", "int8"}}}}).find("uint8"), std::string::npos);
  EXPECT_NE(create_error({{"activations", {{"mode", "none"}}}, {"format", "qoperator"}}).find("/options/format"),
            std::string::npos);

  Model m = matmul_model();
  Scope scope;
  scope.include.ops = {"MatMul", "Add"};
  QRun r = quantize(m, json::object(), {}, scope);
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("\"Add\""), std::string::npos) << r.status.message();
}

TEST(QuantizePass, RaisesTheOpsetOrRefuses) {
  // Opset 11 MatMul -> Squeeze(axes attribute): Squeeze-13 takes axes as an input.
  GraphBuilder b;
  b.input("x", DType::kF32, {1, 16})
      .initializer("w", test::random_values(16 * 8, 3), {16, 8})
      .node("MatMul", {"x", "w"}, {"h"}, {}, "mm")
      .node("Squeeze", {"h"}, {"y"}, {test::ints("axes", {0})}, "sq")
      .output("y", DType::kF32, {8});
  Model m = b.model(11);
  QRun r = quantize(m, json::object());
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status.message().find("Squeeze"), std::string::npos) << r.status.message();
  EXPECT_EQ(m.opset(""), 11);

  Model ok = matmul_model();
  ok.opset_imports = {{"", 9}};
  ASSERT_TRUE(quantize(ok, json::object()).status.is_ok());
  EXPECT_EQ(ok.opset(""), 13);
}

// A block size that does not divide the axis: the last block is shorter (ONNX's blocked
// DequantizeLinear allows it), so K = 40 with blocks of 16 has 3 blocks per column.
TEST(QuantizePass, BlockSizeNotDividingTheAxisGivesAShorterLastBlock) {
  Model m = matmul_model(40, 24);
  const Tensor x = random_input({2, 40}, 8);
  const std::vector<Tensor> ref = test::run_model(m, {{"x", x}});
  ASSERT_TRUE(quantize(m, {{"weights", {{"dtype", "int4"}, {"granularity", "per-block"}, {"block_size", 16}}},
                           {"activations", {{"mode", "none"}}}})
                  .status.is_ok());
  const Node* dq = nullptr;
  for (const Node& n : m.graph.nodes)
    if (n.op_type == "DequantizeLinear") dq = &n;
  ASSERT_NE(dq, nullptr);
  EXPECT_EQ(dq->attr_int("block_size", 0), 16);
  EXPECT_EQ(m.graph.find_initializer(dq->inputs[1])->shape(), (Shape{3, 24}));
  const std::vector<Tensor> out = test::run_model(m, {{"x", x}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_LE(test::max_abs_diff(out[0], ref[0]), 0.2 * test::max_abs(ref[0]));
}

TEST(QuantizePass, SameBytesForAnyThreadCount) {
  std::string printed[2];
  for (int t = 1; t <= 2; ++t) {
    Model m = conv_model();
    PassManager pm;
    ASSERT_TRUE(pm.add("quantize", {{"activations", {{"mode", "static"}}}}).is_ok());
    PassManagerOptions o;
    o.num_threads = t;
    o.calibration = calibration({3, 8, 8}, 2);
    ASSERT_TRUE(pm.run(m, o).is_ok());
    printed[t - 1] = print_model(m);
    for (const Tensor& init : m.graph.initializers)
      printed[t - 1] += init.name() + std::string(reinterpret_cast<const char*>(init.bytes()), init.nbytes());
  }
  EXPECT_EQ(printed[0], printed[1]);
}

TEST(QuantizePass, PresetsParseAndName) {
  for (const Preset& p : presets()) {
    SCOPED_TRACE(std::string(p.name));
    auto j = preset_pipeline(p.name);
    ASSERT_TRUE(j.is_ok());
    auto pm = PassManager::from_json(*j);
    EXPECT_TRUE(pm.is_ok()) << pm.status().message();
  }
  auto bad = preset_pipeline("int8-statc");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("did you mean \"int8-static\""), std::string::npos);
}

}  // namespace
}  // namespace bitsmith
