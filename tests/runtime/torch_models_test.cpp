// The project's own PyTorch-exported models (models/make_models.py) run by the Executor and
// compared with the outputs PyTorch computed for the same inputs (models/<name>.torch_out.npy).
// Bar: max |executor - torch| <= 1e-4 on every output element (float32 end to end, so the only
// differences are summation order and transcendental-function rounding).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "bitsmith/io/npy.h"
#include "bitsmith/io/onnx.h"
#include "bitsmith/runtime/executor.h"

namespace bitsmith {
namespace {

constexpr double kMaxAbsError = 1e-4;

std::string model_path(const std::string& name, const std::string& suffix) {
  return std::string(BITSMITH_SOURCE_DIR) + "/models/" + name + suffix;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

// The first `rows` entries along dim 0 of `t`, as a new tensor.
Tensor leading_rows(const Tensor& t, int64_t rows) {
  Shape shape = t.shape();
  const size_t row_bytes = t.nbytes() / static_cast<size_t>(shape[0]);
  shape[0] = rows;
  Tensor out(t.dtype(), shape, t.name());
  std::memcpy(out.mutable_bytes(), t.bytes(), row_bytes * static_cast<size_t>(rows));
  return out;
}

// Checks dtype/shape equality and max |got - want| <= kMaxAbsError; failure messages name the
// model, the shapes and the worst element.
void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype(), DType::kF32) << what << ": output dtype " << dtype_name(got.dtype());
  ASSERT_EQ(want.dtype(), DType::kF32) << what << ": reference dtype " << dtype_name(want.dtype());
  ASSERT_EQ(got.shape(), want.shape())
      << what << ": output shape " << shape_str(got.shape()) << ", torch's " << shape_str(want.shape());
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  double worst = 0;
  int64_t worst_index = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double err = std::fabs(static_cast<double>(g[i]) - static_cast<double>(w[i]));
    if (!(err <= worst)) {  // also catches NaN
      worst = std::isnan(err) ? INFINITY : err;
      worst_index = i;
    }
  }
  std::ostringstream worst_str;
  worst_str << worst;
  ::testing::Test::RecordProperty("max_abs_error", worst_str.str());
  EXPECT_LE(worst, kMaxAbsError) << what << " " << shape_str(got.shape()) << ": worst at flat index "
                                 << worst_index << ": got " << g[worst_index] << ", torch " << w[worst_index];
}

struct Loaded {
  Model model;
  Tensor input;
  Tensor expected;
};

Loaded load(const std::string& name) {
  Loaded l;
  auto model = read_onnx(model_path(name, ".onnx"));
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  auto input = read_npy(model_path(name, ".input.npy"));
  EXPECT_TRUE(input.is_ok()) << input.status().message();
  auto expected = read_npy(model_path(name, ".torch_out.npy"));
  EXPECT_TRUE(expected.is_ok()) << expected.status().message();
  if (model && input && expected) {
    l.model = std::move(model).value();
    l.input = std::move(input).value();
    l.expected = std::move(expected).value();
  }
  return l;
}

// Runs `model` on `input` (fed to its only runtime input); returns the only output.
Expected<Tensor> run_one(const Model& model, const Tensor& input, int num_threads) {
  ExecutorOptions options;
  options.num_threads = num_threads;
  BS_ASSIGN_OR_RETURN(auto exec, Executor::create(model, options));
  if (exec->inputs().size() != 1 || exec->outputs().size() != 1) {
    return internal_error("expected one input and one output, the model has " +
                          std::to_string(exec->inputs().size()) + " and " +
                          std::to_string(exec->outputs().size()));
  }
  BS_ASSIGN_OR_RETURN(auto outputs, exec->run({{exec->inputs()[0].name, input}}));
  return outputs.at(0);
}

class TorchModel : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchModel, MatchesTorchOutputs) {
  const std::string name = GetParam();
  Loaded l = load(name);
  ASSERT_FALSE(HasFailure());
  auto out = run_one(l.model, l.input, 1);
  ASSERT_TRUE(out.is_ok()) << name << ": " << out.status().message();
  expect_close(*out, l.expected, name);
}

// The same model at another batch size (the batch axis is dynamic) gives the same rows.
TEST_P(TorchModel, BatchOfOneMatchesFirstRow) {
  const std::string name = GetParam();
  Loaded l = load(name);
  ASSERT_FALSE(HasFailure());
  ASSERT_GT(l.input.dim(0), 1) << name << ": the sample input should hold more than one row";
  auto out = run_one(l.model, leading_rows(l.input, 1), 1);
  ASSERT_TRUE(out.is_ok()) << name << ": " << out.status().message();
  expect_close(*out, leading_rows(l.expected, 1), name + " (batch 1)");
}

TEST_P(TorchModel, SameBytesForAnyThreadCount) {
  const std::string name = GetParam();
  Loaded l = load(name);
  ASSERT_FALSE(HasFailure());
  auto one = run_one(l.model, l.input, 1);
  ASSERT_TRUE(one.is_ok()) << name << ": " << one.status().message();
  for (int threads : {2, 3}) {
    auto many = run_one(l.model, l.input, threads);
    ASSERT_TRUE(many.is_ok()) << name << ": " << many.status().message();
    EXPECT_TRUE(many->same_content(*one)) << name << ": output with " << threads
                                          << " threads differs from the single-threaded one";
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TorchModel, ::testing::Values("cnn_small", "gpt_tiny"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

// cnn_small exists to exercise BatchNormalization folding: the file must still hold BN nodes.
TEST(TorchModelFile, CnnSmallKeepsBatchNormalization) {
  auto model = read_onnx(model_path("cnn_small", ".onnx"));
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  const auto& nodes = model->graph.nodes;
  const auto bn = std::count_if(nodes.begin(), nodes.end(),
                                [](const Node& n) { return n.op_type == "BatchNormalization"; });
  const auto conv = std::count_if(nodes.begin(), nodes.end(), [](const Node& n) { return n.op_type == "Conv"; });
  EXPECT_EQ(bn, conv) << "every Conv in cnn_small.onnx should be followed by a BatchNormalization";
  EXPECT_GT(bn, 0);
}

}  // namespace
}  // namespace bitsmith
