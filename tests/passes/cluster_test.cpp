// cluster pass (weight sharing): k-means against its init and across bit widths, at most 2^bits
// values per codebook in the decoded weights (decoded independently by fold-constants, i.e. the
// runtime's Cast/Add/Gather), pruned zeros kept exactly zero after `prune`, per-channel-group
// codebooks, the least-squares refit lowering the output error, digits_mlp top-1 at 4 bits,
// determinism across thread counts, and bad options / missing data.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "bitsmith/io/model_io.h"
#include "bitsmith/io/npy.h"
#include "bitsmith/passes/registry.h"
#include "bitsmith/report/evaluate.h"
#include "passes/cluster_impl.h"
#include "passes/graph_util.h"
#include "passes/pass_test_util.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using nlohmann::json;
using test::GraphBuilder;
using namespace cluster_detail;  // NOLINT(google-build-using-namespace): the pass internals under test

// x [N, 16] -> MatMul(a [16, 12]) -> Relu -> Gemm(b [10, 12], transB) -> y;
// z [N, 2, 5, 5] -> Conv(c [6, 2, 3, 3], pads 1) -> u
Model three_layers() {
  GraphBuilder g;
  g.input("x", DType::kF32, {"N", 16})
      .input("z", DType::kF32, {"N", 2, 5, 5})
      .initializer("a", test::random_values(16 * 12, 21), {16, 12})
      .initializer("b", test::random_values(10 * 12, 22), {10, 12})
      .initializer("c", test::random_values(6 * 2 * 3 * 3, 23), {6, 2, 3, 3})
      .node("MatMul", {"x", "a"}, {"h"}, {}, "mm")
      .node("Relu", {"h"}, {"r"}, {}, "relu")
      .node("Gemm", {"r", "b"}, {"y"}, {test::attr_int("transB", 1)}, "gemm")
      .node("Conv", {"z", "c"}, {"u"}, {test::ints("pads", {1, 1, 1, 1})}, "conv")
      .output("y", DType::kF32, {"N", 10})
      .output("u", DType::kF32, {"N", 6, 5, 5});
  return g.model();
}

NamedTensors three_layer_feeds(uint32_t seed, int64_t n = 8) {
  return {{"x", Tensor::from_vector<float>(test::random_values(static_cast<size_t>(n * 16), seed), {n, 16}, "x")},
          {"z", Tensor::from_vector<float>(test::random_values(static_cast<size_t>(n * 50), seed + 7), {n, 2, 5, 5},
                                           "z")}};
}

struct PipelineRun {
  Status status;
  std::vector<PassRecord> records;
};

PipelineRun run(Model& m, const json& pipeline, CalibrationData data = {}, int threads = 1, uint64_t seed = 0) {
  PipelineRun r;
  auto pm = PassManager::from_json(pipeline);
  if (!pm) {
    r.status = pm.status();
    return r;
  }
  PassManagerOptions o;
  o.num_threads = threads;
  o.seed = seed;
  o.calibration = std::move(data);
  r.status = pm->run(m, o);
  r.records = pm->records();
  return r;
}

json cluster_step(const json& options) { return json::array({{{"pass", "cluster"}, {"options", options}}}); }

// The weight node `node` reads, computed by the runtime's kernels: the clustered model with its
// constant Cast/Add/Gather chains folded into initializers.
Tensor decoded_weight(const Model& clustered, const std::string& node) {
  Model m = clustered;
  PipelineRun r = run(m, json::array({{{"pass", "fold-constants"}}}));
  EXPECT_TRUE(r.status.is_ok()) << r.status.message();
  for (const Node& n : m.graph.nodes)
    if (n.name == node) {
      const Tensor* t = m.graph.find_initializer(n.inputs.at(1));
      EXPECT_NE(t, nullptr) << "weight of " << node << " was not folded";
      return t ? *t : Tensor();
    }
  ADD_FAILURE() << "no node " << node;
  return {};
}

std::set<float> distinct(const float* p, int64_t n) { return std::set<float>(p, p + n); }

TEST(ClusterKMeans, LloydNeverWorseThanItsInitAndMoreBitsLowerError) {
  const std::vector<float> values = test::random_values(4000, 5);
  for (ClusterInit init : {ClusterInit::kLinear, ClusterInit::kKMeansPlusPlus, ClusterInit::kDensity}) {
    SCOPED_TRACE(init_name(init));
    double previous = INFINITY;
    for (int bits = 1; bits <= 8; ++bits) {
      std::mt19937_64 rng(7);
      const Codebook cb = fit_codebook(values, 1 << bits, init, 30, rng);
      ASSERT_EQ(cb.assign.size(), values.size());
      EXPECT_LE(cb.sse, cb.init_sse) << bits << " bits";
      EXPECT_GE(cb.iterations_run, 1);
      EXPECT_FALSE(cb.zero_fixed);
      // The reported SSE is the SSE of the assignments returned.
      double sse = 0;
      for (size_t i = 0; i < values.size(); ++i) sse += std::pow(values[i] - cb.centroids[cb.assign[i]], 2);
      EXPECT_NEAR(sse, cb.sse, 1e-9 * (1 + sse));
      EXPECT_LT(cb.sse, previous) << bits << " bits";
      previous = cb.sse;
    }
  }
  // Lloyd did something: on uniform data the linear init is near optimal, on skewed data it is not.
  std::vector<float> skewed = values;
  for (float& v : skewed) v = v * v * v;
  std::mt19937_64 rng(1);
  const Codebook cb = fit_codebook(skewed, 16, ClusterInit::kLinear, 30, rng);
  EXPECT_LT(cb.sse, 0.9 * cb.init_sse);
}

TEST(ClusterKMeans, ZerosAreAFixedCentroidAndTiesGoToTheLowerIndex) {
  std::vector<float> v = {0.f, 0.f, 1.f, 2.f, 3.f, 0.f, 10.f};
  std::mt19937_64 rng(0);
  const Codebook cb = fit_codebook(v, 4, ClusterInit::kLinear, 30, rng);
  ASSERT_TRUE(cb.zero_fixed);
  EXPECT_EQ(cb.centroids[0], 0.0);
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == 0) {
      EXPECT_EQ(cb.assign[i], 0);
    }
  }
  // Two centroids {1, 3} and a value at 2: equidistant, the lower index wins.
  const std::vector<float> tie = {1.f, 2.f, 3.f};
  const Codebook t = fit_codebook(tie, 2, ClusterInit::kLinear, 0, rng);
  EXPECT_EQ(t.centroids, (std::vector<double>{1.0, 3.0}));
  EXPECT_EQ(t.assign, (std::vector<uint8_t>{0, 0, 1}));
}

TEST(ClusterPass, DecodedWeightsTakeAtMostTwoToTheBitsValues) {
  for (int bits : {2, 3, 4}) {
    SCOPED_TRACE(bits);
    const Model orig = three_layers();
    Model m = orig;
    PipelineRun r = run(m, cluster_step({{"bits", bits}}));
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    const PassRecord& rec = r.records.at(0);
    EXPECT_EQ(rec.counter("weights_clustered"), 3);
    EXPECT_EQ(rec.counter("centroids"), 3 << bits);
    EXPECT_EQ(test::count_op(m, "Gather"), 3);
    EXPECT_EQ(test::count_op(m, "Cast"), 3);
    EXPECT_EQ(m.graph.find_initializer("a"), nullptr);
    const Tensor* idx = m.graph.find_initializer("a_indices");
    ASSERT_NE(idx, nullptr);
    EXPECT_EQ(idx->dtype(), DType::kU8);
    EXPECT_EQ(idx->shape(), (Shape{16, 12}));
    ASSERT_EQ(rec.tensors.size(), 3u);
    for (const auto& [node, name] : {std::pair{"mm", "a"}, {"gemm", "b"}, {"conv", "c"}}) {
      const Tensor w = decoded_weight(m, node);
      const Tensor& w0 = *orig.graph.find_initializer(name);
      ASSERT_EQ(w.shape(), w0.shape());
      EXPECT_LE(distinct(w.data<float>(), w.numel()).size(), size_t{1} << bits) << name;
      EXPECT_GT(distinct(w.data<float>(), w.numel()).size(), size_t{1} << (bits - 1)) << name;
      // The recorded error is the error of what the graph decodes.
      const auto it = std::find_if(rec.tensors.begin(), rec.tensors.end(),
                                   [&](const TensorChange& t) { return t.tensor == name; });
      ASSERT_NE(it, rec.tensors.end());
      EXPECT_NEAR(it->max_abs_err, test::max_abs_diff(w, w0), 1e-6) << name;
      EXPECT_EQ(it->bytes_before, static_cast<int64_t>(w0.nbytes()));
      EXPECT_EQ(it->bytes_after, w0.numel() + 4 * (int64_t{1} << bits));
    }
    // The model runs, close to the float one.
    const NamedTensors feeds = three_layer_feeds(3);
    const auto want = test::run_model(orig, feeds), got = test::run_model(m, feeds);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_LT(test::max_abs_diff(got[0], want[0]), 0.5 * test::max_abs(want[0]));
  }
}

TEST(ClusterPass, MoreBitsLowerError) {
  double previous = -INFINITY;
  for (int bits = 2; bits <= 8; ++bits) {
    Model m = three_layers();
    PipelineRun r = run(m, cluster_step({{"bits", bits}, {"init", "density"}}));
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    double sqnr = 0;
    for (const TensorChange& t : r.records[0].tensors) sqnr += t.sqnr_db;
    EXPECT_GT(sqnr, previous) << bits << " bits";
    previous = sqnr;
  }
}

TEST(ClusterPass, PrunedZerosStayExactlyZero) {
  const Model orig = three_layers();
  Model pruned = orig;
  ASSERT_TRUE(run(pruned, json::array({{{"pass", "prune"}, {"options", {{"sparsity", 0.6}}}}})).status.is_ok());
  Model m = orig;
  const json pipeline = json::array({{{"pass", "prune"}, {"options", {{"sparsity", 0.6}}}},
                                     {{"pass", "cluster"}, {"options", {{"bits", 2}, {"init", "kmeans++"}}}}});
  PipelineRun r = run(m, pipeline);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  for (const auto& [node, name] : {std::pair{"mm", "a"}, {"gemm", "b"}, {"conv", "c"}}) {
    const Tensor& p = *pruned.graph.find_initializer(name);
    const Tensor w = decoded_weight(m, node);
    int64_t zeros = 0;
    for (int64_t i = 0; i < p.numel(); ++i)
      if (p.data<float>()[i] == 0.f) {
        ++zeros;
        EXPECT_EQ(w.data<float>()[i], 0.f) << name << "[" << i << "]";
      }
    EXPECT_GE(zeros, p.numel() / 2) << name;
    EXPECT_LE(distinct(w.data<float>(), w.numel()).size(), 4u);  // zero + 3 free centroids
    EXPECT_TRUE(distinct(w.data<float>(), w.numel()).count(0.f));
  }
  EXPECT_NE(r.records.at(1).tensors.at(0).how.find("zeros kept"), std::string::npos);
}

TEST(ClusterPass, PerChannelGroupCodebooks) {
  const Model orig = three_layers();
  Model m = orig;
  // a [16, 12]: 12 output channels (axis 1) in groups of 5, 5, 2.
  PipelineRun r = run(m, cluster_step({{"bits", 2}, {"granularity", "per-channel-group"}, {"group_size", 5}}));
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(test::count_op(m, "Add"), 3);
  const Tensor* off = m.graph.find_initializer("a_offsets");
  ASSERT_NE(off, nullptr);
  EXPECT_EQ(off->shape(), (Shape{1, 12}));
  const Tensor w = decoded_weight(m, "mm");
  std::set<float> all;
  for (int64_t g0 = 0; g0 < 12; g0 += 5) {
    std::set<float> group;
    for (int64_t k = 0; k < 16; ++k)
      for (int64_t n = g0; n < std::min<int64_t>(12, g0 + 5); ++n) group.insert(w.data<float>()[k * 12 + n]);
    EXPECT_LE(group.size(), 4u) << "group at " << g0;
    all.insert(group.begin(), group.end());
  }
  EXPECT_GT(all.size(), 4u);
  // Conv c [6, 2, 3, 3]: offsets broadcast over axis 0.
  const Tensor* coff = m.graph.find_initializer("c_offsets");
  ASSERT_NE(coff, nullptr);
  EXPECT_EQ(coff->shape(), (Shape{6, 1, 1, 1}));
  // Finer codebooks fit better.
  Model t = orig;
  PipelineRun rt = run(t, cluster_step({{"bits", 2}}));
  ASSERT_TRUE(rt.status.is_ok());
  EXPECT_GT(r.records[0].tensors[0].sqnr_db, rt.records[0].tensors[0].sqnr_db);
}

// Output error on `feeds` of y (the MatMul/Gemm branch), summed squares.
double output_sse(const Model& m, const Model& ref, const NamedTensors& feeds) {
  const auto a = test::run_model(m, feeds), b = test::run_model(ref, feeds);
  double s = 0;
  for (int64_t i = 0; i < a.at(0).numel(); ++i) s += std::pow(a[0].data<float>()[i] - b[0].data<float>()[i], 2);
  return s;
}

TEST(ClusterPass, RefitLowersTheLayerOutputError) {
  // One MatMul: the model's output error is exactly the refit objective of its codebook.
  GraphBuilder g;
  g.input("x", DType::kF32, {"N", 16})
      .initializer("a", test::random_values(16 * 12, 31), {16, 12})
      .node("MatMul", {"x", "a"}, {"y"}, {}, "mm")
      .output("y", DType::kF32, {"N", 12});
  const Model orig = g.model();
  // Correlated, unevenly scaled inputs, so the output error differs from the weight error.
  std::vector<float> xs = test::random_values(64 * 16, 32);
  for (int64_t r = 0; r < 64; ++r)
    for (int64_t c = 0; c < 16; ++c) xs[r * 16 + c] = xs[r * 16 + c] * static_cast<float>(c + 1) + xs[r * 16];
  const NamedTensors feeds = {{"x", Tensor::from_vector<float>(xs, {64, 16}, "x")}};
  CalibrationData data = [&](const BatchVisitor& visit) { return visit(feeds); };
  Model plain = orig, refit = orig;
  ASSERT_TRUE(run(plain, cluster_step({{"bits", 2}})).status.is_ok());
  PipelineRun r = run(refit, cluster_step({{"bits", 2}, {"refit", true}}), data);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_GT(r.records[0].counter("centroids_refit"), 0);
  const double before = output_sse(plain, orig, feeds), after = output_sse(refit, orig, feeds);
  EXPECT_LT(after, before) << "refit " << after << " vs k-means " << before;
  // The refit centroids minimise the (quadratic) output error: moving any one either way is worse.
  const Tensor cb = *refit.graph.find_initializer("a_codebook");
  ASSERT_EQ(cb.numel(), 4);
  for (int64_t j = 0; j < cb.numel(); ++j)
    for (float step : {-0.02f, 0.02f}) {
      Tensor moved = cb.clone();
      moved.set_name("a_codebook");
      moved.mutable_data<float>()[j] += step;
      Model m = refit;
      passes_detail::set_initializer(m.graph, moved);
      EXPECT_GT(output_sse(m, orig, feeds), after) << "centroid " << j << " moved by " << step;
    }
  // Still at most 4 values.
  const Tensor w = decoded_weight(refit, "mm");
  EXPECT_LE(distinct(w.data<float>(), w.numel()).size(), 4u);

  // Without data: an error naming the pass.
  Model nodata = orig;
  PipelineRun e = run(nodata, cluster_step({{"refit", true}}));
  ASSERT_FALSE(e.status.is_ok());
  EXPECT_EQ(e.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status.message().find("cluster"), std::string::npos) << e.status.message();
}

TEST(ClusterPass, SameResultAtOneAndTwoThreads) {
  const json pipeline = cluster_step({{"bits", 3},
                                      {"init", "kmeans++"},
                                      {"granularity", "per-channel-group"},
                                      {"group_size", 3},
                                      {"refit", true}});
  CalibrationData data = [](const BatchVisitor& visit) -> Status {
    for (uint32_t k = 0; k < 2; ++k) BS_TRY(visit(three_layer_feeds(40 + k)));
    return Status::ok();
  };
  Model one = three_layers(), two = three_layers(), other_seed = three_layers();
  ASSERT_TRUE(run(one, pipeline, data, 1, 5).status.is_ok());
  ASSERT_TRUE(run(two, pipeline, data, 2, 5).status.is_ok());
  ASSERT_TRUE(run(other_seed, pipeline, data, 1, 6).status.is_ok());
  bool seed_matters = false;
  for (const char* name : {"a_indices", "a_codebook", "b_indices", "b_codebook", "c_indices", "c_codebook"}) {
    ASSERT_NE(one.graph.find_initializer(name), nullptr) << name;
    EXPECT_TRUE(one.graph.find_initializer(name)->same_content(*two.graph.find_initializer(name))) << name;
    seed_matters = seed_matters || !one.graph.find_initializer(name)->same_content(*other_seed.graph.find_initializer(name));
  }
  EXPECT_TRUE(seed_matters) << "kmeans++ should draw from the pipeline's seeded RNG";
}

TEST(ClusterPass, BadOptionsNameThePointer) {
  for (const json& o : {json{{"bits", 0}}, json{{"bits", 9}}, json{{"group_size", 0}}, json{{"init", "random"}},
                        json{{"granularity", "per-channel"}}}) {
    auto pm = PassManager::from_json(cluster_step(o), "/pipeline");
    ASSERT_FALSE(pm.is_ok()) << o.dump();
    EXPECT_NE(pm.status().message().find("/pipeline/0/options/" + o.begin().key()), std::string::npos)
        << pm.status().message();
  }
}

TEST(ClusterPass, SkipsWhatItCannotCluster) {
  GraphBuilder g;
  g.input("x", DType::kF32, {"N", 4})
      .input("wi", DType::kF32, {4, 4})
      .initializer("s", test::random_values(16, 3), {4, 4})
      .node("MatMul", {"x", "wi"}, {"h"}, {}, "input_weight")
      .node("MatMul", {"h", "s"}, {"h2"}, {}, "shared1")
      .node("MatMul", {"h2", "s"}, {"y"}, {}, "shared2")
      .output("y", DType::kF32, {"N", 4});
  Model m = g.model();
  PipelineRun r = run(m, cluster_step(json::object()));
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.records[0].counter("weights_clustered"), 0);
  EXPECT_EQ(r.records[0].skipped.size(), 2u);  // the graph-input weight is not a weighted layer
  EXPECT_NE(m.graph.find_initializer("s"), nullptr);
}

TEST(ClusterPass, DigitsMlpAtFourBitsKeepsTop1) {
  const std::string model_path = test::repo_path("models/digits_mlp.onnx");
  if (!std::filesystem::exists(model_path)) GTEST_SKIP() << model_path << " not present";
  auto model = load_model(model_path);
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  auto data = read_npy(test::repo_path("models/digits/eval_flat.npy"));
  auto labels = read_npy(test::repo_path("models/digits/eval_labels.npy"));
  ASSERT_TRUE(data.is_ok() && labels.is_ok());
  Model m = *model;
  PipelineRun r = run(m, cluster_step({{"bits", 4}}));
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.records[0].counter("weights_clustered"), 3);
  EvalOptions eo;
  eo.progress = false;
  eo.batch = 128;
  auto top1 = [&](const Model& mm) {
    ExecutorOptions xo;
    xo.num_threads = 1;
    auto exec = Executor::create(mm, xo);
    EXPECT_TRUE(exec.is_ok()) << exec.status().message();
    auto res = evaluate(**exec, *data, &*labels, nullptr, eo);
    EXPECT_TRUE(res.is_ok()) << res.status().message();
    return res.is_ok() && res->accuracy ? res->accuracy->top1 : 0.0;
  };
  const double base = top1(*model), clustered = top1(m);
  RecordProperty("top1_float", std::to_string(base));
  RecordProperty("top1_cluster4", std::to_string(clustered));
  EXPECT_GT(base, 0.9);
  EXPECT_GE(clustered, base - 0.01) << "float " << base << ", 4-bit clustered " << clustered;
}

}  // namespace
}  // namespace bitsmith
