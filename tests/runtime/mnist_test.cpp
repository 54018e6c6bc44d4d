// End-to-end: the ONNX model zoo's MNIST CNN on all 10,000 MNIST test images.
//
// Expected accuracy 9891 / 10000 (98.91 %) is the independent measurement recorded in
// shared/data/onnx-mnist-cntk/PROVENANCE.md (numpy implementation of the same graph, raw pixel
// values 0..255 as input). Both serialisations of the model (opset 8 with initializers, opset 1
// with Constant nodes and legacy broadcast attributes) must reach it, and agree on every logit.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "bitsmith/io/idx.h"
#include "bitsmith/io/model_io.h"
#include "bitsmith/runtime/executor.h"

namespace bitsmith {
namespace {

const std::string kDataDir = BITSMITH_SOURCE_DIR "/../shared/data";
constexpr int64_t kExpectedCorrect = 9891;  // PROVENANCE.md: 98.91 % top-1

struct MnistData {
  Tensor images;  // u8 [N, 28, 28]
  Tensor labels;  // u8 [N]
};

MnistData load_mnist() {
  MnistData d;
  auto images = read_idx(kDataDir + "/mnist/t10k-images-idx3-ubyte.gz");
  auto labels = read_idx(kDataDir + "/mnist/t10k-labels-idx1-ubyte.gz");
  EXPECT_TRUE(images.is_ok()) << images.status().message();
  EXPECT_TRUE(labels.is_ok()) << labels.status().message();
  if (images.is_ok()) d.images = *images;
  if (labels.is_ok()) d.labels = *labels;
  return d;
}

// Images [first, first + count) as raw pixel values in f32 [count, 1, 28, 28].
Tensor batch_f32(const Tensor& images, int64_t first, int64_t count) {
  constexpr int64_t kPixels = 28 * 28;
  Tensor t(DType::kF32, {count, 1, 28, 28});
  const uint8_t* src = images.data<uint8_t>() + first * kPixels;
  float* dst = t.mutable_data<float>();
  for (int64_t i = 0; i < count * kPixels; ++i) dst[i] = static_cast<float>(src[i]);
  return t;
}

struct EvalResult {
  int64_t correct = 0;
  std::vector<float> logits;  // [N, 10]
  double seconds = 0;
};

// Runs `model_file` over every image in batches of `batch`; counts top-1 hits.
// num_threads 0 = all cores.
EvalResult evaluate(const std::string& model_file, const MnistData& data, int64_t batch, int num_threads) {
  EvalResult r;
  auto model = load_model(kDataDir + "/onnx-mnist-cntk/" + model_file);
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  if (!model.is_ok()) return r;
  ExecutorOptions opt;
  opt.dynamic_batch = batch > 1;
  opt.num_threads = num_threads;
  auto exec = Executor::create(*model, opt);
  EXPECT_TRUE(exec.is_ok()) << exec.status().message();
  if (!exec.is_ok()) return r;
  const std::string input = (*exec)->inputs().at(0).name;
  const int64_t n = data.images.dim(0);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < n; first += batch) {
    const int64_t count = std::min(batch, n - first);
    auto out = (*exec)->run({{input, batch_f32(data.images, first, count)}});
    EXPECT_TRUE(out.is_ok()) << model_file << " at image " << first << ": " << out.status().message();
    if (!out.is_ok()) return r;
    const Tensor& logits = (*out)[0];
    EXPECT_EQ(logits.shape(), (Shape{count, 10}));
    if (logits.shape() != Shape{count, 10}) return r;
    for (int64_t i = 0; i < count; ++i) {
      const float* row = logits.data<float>() + i * 10;
      r.logits.insert(r.logits.end(), row, row + 10);
      const int64_t predicted = std::max_element(row, row + 10) - row;
      if (predicted == data.labels.data<uint8_t>()[first + i]) ++r.correct;
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ mnist    ] %s batch %lld: %lld / %lld correct, %.2f s\n", model_file.c_str(),
              static_cast<long long>(batch), static_cast<long long>(r.correct), static_cast<long long>(n),
              r.seconds);
  return r;
}

TEST(Mnist, BothModelFilesReachThePublishedAccuracyAndAgree) {
  if (!std::filesystem::exists(kDataDir + "/mnist")) GTEST_SKIP() << "shared MNIST data not present";
  const MnistData data = load_mnist();
  ASSERT_TRUE(data.images.defined() && data.labels.defined());
  ASSERT_EQ(data.images.shape(), (Shape{10000, 28, 28}));
  ASSERT_EQ(data.labels.shape(), (Shape{10000}));

  // mnist-8's flatten uses Reshape [-1, 256]: batches work.
  const EvalResult batched = evaluate("mnist-8.onnx", data, 100, 0);
  EXPECT_EQ(batched.correct, kExpectedCorrect);
  // mnist-opset1's Reshape attribute is [1, 256]: one image per run (one thread: these tensors
  // are too small for threads to pay off).
  const EvalResult single = evaluate("mnist-opset1.onnx", data, 1, 1);
  EXPECT_EQ(single.correct, kExpectedCorrect);

  // Same weights, same maths: logits agree to float rounding (|logits| are O(10..100)).
  ASSERT_EQ(batched.logits.size(), single.logits.size());
  double max_diff = 0;
  for (size_t i = 0; i < batched.logits.size(); ++i)
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(batched.logits[i]) - single.logits[i]));
  std::printf("[ mnist    ] largest logit difference between the two files: %g\n", max_diff);
  EXPECT_LT(max_diff, 1e-3);
}

}  // namespace
}  // namespace bitsmith
