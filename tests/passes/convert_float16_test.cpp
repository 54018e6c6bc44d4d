// convert-float16 / convert-bfloat16: structure of the rewritten graphs, numerics against the
// float32 models in bitsmith's runtime (cnn_small, gpt_tiny, MNIST on 10,000 images), and ONNX
// Runtime interop (skipped only when node or onnxruntime-node is missing).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bitsmith/core/half.h"
#include "bitsmith/io/idx.h"
#include "bitsmith/io/model_io.h"
#include "bitsmith/io/npy.h"
#include "bitsmith/passes/registry.h"
#include "passes/pass_test_util.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using test::count_op;
using test::repo_path;
using test::run_model;
using test::run_pipeline;

const std::string kMnistDir = BITSMITH_SOURCE_DIR "/../shared/data";

Model load(const std::string& rel) {
  auto m = load_model(rel.rfind("/", 0) == 0 ? rel : repo_path(rel));
  EXPECT_TRUE(m.is_ok()) << m.status().message();
  return m.is_ok() ? std::move(m).value() : Model{};
}

// The record of the single pass in `pm`.
const PassRecord& record(const PassManager& pm) { return pm.records().at(0); }

// Largest |got - want| divided by the largest |want| (the "rtol" these tests use).
double rel_error(const Tensor& got, const Tensor& want) {
  return test::max_abs_diff(got, want) / std::max(test::max_abs(want), 1e-12);
}

// Names of Cast nodes whose input is produced by another Cast.
std::vector<std::string> back_to_back_casts(const Model& m) {
  std::vector<std::string> out;
  const auto producers = m.graph.producer_index();
  for (const Node& n : m.graph.nodes) {
    if (n.op_type != "Cast") continue;
    auto p = producers.find(n.inputs.at(0));
    if (p != producers.end() && m.graph.nodes[p->second].op_type == "Cast") out.push_back(n.name);
  }
  return out;
}

// dtype of every value (initializers, node outputs through Cast 'to', graph inputs) the tests need.
std::map<DType, int> initializer_dtypes(const Model& m) {
  std::map<DType, int> c;
  for (const Tensor& t : m.graph.initializers) ++c[t.dtype()];
  return c;
}

int64_t file_size(const Model& m, const std::string& name) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  EXPECT_TRUE(save_model(m, path).is_ok());
  const auto size = static_cast<int64_t>(std::filesystem::file_size(path));
  std::filesystem::remove(path);
  return size;
}

NamedTensors sample_feeds(const std::string& model_name, const Model& m) {
  auto x = read_npy(repo_path("models/" + model_name + ".input.npy"));
  EXPECT_TRUE(x.is_ok()) << x.status().message();
  return {{m.graph.runtime_inputs().at(0)->name, x.is_ok() ? *x : Tensor()}};
}

TEST(ConvertFloat16, CnnSmallStructureAndNumerics) {
  const Model f32 = load("models/cnn_small.onnx");
  Model m = f32;
  const PassManager pm = run_pipeline(m, R"([{"pass": "convert-float16"}])");
  ASSERT_TRUE(verify(m).is_ok());
  const PassRecord& r = record(pm);
  // I/O stays f32; every weight is f16, converted once.
  EXPECT_EQ(m.graph.inputs.at(0).type.elem_type, DType::kF32);
  EXPECT_EQ(m.graph.outputs.at(0).type.elem_type, DType::kF32);
  EXPECT_EQ(m.graph.outputs.at(0).name, f32.graph.outputs.at(0).name);
  EXPECT_EQ(initializer_dtypes(m), (std::map<DType, int>{{DType::kF16, 27}}));
  EXPECT_EQ(r.counter("initializers_converted"), 27);
  EXPECT_EQ(r.counter("nodes_converted"), static_cast<int64_t>(f32.graph.nodes.size()));
  // Exactly one Cast at the input and one at the output.
  EXPECT_EQ(count_op(m, "Cast"), 2);
  EXPECT_EQ(r.counter("casts_inserted"), 2);
  EXPECT_TRUE(back_to_back_casts(m).empty());
  EXPECT_EQ(r.counter("bytes_after") * 2, r.counter("bytes_before"));
  const int64_t before = file_size(f32, "bs_fp16_cnn_f32.onnx"), after = file_size(m, "bs_fp16_cnn_f16.onnx");
  std::printf("[ fp16     ] cnn_small: %lld -> %lld bytes\n", static_cast<long long>(before),
              static_cast<long long>(after));
  EXPECT_LT(after, before * 0.65);

  const NamedTensors feeds = sample_feeds("cnn_small", f32);
  const auto want = run_model(f32, feeds), got = run_model(m, feeds);
  ASSERT_EQ(got.size(), 1u);
  const double err = rel_error(got[0], want[0]);
  std::printf("[ fp16     ] cnn_small: max |f16 - f32| / max |f32| = %.3g\n", err);
  EXPECT_LT(err, 1e-2);
}

TEST(ConvertFloat16, GptTinyNumerics) {
  const Model f32 = load("models/gpt_tiny.onnx");
  Model m = f32;
  const PassManager pm = run_pipeline(m, R"([{"pass": "convert-float16"}])");
  ASSERT_TRUE(verify(m).is_ok());
  EXPECT_TRUE(back_to_back_casts(m).empty());
  const NamedTensors feeds = sample_feeds("gpt_tiny", f32);
  const auto want = run_model(f32, feeds), got = run_model(m, feeds);
  ASSERT_EQ(got.size(), 1u);
  const double err = rel_error(got[0], want[0]);
  std::printf("[ fp16     ] gpt_tiny: max |f16 - f32| / max |f32| = %.3g, casts %lld, bytes %lld -> %lld\n", err,
              static_cast<long long>(record(pm).counter("casts_inserted")),
              static_cast<long long>(record(pm).counter("bytes_before")),
              static_cast<long long>(record(pm).counter("bytes_after")));
  EXPECT_LT(err, 1e-2);
}

// x -> Relu -> Pow(., w2) -> ReduceSum -> Mul(., w) -> y: Pow and ReduceSum are blocked by
// default, so there are two f16 regions and one f32 region between them.
Model blocked_graph() {
  test::GraphBuilder b("blocked");
  b.input("x", DType::kF32, {2, 8})
      .initializer("w", std::vector<float>{0.5f, 1e-9f, 1e6f, -3.f}, {4, 1})
      .initializer("e", std::vector<float>{2.f}, {})
      .initializer("axes", std::vector<int64_t>{1}, {1})
      .node("Relu", {"x"}, {"r"}, {}, "relu")
      .node("Pow", {"r", "e"}, {"p"}, {}, "pow")
      .node("ReduceSum", {"p", "axes"}, {"s"}, {}, "sum")
      .node("Reshape", {"w", "shape"}, {"wr"}, {}, "reshape")
      .node("MatMul", {"s", "wr"}, {"y"}, {}, "mm")
      .output("y", DType::kF32, {2, 4});
  b.initializer("shape", std::vector<int64_t>{1, 4}, {2});
  return b.model(17);
}

const NodeSkip* find_skip(const PassRecord& r, const std::string& node) {
  for (const NodeSkip& s : r.skipped)
    if (s.node == node) return &s;
  return nullptr;
}

TEST(ConvertFloat16, BlockListKeepsOpsInFloat32WithCastsAtTheBoundaries) {
  Model m = blocked_graph();
  const Model f32 = m;
  const PassManager pm = run_pipeline(m, R"([{"pass": "convert-float16"}])");
  const PassRecord& r = record(pm);
  ASSERT_NE(find_skip(r, "pow"), nullptr);
  EXPECT_EQ(find_skip(r, "pow")->reason, "in block_ops");
  ASSERT_NE(find_skip(r, "sum"), nullptr);
  EXPECT_EQ(r.counter("nodes_converted"), 3);  // relu, reshape, mm
  // Casts: x->f16 (relu), relu->f32 (pow), sum->f16 (mm), mm->f32 (y). The exponent stays f32.
  EXPECT_EQ(count_op(m, "Cast"), 4);
  EXPECT_TRUE(back_to_back_casts(m).empty());
  EXPECT_EQ(m.graph.find_initializer("e")->dtype(), DType::kF32);
  const Tensor& w = *m.graph.find_initializer("w");
  ASSERT_EQ(w.dtype(), DType::kF16);
  // Clamping: 1e-9 -> min_positive_val (5.96e-8 rounds to the smallest subnormal), 1e6 -> 65504.
  EXPECT_EQ(f16_to_f32(w.data<uint16_t>()[1]), f16_to_f32(f32_to_f16(5.96e-8f)));
  EXPECT_EQ(f16_to_f32(w.data<uint16_t>()[2]), 65504.f);
  EXPECT_EQ(r.counter("values_clamped"), 2);

  // With an empty block list everything converts: only the I/O casts remain.
  Model all = f32;
  run_pipeline(all, R"([{"pass": "convert-float16", "options": {"block_ops": []}}])");
  EXPECT_EQ(count_op(all, "Cast"), 2);
  EXPECT_EQ(all.graph.find_initializer("e")->dtype(), DType::kF16);
}

TEST(ConvertFloat16, ScopeAndIoTypes) {
  // Excluding 'mm' by name keeps it (and only it) in f32.
  Model m = blocked_graph();
  const PassManager pm = run_pipeline(
      m, R"([{"pass": "convert-float16", "options": {"block_ops": []}, "scope": {"exclude": {"names": ["mm"]}}}])");
  ASSERT_NE(find_skip(record(pm), "mm"), nullptr);
  EXPECT_EQ(find_skip(record(pm), "mm")->reason, "outside the pass scope");
  EXPECT_EQ(m.graph.find_initializer("w")->dtype(), DType::kF16);  // read by reshape (converted)
  EXPECT_TRUE(back_to_back_casts(m).empty());

  // keep_io_types false: the graph input and output become f16, no I/O Casts.
  Model io = blocked_graph();
  run_pipeline(io, R"([{"pass": "convert-float16", "options": {"block_ops": [], "keep_io_types": false}}])");
  EXPECT_EQ(io.graph.inputs.at(0).type.elem_type, DType::kF16);
  EXPECT_EQ(io.graph.outputs.at(0).type.elem_type, DType::kF16);
  EXPECT_EQ(count_op(io, "Cast"), 0);
}

TEST(ConvertFloat16, CastChainsAreFolded) {
  // An existing f32 -> f16 -> f32 Cast pair disappears; x -> Cast(f32) (identity) is kept once.
  test::GraphBuilder b("casts");
  b.input("x", DType::kF32, {4})
      .node("Cast", {"x"}, {"h"}, {test::attr_int("to", 10)}, "to16")
      .node("Cast", {"h"}, {"f"}, {test::attr_int("to", 1)}, "to32")
      .node("Sigmoid", {"f"}, {"y"}, {}, "sig")
      .output("y", DType::kF32, {4});
  Model m = b.model(17);
  const PassManager pm = run_pipeline(m, R"([{"pass": "convert-float16", "options": {"block_ops": ["Cast"]}}])");
  EXPECT_TRUE(back_to_back_casts(m).empty());
  EXPECT_GT(record(pm).counter("casts_removed"), 0);
  const auto out = run_model(m, {{"x", Tensor::from_vector<float>({-1.f, 0.f, 0.5f, 3.f}, {4})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NEAR(out[0].data<float>()[3], 1.f / (1.f + std::exp(-3.f)), 1e-3);
}

TEST(ConvertFloat16, WeightOnlyStoresWeightsLowAndReadsThemThroughOneCastEach) {
  const Model f32 = load("models/gpt_tiny.onnx");
  for (const char* pass : {"convert-float16", "convert-bfloat16"}) {
    Model m = f32;
    const PassManager pm = run_pipeline(
        m, std::string(R"([{"pass": ")") + pass + R"(", "options": {"compute": "f32"}}])");
    const PassRecord& r = record(pm);
    EXPECT_EQ(r.counter("nodes_converted"), 0);
    EXPECT_GT(r.counter("initializers_converted"), 0);
    EXPECT_EQ(r.counter("casts_inserted"), r.counter("initializers_converted") + r.counter("constants_converted"));
    EXPECT_TRUE(back_to_back_casts(m).empty());
    EXPECT_LT(r.counter("bytes_after"), r.counter("bytes_before") * 0.55);
    const NamedTensors feeds = sample_feeds("gpt_tiny", f32);
    const auto want = run_model(f32, feeds), got = run_model(m, feeds);
    ASSERT_EQ(got.size(), 1u);
    const double err = rel_error(got[0], want[0]);
    std::printf("[ fp16     ] gpt_tiny %s weight-only: rel error %.3g, bytes %lld -> %lld\n", pass, err,
                static_cast<long long>(r.counter("bytes_before")), static_cast<long long>(r.counter("bytes_after")));
    EXPECT_LT(err, std::string(pass) == "convert-float16" ? 1e-2 : 3e-2);
  }
}

TEST(ConvertBfloat16, ComputeInBf16OnGptTinyAndNothingBelowOpset13) {
  const Model f32 = load("models/gpt_tiny.onnx");
  Model m = f32;
  const PassManager pm = run_pipeline(m, R"([{"pass": "convert-bfloat16", "options": {"compute": "bf16"}}])");
  EXPECT_GT(record(pm).counter("nodes_converted"), 0);
  EXPECT_TRUE(back_to_back_casts(m).empty());
  const NamedTensors feeds = sample_feeds("gpt_tiny", f32);
  const auto want = run_model(f32, feeds), got = run_model(m, feeds);
  ASSERT_EQ(got.size(), 1u);
  const double err = rel_error(got[0], want[0]);
  std::printf("[ fp16     ] gpt_tiny bf16 compute: rel error %.3g\n", err);
  EXPECT_LT(err, 5e-2);

  // cnn_small is opset 13: bf16 Conv needs opset 22, so Convs stay f32 with that reason.
  Model cnn = load("models/cnn_small.onnx");
  const PassManager pc = run_pipeline(cnn, R"([{"pass": "convert-bfloat16", "options": {"compute": "bf16"}}])");
  bool conv_reason = false;
  for (const NodeSkip& s : record(pc).skipped)
    conv_reason = conv_reason || (s.op == "Conv" && s.reason.find("from opset 22") != std::string::npos);
  EXPECT_TRUE(conv_reason);

  if (!std::filesystem::exists(kMnistDir + "/onnx-mnist-cntk/mnist-8.onnx")) return;
  Model mnist = load(kMnistDir + "/onnx-mnist-cntk/mnist-8.onnx");
  const Model before = mnist;
  const PassManager pn = run_pipeline(mnist, R"([{"pass": "convert-bfloat16"}])");
  ASSERT_EQ(record(pn).notes.size(), 1u);
  EXPECT_NE(record(pn).notes[0].find("opset 8"), std::string::npos);
  EXPECT_EQ(print_model(mnist), print_model(before));
}

TEST(ConvertFloat16, BadOptionsAreRefused) {
  auto p = create_pass("convert-float16", nlohmann::json{{"max_finite_val", 1e6}});
  EXPECT_FALSE(p.is_ok());
  auto q = create_pass("convert-float16", nlohmann::json{{"min_positive_val", 10.0}, {"max_finite_val", 1.0}});
  ASSERT_FALSE(q.is_ok());
  EXPECT_NE(q.status().message().find("must be below max_finite_val"), std::string::npos);
  EXPECT_FALSE(create_pass("convert-bfloat16", nlohmann::json{{"compute", "f16"}}).is_ok());
}

// ---- ONNX Runtime interop ----

bool ort_available() {
  static const bool ok = std::system(("cd '" + repo_path("") +
                                      "' && node -e \"require('onnxruntime-node')\" >/dev/null 2>&1").c_str()) == 0;
  return ok;
}

// Runs `model` in ONNX Runtime (scripts/ort_run.js) at `opt_level`; outputs in graph order.
// Fails the test (empty result) when ORT refuses the model, with ORT's message.
std::vector<Tensor> run_ort(const Model& model, const NamedTensors& feeds, const std::string& opt_level,
                            const std::string& tag) {
  const auto dir = std::filesystem::temp_directory_path() / ("bs_fp16_ort_" + tag + "_" + opt_level);
  std::filesystem::create_directories(dir);
  const std::string model_path = (dir / "model.onnx").string();
  EXPECT_TRUE(save_model(model, model_path).is_ok());
  std::string cmd = "cd '" + repo_path("") + "' && node scripts/ort_run.js '" + model_path + "'";
  for (size_t k = 0; k < feeds.size(); ++k) {
    const std::string f = (dir / ("in" + std::to_string(k) + ".npy")).string();
    EXPECT_TRUE(write_npy(feeds[k].second, f).is_ok());
    cmd += " --input '" + feeds[k].first + "=" + f + "'";
  }
  const std::string err_file = (dir / "stderr.txt").string();
  cmd += " --output-dir '" + dir.string() + "' --opt-level " + opt_level + " >/dev/null 2>'" + err_file + "'";
  std::vector<Tensor> out;
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << "ONNX Runtime (" << opt_level << ") failed on " << tag << ": " << test::read_text(err_file);
  } else {
    for (const ValueInfo& o : model.graph.outputs) {
      std::string safe = o.name;
      for (char& c : safe)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
      auto t = read_npy((dir / (safe + ".npy")).string());
      EXPECT_TRUE(t.is_ok()) << t.status().message();
      if (t.is_ok()) out.push_back(*t);
    }
  }
  std::filesystem::remove_all(dir);
  return out;
}

// The converted model runs in ORT at default and disabled optimization, matching bitsmith's
// runtime on the same file within 1e-2 of the output's largest magnitude.
void check_ort_agreement(const Model& converted, const NamedTensors& feeds, const std::string& tag) {
  const auto ours = run_model(converted, feeds);
  ASSERT_FALSE(ours.empty());
  for (const char* level : {"all", "disabled"}) {
    const auto theirs = run_ort(converted, feeds, level, tag);
    ASSERT_EQ(theirs.size(), ours.size()) << tag << " " << level;
    for (size_t k = 0; k < ours.size(); ++k) {
      const double err = rel_error(ours[k], theirs[k]);
      std::printf("[ fp16     ] ORT %-8s %-18s output %zu: max |bitsmith - ORT| / max |ORT| = %.3g\n", level,
                  tag.c_str(), k, err);
      EXPECT_LT(err, 1e-2) << tag << " " << level;
    }
  }
}

// Image 0 of the MNIST test set as mnist-8's input [1, 1, 28, 28] (raw pixels 0..255).
Tensor mnist_images(int64_t first, int64_t count);

TEST(ConvertFloat16Ort, ConvertedModelsRunInOnnxRuntime) {
  if (!ort_available()) GTEST_SKIP() << "node or onnxruntime-node is missing";
  for (const std::string name : {"cnn_small", "gpt_tiny"}) {
    Model m = load("models/" + name + ".onnx");
    const NamedTensors feeds = sample_feeds(name, m);
    run_pipeline(m, R"([{"pass": "convert-float16"}])");
    check_ort_agreement(m, feeds, name + "-f16");
  }
  if (!std::filesystem::exists(kMnistDir + "/mnist")) return;
  Model mnist = load(kMnistDir + "/onnx-mnist-cntk/mnist-8.onnx");
  run_pipeline(mnist, R"([{"pass": "convert-float16"}])");
  check_ort_agreement(mnist, {{"Input3", mnist_images(0, 1)}}, "mnist-8-f16");
}

TEST(ConvertFloat16Ort, WeightOnlyBfloat16RunsInOnnxRuntime) {
  if (!ort_available()) GTEST_SKIP() << "node or onnxruntime-node is missing";
  for (const std::string name : {"cnn_small", "gpt_tiny"}) {
    Model m = load("models/" + name + ".onnx");
    const NamedTensors feeds = sample_feeds(name, m);
    run_pipeline(m, R"([{"pass": "convert-bfloat16"}])");
    check_ort_agreement(m, feeds, name + "-bf16w");
  }
}

// ---- MNIST: fp16 top-1 against f32 on all 10,000 test images ----

Tensor mnist_images(int64_t first, int64_t count) {
  static const Expected<Tensor> images = read_idx(kMnistDir + "/mnist/t10k-images-idx3-ubyte.gz");
  EXPECT_TRUE(images.is_ok()) << images.status().message();
  Tensor t(DType::kF32, {count, 1, 28, 28});
  if (!images.is_ok()) return t;
  const uint8_t* src = images->data<uint8_t>() + first * 28 * 28;
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data<float>()[i] = static_cast<float>(src[i]);
  return t;
}

int64_t mnist_correct(const Model& model, const Tensor& labels) {
  ExecutorOptions o;
  o.dynamic_batch = true;
  auto exec = Executor::create(model, o);
  EXPECT_TRUE(exec.is_ok()) << exec.status().message();
  if (!exec.is_ok()) return -1;
  int64_t correct = 0;
  const int64_t n = labels.numel(), batch = 1000;
  for (int64_t first = 0; first < n; first += batch) {
    auto out = (*exec)->run({{"Input3", mnist_images(first, std::min(batch, n - first))}});
    EXPECT_TRUE(out.is_ok()) << out.status().message();
    if (!out.is_ok()) return -1;
    const Tensor& logits = (*out)[0];
    for (int64_t i = 0; i < logits.dim(0); ++i) {
      const float* row = logits.data<float>() + i * 10;
      correct += std::max_element(row, row + 10) - row == labels.data<uint8_t>()[first + i];
    }
  }
  return correct;
}

TEST(ConvertFloat16, MnistTop1DropAtMostFiveHundredthsOfAPoint) {
  if (!std::filesystem::exists(kMnistDir + "/mnist")) GTEST_SKIP() << "shared MNIST data not present";
  auto labels = read_idx(kMnistDir + "/mnist/t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(labels.is_ok()) << labels.status().message();
  const Model f32 = load(kMnistDir + "/onnx-mnist-cntk/mnist-8.onnx");
  Model f16 = f32;
  const PassManager pm = run_pipeline(f16, R"([{"pass": "convert-float16"}])");
  EXPECT_EQ(initializer_dtypes(f16)[DType::kF32], 0);
  const int64_t a = mnist_correct(f32, *labels), b = mnist_correct(f16, *labels);
  const double drop = (a - b) / 100.0;  // points of top-1 accuracy over 10,000 images
  std::printf("[ fp16     ] mnist-8: f32 %lld / 10000, f16 %lld / 10000, drop %.2f pt; file %lld -> %lld bytes\n",
              static_cast<long long>(a), static_cast<long long>(b), drop,
              static_cast<long long>(file_size(f32, "bs_fp16_mnist_f32.onnx")),
              static_cast<long long>(file_size(f16, "bs_fp16_mnist_f16.onnx")));
  EXPECT_GT(a, 9800);
  EXPECT_LE(drop, 0.05);
}

}  // namespace
}  // namespace bitsmith
