// low-rank pass: an exactly low-rank weight recovered at its rank; each rank criterion against
// the spectrum computed here (Eigen JacobiSVD, not the pass's BDCSVD); no layer ever grows;
// a fixed rank too large names the node; activation-aware beats plain SVD on output error with
// anisotropic inputs; Gemm (alpha, transB, bias), 1x1 and spatial Conv factorizations match the
// original outputs; the digits models run after low-rank then int8 weight-only quantize (which
// quantizes the factors); the same factors at 1 and 2 threads; bad options.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <Eigen/QR>
#include <Eigen/SVD>
#include <cmath>

#include "bitsmith/io/npy.h"
#include "bitsmith/io/onnx.h"
#include "bitsmith/passes/registry.h"
#include "passes/pass_test_util.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using nlohmann::json;
using test::GraphBuilder;
using MatrixD = Eigen::MatrixXd;

struct PassRun {
  Status status;
  PassRecord record;
};

PassRun run_pass(Model& m, const json& pipeline, CalibrationData data = {}, int threads = 1) {
  PassRun r;
  auto pm = PassManager::from_json(pipeline);
  if (!pm.is_ok()) {
    r.status = pm.status();
    return r;
  }
  PassManagerOptions o;
  o.num_threads = threads;
  o.calibration = std::move(data);
  r.status = pm->run(m, o);
  if (!pm->records().empty()) r.record = pm->records().front();
  return r;
}

PassRun low_rank(Model& m, const json& options, CalibrationData data = {}, int threads = 1) {
  return run_pass(m, json::array({{{"pass", "low-rank"}, {"options", options}}}), std::move(data), threads);
}

const Tensor& weight(const Model& m, const std::string& name) { return *m.graph.find_initializer(name); }

// Random matrix [rows, cols] (uniform in [-1, 1)), double.
MatrixD random_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  const std::vector<float> v = test::random_values(static_cast<size_t>(rows * cols), seed);
  MatrixD m(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m(i, j) = v[i * cols + j];
  return m;
}

// Row-major float values of a matrix.
std::vector<float> values(const MatrixD& m) {
  std::vector<float> v(static_cast<size_t>(m.size()));
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) v[i * m.cols() + j] = static_cast<float>(m(i, j));
  return v;
}

MatrixD as_matrix(const Tensor& t, int64_t rows, int64_t cols) {
  MatrixD m(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m(i, j) = t.data<float>()[i * cols + j];
  return m;
}

// x [N, K] -> MatMul(w [K, N]) -> y
Model matmul_model(const MatrixD& w) {
  GraphBuilder g;
  g.input("x", DType::kF32, {"B", static_cast<int64_t>(w.rows())})
      .initializer("w", values(w), {w.rows(), w.cols()})
      .node("MatMul", {"x", "w"}, {"y"}, {}, "mm")
      .output("y", DType::kF32, {"B", static_cast<int64_t>(w.cols())});
  return g.model();
}

Tensor random_input(Shape shape, uint32_t seed) {
  const int64_t n = shape_numel(shape);
  return Tensor::from_vector<float>(test::random_values(static_cast<size_t>(n), seed), std::move(shape), "x");
}

// The first factor's name (the TensorChange result) of the layer whose weight was `w`.
std::string factor_a(const PassRecord& r, const std::string& w) {
  for (const TensorChange& t : r.tensors)
    if (t.tensor == w) return t.result;
  return "";
}

TEST(LowRankPass, ExactlyLowRankMatrixRecoveredAtItsRank) {
  const MatrixD w = random_matrix(12, 3, 1) * random_matrix(3, 10, 2);  // rank 3
  Model m = matmul_model(w);
  const Model original = m;
  PassRun r = low_rank(m, {{"energy", 0.999999}});
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  ASSERT_EQ(r.record.tensors.size(), 1u);
  const TensorChange& t = r.record.tensors[0];
  EXPECT_EQ(weight(m, t.result).shape(), (Shape{12, 3}));
  EXPECT_GT(t.sqnr_db, 100.0);  // only float rounding
  EXPECT_EQ(t.bytes_after, (12 * 3 + 3 * 10) * 4);
  EXPECT_EQ(t.how, "rank 3 of 10 (energy 0.999999)");
  EXPECT_EQ(test::count_op(m, "MatMul"), 2);
  EXPECT_EQ(m.graph.find_initializer("w"), nullptr);  // the old weight is gone
  EXPECT_EQ(r.record.counter("params_before"), 120);
  EXPECT_EQ(r.record.counter("params_after"), 66);
  const NamedTensors feeds{{"x", random_input({5, 12}, 3)}};
  const auto want = test::run_model(original, feeds), got = test::run_model(m, feeds);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LT(test::max_abs_diff(want[0], got[0]), 1e-5 * test::max_abs(want[0]));
}

// Spectrum s_0 >= s_1 >= ... of W = U diag(sigma) V^T with U, V random orthonormal.
MatrixD with_spectrum(int64_t rows, int64_t cols, const std::vector<double>& sigma, uint32_t seed) {
  const auto p = static_cast<int64_t>(sigma.size());
  const MatrixD u = Eigen::HouseholderQR<MatrixD>(random_matrix(rows, p, seed)).householderQ() * MatrixD::Identity(rows, p);
  const MatrixD v = Eigen::HouseholderQR<MatrixD>(random_matrix(cols, p, seed + 1)).householderQ() * MatrixD::Identity(cols, p);
  Eigen::VectorXd s(p);
  for (int64_t k = 0; k < p; ++k) s(k) = sigma[k];
  return u * s.asDiagonal() * v.transpose();
}

TEST(LowRankPass, RankByEachCriterionMatchesTheSpectrum) {
  std::vector<double> sigma;
  for (int k = 0; k < 20; ++k) sigma.push_back(std::pow(0.7, k));
  const MatrixD w = with_spectrum(24, 20, sigma, 7);
  // The spectrum of the stored (float) weight, computed independently of the pass.
  const MatrixD stored = as_matrix(weight(matmul_model(w), "w"), 24, 20);
  const Eigen::VectorXd s = Eigen::JacobiSVD<MatrixD>(stored).singularValues();
  double total = 0;
  for (Eigen::Index k = 0; k < s.size(); ++k) total += s(k) * s(k);
  auto kept = [&](int r) {  // fraction of sum s^2 in the first r values
    double e = 0;
    for (int k = 0; k < r; ++k) e += s(k) * s(k);
    return e / total;
  };
  auto by_energy = [&](double energy) {
    int r = 1;
    while (kept(r) < energy) ++r;
    EXPECT_GT(std::fabs(kept(r) - energy), 1e-6);  // not on a boundary
    return r;
  };
  auto by_error = [&](double max_error) {
    int r = 1;
    while (std::sqrt(1 - kept(r)) > max_error) ++r;
    EXPECT_GT(std::fabs(std::sqrt(1 - kept(r)) - max_error), 1e-6);
    return r;
  };
  struct Case {
    json options;
    int rank;
  };
  const std::vector<Case> cases = {
      {{{"rank_by", "energy"}, {"energy", 0.9}}, by_energy(0.9)},
      {{{"rank_by", "energy"}, {"energy", 0.99}}, by_energy(0.99)},
      {{{"rank_by", "ratio"}, {"ratio", 0.3}}, 6},  // ceil(0.3 * 20)
      {{{"rank_by", "ratio"}, {"ratio", 0.01}}, 1},
      {{{"rank_by", "error"}, {"max_error", 0.2}}, by_error(0.2)},
      {{{"rank_by", "error"}, {"max_error", 0.05}}, by_error(0.05)},
      {{{"rank_by", "fixed"}, {"rank", 4}}, 4},
  };
  for (const Case& c : cases) {
    ASSERT_LT(c.rank * (24 + 20), 24 * 20) << c.options.dump();  // each case does factor
    Model m = matmul_model(w);
    PassRun r = low_rank(m, c.options);
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    const std::string a = factor_a(r.record, "w");
    ASSERT_FALSE(a.empty()) << c.options.dump();
    EXPECT_EQ(weight(m, a).shape(), (Shape{24, c.rank})) << c.options.dump();
    // The measured weight error is the tail of the spectrum.
    const double rel = std::sqrt(1 - kept(c.rank));
    EXPECT_NEAR(r.record.tensors[0].sqnr_db, -20 * std::log10(rel), 0.01) << c.options.dump();
  }
}

TEST(LowRankPass, NeverIncreasesParameters) {
  const MatrixD w = random_matrix(8, 8, 21);
  Model m = matmul_model(w);
  PassRun r = low_rank(m, {{"rank_by", "fixed"}, {"rank", 6}});  // 6 * (8 + 8) = 96 >= 64
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_TRUE(r.record.tensors.empty());
  ASSERT_EQ(r.record.skipped.size(), 1u);
  EXPECT_EQ(r.record.skipped[0].reason,
            "rank 6 of 8 (fixed) would not reduce parameters: 6 x (8 + 8) = 96 >= 8 x 8 = 64");
  EXPECT_EQ(test::count_op(m, "MatMul"), 1);
  EXPECT_TRUE(weight(m, "w").same_content(weight(matmul_model(w), "w")));
  // energy 1 keeps the full rank: never applied either.
  r = low_rank(m, {{"energy", 1.0}});
  ASSERT_TRUE(r.status.is_ok());
  EXPECT_EQ(r.record.counter("layers_factorized"), 0);
  // rank 3: 48 < 64, applied.
  r = low_rank(m, {{"rank_by", "fixed"}, {"rank", 3}});
  ASSERT_TRUE(r.status.is_ok());
  EXPECT_EQ(r.record.counter("layers_factorized"), 1);
  EXPECT_EQ(r.record.counter("params_after"), 48);
}

TEST(LowRankPass, FixedRankTooLargeNamesTheNodeAndShape) {
  Model m = matmul_model(random_matrix(8, 6, 5));
  PassRun r = low_rank(m, {{"rank_by", "fixed"}, {"rank", 7}});
  ASSERT_FALSE(r.status.is_ok());
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("rank 7 is larger than"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("'mm'"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("[8, 6]"), std::string::npos) << r.status.message();
  EXPECT_EQ(test::count_op(m, "MatMul"), 1);  // untouched
}

// Inputs x = z D Q: a few directions carry most of the variance (D diagonal, Q a rotation).
Tensor anisotropic_batch(int64_t rows, int64_t k, uint32_t seed) {
  MatrixD z = random_matrix(rows, k, seed);
  for (int64_t j = 0; j < k; ++j) z.col(j) *= j < 3 ? 10.0 : 0.1;
  const MatrixD q = Eigen::HouseholderQR<MatrixD>(random_matrix(k, k, 99)).householderQ();
  return Tensor::from_vector<float>(values(z * q), {rows, k}, "x");
}

TEST(LowRankPass, ActivationAwareLowersOutputErrorAtTheSameRank) {
  const MatrixD w = random_matrix(16, 12, 31);
  CalibrationData data = [](const BatchVisitor& visit) -> Status {
    for (uint32_t b = 0; b < 4; ++b) BS_TRY(visit({{"x", anisotropic_batch(64, 16, 40 + b)}}));
    return Status::ok();
  };
  const NamedTensors eval{{"x", anisotropic_batch(256, 16, 77)}};
  const Model original = matmul_model(w);
  const Tensor want = test::run_model(original, eval)[0];
  auto output_error = [&](bool aware) {
    Model m = original;
    PassRun r = low_rank(m, {{"rank_by", "fixed"}, {"rank", 3}, {"activation_aware", aware}}, data);
    EXPECT_TRUE(r.status.is_ok()) << r.status.message();
    EXPECT_EQ(r.record.counter("layers_factorized"), 1);
    EXPECT_EQ(r.record.tensors.at(0).how.find("activation-aware") != std::string::npos, aware);
    const Tensor got = test::run_model(m, eval)[0];
    double err = 0, ref = 0;
    for (int64_t i = 0; i < got.numel(); ++i) {
      const double d = static_cast<double>(got.data<float>()[i]) - want.data<float>()[i];
      err += d * d;
      ref += static_cast<double>(want.data<float>()[i]) * want.data<float>()[i];
    }
    return std::sqrt(err / ref);
  };
  const double plain = output_error(false), aware = output_error(true);
  EXPECT_LT(aware, 0.5 * plain) << "relative output error: plain " << plain << ", activation-aware " << aware;
  // Without data: a clear error.
  Model m = original;
  PassRun r = low_rank(m, {{"activation_aware", true}});
  ASSERT_FALSE(r.status.is_ok());
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("low-rank: activation_aware needs calibration data"), std::string::npos)
      << r.status.message();
}

TEST(LowRankPass, GemmFoldsAlphaAndKeepsBiasAndBeta) {
  const MatrixD w = random_matrix(9, 2, 51) * random_matrix(2, 14, 52);  // [N=9, K=14] (transB), rank 2
  GraphBuilder g;
  g.input("x", DType::kF32, {"B", 14})
      .initializer("w", values(w), {9, 14})
      .initializer("c", test::random_values(9, 53), {9})
      .node("Gemm", {"x", "w", "c"}, {"y"},
            {test::attr_int("transB", 1), test::attr_float("alpha", 0.5f), test::attr_float("beta", 2.f)}, "fc")
      .output("y", DType::kF32, {"B", 9});
  Model m = g.model();
  const Model original = m;
  PassRun r = low_rank(m, {{"energy", 0.999999}});
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.record.counter("layers_factorized"), 1);
  EXPECT_GT(r.record.tensors.at(0).sqnr_db, 100.0);  // A B / alpha against w
  ASSERT_EQ(m.graph.nodes.size(), 2u);
  EXPECT_EQ(m.graph.nodes[0].op_type, "MatMul");
  const Node& gemm = m.graph.nodes[1];
  EXPECT_EQ(gemm.op_type, "Gemm");
  EXPECT_EQ(gemm.find_attr("alpha"), nullptr);
  EXPECT_EQ(gemm.attr_float("beta", 1.f), 2.f);
  EXPECT_EQ(gemm.inputs.at(2), "c");
  EXPECT_EQ(weight(m, gemm.inputs[1]).shape(), (Shape{2, 9}));
  const NamedTensors feeds{{"x", random_input({4, 14}, 54)}};
  const Tensor want = test::run_model(original, feeds)[0], got = test::run_model(m, feeds)[0];
  EXPECT_LT(test::max_abs_diff(want, got), 1e-5 * test::max_abs(want));
}

// Conv W[o, c, i, j] = sum_k A[(c, i), k] B[k, (o, j)]: exactly rank r in the spatial sense.
std::vector<float> separable_kernel(int64_t o, int64_t c, int64_t kh, int64_t kw, int64_t r, uint32_t seed) {
  const MatrixD m = random_matrix(c * kh, r, seed) * random_matrix(r, o * kw, seed + 1);
  std::vector<float> w(static_cast<size_t>(o * c * kh * kw));
  for (int64_t oo = 0; oo < o; ++oo)
    for (int64_t cc = 0; cc < c; ++cc)
      for (int64_t i = 0; i < kh; ++i)
        for (int64_t j = 0; j < kw; ++j)
          w[((oo * c + cc) * kh + i) * kw + j] = static_cast<float>(m(cc * kh + i, oo * kw + j));
  return w;
}

TEST(LowRankPass, ConvFactorizationsMatchTheOriginalOutputs) {
  // x [N, 4, 11, 13] -> spatial Conv 3x5 (8 outputs, strides 2x1, pads, dilations 1x2, bias)
  //                  -> 1x1 Conv (6 outputs, stride 1x2, bias)
  GraphBuilder g;
  g.input("x", DType::kF32, {"N", 4, 11, 13})
      .initializer("ws", separable_kernel(8, 4, 3, 5, 3, 61), {8, 4, 3, 5})
      .initializer("bs", test::random_values(8, 63), {8})
      .initializer("wp", separable_kernel(6, 8, 1, 1, 2, 64), {6, 8, 1, 1})
      .initializer("bp", test::random_values(6, 66), {6})
      .node("Conv", {"x", "ws", "bs"}, {"h"},
            {test::ints("strides", {2, 1}), test::ints("pads", {1, 2, 0, 3}), test::ints("dilations", {1, 2}),
             test::ints("kernel_shape", {3, 5})},
            "spatial")
      .node("Conv", {"h", "wp", "bp"}, {"y"}, {test::ints("strides", {1, 2})}, "pointwise")
      .output("y", DType::kF32, {"N", 6, 5, 4});
  const Model original = g.model();
  const NamedTensors feeds{{"x", random_input({2, 4, 11, 13}, 67)}};
  const Tensor want = test::run_model(original, feeds)[0];
  Model m = original;
  PassRun r = low_rank(m, {{"energy", 0.999999}});
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.record.counter("layers_factorized"), 2);
  EXPECT_EQ(test::count_op(m, "Conv"), 4);
  EXPECT_EQ(weight(m, factor_a(r.record, "ws")).shape(), (Shape{3, 4, 3, 1}));
  EXPECT_EQ(weight(m, factor_a(r.record, "wp")).shape(), (Shape{2, 8, 1, 1}));
  EXPECT_EQ(r.record.counter("params_before"), 8 * 4 * 15 + 6 * 8);
  EXPECT_EQ(r.record.counter("params_after"), 3 * (12 + 40) + 2 * (8 + 6));
  const Tensor got = test::run_model(m, feeds)[0];
  EXPECT_LT(test::max_abs_diff(want, got), 1e-4 * test::max_abs(want));
  // conv: "pointwise" leaves the spatial one alone, "none" both.
  m = original;
  r = low_rank(m, {{"energy", 0.999999}, {"conv", "pointwise"}});
  ASSERT_TRUE(r.status.is_ok());
  EXPECT_EQ(r.record.counter("layers_factorized"), 1);
  EXPECT_EQ(factor_a(r.record, "ws"), "");
  m = original;
  r = low_rank(m, {{"conv", "none"}});
  ASSERT_TRUE(r.status.is_ok());
  EXPECT_EQ(r.record.counter("layers_factorized"), 0);
  // activation-aware: the 1x1 Conv is whitened (channel covariance), the spatial one is not.
  m = original;
  CalibrationData data = [](const BatchVisitor& visit) { return visit({{"x", random_input({2, 4, 11, 13}, 68)}}); };
  r = low_rank(m, {{"energy", 0.999999}, {"activation_aware", true}}, data);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.record.counter("layers_factorized"), 2);
  ASSERT_EQ(r.record.notes.size(), 1u);
  EXPECT_NE(r.record.notes[0].find("plain SVD for [node 'spatial' (Conv)]"), std::string::npos) << r.record.notes[0];
  EXPECT_LT(test::max_abs_diff(want, test::run_model(m, feeds)[0]), 1e-4 * test::max_abs(want));
}

// Batches of 32 rows of models/digits/<name>.npy.
CalibrationData digits_data(const std::string& file, int64_t batches) {
  return [=](const BatchVisitor& visit) -> Status {
    BS_ASSIGN_OR_RETURN(Tensor all, read_npy(test::repo_path("models/digits/" + file)));
    const int64_t row = all.numel() / all.dim(0);
    for (int64_t b = 0; b < batches && (b + 1) * 32 <= all.dim(0); ++b) {
      Shape shape = all.shape();
      shape[0] = 32;
      Tensor t(DType::kF32, shape, "x");
      std::copy(all.data<float>() + b * 32 * row, all.data<float>() + (b + 1) * 32 * row, t.mutable_data<float>());
      BS_TRY(visit({{"x", t}}));
    }
    return Status::ok();
  };
}

// Top-1 accuracy on models/digits/eval*.npy.
double accuracy(const Model& m, const std::string& file) {
  Expected<Tensor> x = read_npy(test::repo_path("models/digits/" + file));
  Expected<Tensor> labels = read_npy(test::repo_path("models/digits/eval_labels.npy"));
  EXPECT_TRUE(x.is_ok() && labels.is_ok());
  if (!x.is_ok() || !labels.is_ok()) return 0;
  x->set_name("x");
  const auto out = test::run_model(m, {{"x", *x}});
  if (out.empty()) return 0;
  const int64_t n = out[0].dim(0), classes = out[0].dim(1);
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = out[0].data<float>() + i * classes;
    const int64_t label = labels->dtype() == DType::kI64 ? labels->data<int64_t>()[i] : labels->data<int32_t>()[i];
    if (std::max_element(row, row + classes) - row == label) ++hits;
  }
  return static_cast<double>(hits) / static_cast<double>(n);
}

TEST(LowRankPass, DigitsModelsRunAndTheFactorsGetQuantized) {
  for (const auto& [file, data] : {std::pair<std::string, std::string>{"digits_mlp.onnx", "eval_flat.npy"},
                                   {"digits_cnn.onnx", "eval.npy"}}) {
    Expected<Model> m = read_onnx(test::repo_path("models/" + file));
    ASSERT_TRUE(m.is_ok()) << m.status().message();
    const double before = accuracy(*m, data);
    const json pipeline = json::parse(R"([{"pass": "fold-batchnorm"},
        {"pass": "low-rank", "options": {"energy": 0.9}, "scope": {"exclude": {"names": ["*head*"]}}},
        {"pass": "quantize", "options": {"activations": {"mode": "none"}}}])");
    auto pm = PassManager::from_json(pipeline);
    ASSERT_TRUE(pm.is_ok());
    PassManagerOptions o;
    o.num_threads = 1;
    ASSERT_TRUE(pm->run(*m, o).is_ok()) << file;
    const PassRecord& lr = pm->records().at(1);
    const PassRecord& q = pm->records().at(2);
    EXPECT_GE(lr.counter("layers_factorized"), 2) << file;
    EXPECT_LT(lr.counter("params_after"), lr.counter("params_before")) << file;
    // Every factor is a weight the quantize pass stored as int8.
    for (const TensorChange& t : lr.tensors) {
      bool quantized = false;
      for (const TensorChange& qt : q.tensors) quantized = quantized || (qt.tensor == t.result && qt.dtype_after == DType::kI8);
      EXPECT_TRUE(quantized) << file << ": factor " << t.result << " of " << t.tensor;
    }
    const double after = accuracy(*m, data);
    EXPECT_GT(after, before - 0.02) << file << ": top-1 " << before << " -> " << after;
  }
}

TEST(LowRankPass, SameFactorsAtOneAndTwoThreads) {
  auto factors = [](int threads) {
    Expected<Model> m = read_onnx(test::repo_path("models/digits_mlp.onnx"));
    EXPECT_TRUE(m.is_ok());
    PassRun r = low_rank(*m, {{"rank_by", "ratio"}, {"ratio", 0.25}, {"activation_aware", true}},
                     digits_data("calib_flat.npy", 8), threads);
    EXPECT_TRUE(r.status.is_ok()) << r.status.message();
    std::vector<Tensor> out;
    for (const Tensor& t : m->graph.initializers)
      if (t.name().find("_lowrank_") != std::string::npos) out.push_back(t);
    return out;
  };
  const std::vector<Tensor> one = factors(1), two = factors(2);
  ASSERT_EQ(one.size(), 6u);  // A and B of three Gemms
  ASSERT_EQ(two.size(), one.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].name(), two[i].name());
    EXPECT_TRUE(one[i].same_content(two[i])) << one[i].name();
  }
}

TEST(LowRankPass, BadOptionsNameTheirPointer) {
  auto error = [](const json& o) {
    auto p = create_pass("low-rank", o, "/pipeline/0/options");
    return p.is_ok() ? std::string() : p.status().message();
  };
  EXPECT_NE(error({{"energy", 0}}).find("/pipeline/0/options/energy: 0 is out of range (0, 1]"), std::string::npos);
  EXPECT_NE(error({{"energy", 1.5}}).find("/pipeline/0/options/energy"), std::string::npos);
  EXPECT_NE(error({{"ratio", 0}}).find("/pipeline/0/options/ratio"), std::string::npos);
  EXPECT_NE(error({{"rank_by", "fixed"}}).find("/pipeline/0/options/rank: rank_by \"fixed\" needs a rank"),
            std::string::npos);
  EXPECT_NE(error({{"rank", 4}}).find("only used with rank_by \"fixed\""), std::string::npos);
  EXPECT_NE(error({{"rank_by", "fixed"}, {"rank", 0}}).find("/pipeline/0/options/rank"), std::string::npos);
  EXPECT_NE(error({{"conv", "depthwise"}}).find("/pipeline/0/options/conv"), std::string::npos);
  EXPECT_EQ(error({{"rank_by", "error"}, {"max_error", 0.1}, {"activation_aware", true}}), "");
}

}  // namespace
}  // namespace bitsmith
