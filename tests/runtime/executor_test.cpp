// Executor: load-time errors, input checks, pass-through outputs, release of intermediates and
// thread-count determinism.
#include "bitsmith/runtime/executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <random>

#include "bitsmith/runtime/kernel_registry.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using test::GraphBuilder;

// x: f32 [N, 3] -> outputs x itself (no nodes) and the constant c.
Model passthrough_model() {
  GraphBuilder b;
  b.input("x", DType::kF32, {"N", 3})
      .initializer<float>("c", {1.f, 2.f}, {2})
      .output("x", DType::kF32, {"N", 3})
      .output("c", DType::kF32, {2});
  return b.model();
}

std::unique_ptr<Executor> must_create(const Model& m, const ExecutorOptions& opt = {}) {
  auto e = Executor::create(m, opt);
  EXPECT_TRUE(e.is_ok()) << e.status().message();
  return e.is_ok() ? std::move(*e) : nullptr;
}

Tensor iota_f32(Shape shape, float start = 0.f) {
  Tensor t(DType::kF32, std::move(shape));
  float* p = t.mutable_data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = start + static_cast<float>(i);
  return t;
}

TEST(Executor, OutputThatIsAGraphInputOrInitializerPassesThrough) {
  auto exec = must_create(passthrough_model());
  ASSERT_TRUE(exec);
  ASSERT_EQ(exec->inputs().size(), 1u);
  const Tensor x = iota_f32({4, 3});
  auto out = exec->run({{"x", x}});
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].name(), "x");
  EXPECT_TRUE((*out)[0].same_content(x));
  EXPECT_EQ((*out)[1].name(), "c");
  EXPECT_TRUE((*out)[1].same_content(Tensor::from_vector<float>({1.f, 2.f}, {2})));
  // The constant is handed out as a copy: writing to it does not change the next run.
  (*out)[1].mutable_data<float>()[0] = 99.f;
  auto again = exec->run({{"x", x}});
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  EXPECT_TRUE((*again)[1].same_content(Tensor::from_vector<float>({1.f, 2.f}, {2})));
}

TEST(Executor, UnsupportedOpsAreListedInOneMessageAtLoad) {
  GraphBuilder b;
  b.input("x", DType::kF32, {1})
      .node("NoSuchOpA", {"x"}, {"a"}, {}, "first_bad")
      .node("NoSuchOpB", {"a"}, {"b"}, {}, "second_bad")
      .node("NoSuchOpA", {"b"}, {"y"}, {}, "third_bad")
      .output("y", DType::kF32, {1});
  const Model m = b.model(13);
  auto e = Executor::create(m);
  ASSERT_FALSE(e.is_ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnsupported);
  const std::string msg = e.status().message();
  EXPECT_EQ(msg.rfind("node 'first_bad' (NoSuchOpA): operator NoSuchOpA (opset 13) is not supported", 0), 0u) << msg;
  EXPECT_NE(msg.find("NoSuchOpB (opset 13)"), std::string::npos) << msg;
  // Each op type is listed once.
  EXPECT_EQ(msg.find("NoSuchOpA (opset 13)", msg.find(';')), msg.rfind("NoSuchOpA (opset 13)")) << msg;
}

TEST(Executor, UnsupportedOpInOtherDomainNamesTheDomain) {
  GraphBuilder b;
  b.input("x", DType::kF32, {1})
      .node("Frobnicate", {"x"}, {"y"}, {}, "custom", "com.example")
      .output("y", DType::kF32, {1});
  const Model m = b.model(17, {{"com.example", 1}});
  auto e = Executor::create(m);
  ASSERT_FALSE(e.is_ok());
  EXPECT_EQ(e.status().message(),
            "node 'custom' (com.example.Frobnicate): operator com.example.Frobnicate (opset 1) is not supported");
}

TEST(Executor, UndefinedGraphOutputIsAnInvalidModel) {
  Model m = passthrough_model();
  m.graph.outputs.push_back({"nowhere", test::tensor_type(DType::kF32, {}), {}, {}, {}});
  auto e = Executor::create(m);
  ASSERT_FALSE(e.is_ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidModel);
  EXPECT_NE(e.status().message().find("'nowhere'"), std::string::npos) << e.status().message();
}

struct FeedCase {
  const char* what;
  NamedTensors feeds;
  const char* expected_message;
};

TEST(Executor, BadFeedsAreOneLineDataErrors) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2, 3})
      .input("z", DType::kI64, {"K"})
      .initializer<float>("c", {1.f, 2.f}, {2})
      .output("x", DType::kF32, {2, 3})
      .output("c", DType::kF32, {2})
      .output("z", DType::kI64, {"K"});
  const Model m = b.model();
  auto exec = must_create(m);
  ASSERT_TRUE(exec);
  const Tensor good_x = iota_f32({2, 3});
  const Tensor good_z = Tensor::from_vector<int64_t>({1, 2, 3}, {3});
  const std::vector<FeedCase> cases = {
      {"missing", {{"x", good_x}}, "input 'z' (i64 [K]) is missing"},
      {"unknown", {{"x", good_x}, {"z", good_z}, {"w", good_z}},
       "'w' is not an input of the model; its inputs are: x, z"},
      {"initializer", {{"c", good_x}}, "'c' is a constant (initializer) of the model, not an input to feed"},
      {"twice", {{"x", good_x}, {"x", good_x}}, "input 'x' is given twice"},
      {"dtype", {{"x", Tensor(DType::kF64, {2, 3})}, {"z", good_z}},
       "input 'x': expected f32 [2, 3], got f64 [2, 3] (dtype differs)"},
      {"rank", {{"x", iota_f32({6})}, {"z", good_z}}, "input 'x': expected f32 [2, 3], got f32 [6] (rank 1, expected 2)"},
      {"dim", {{"x", iota_f32({2, 4})}, {"z", good_z}},
       "input 'x': expected f32 [2, 3], got f32 [2, 4] (dim 1 is 4, expected 3)"},
      {"batch", {{"x", iota_f32({5, 3})}, {"z", good_z}},
       "input 'x': expected f32 [2, 3], got f32 [5, 3] (dim 0 is 5, expected 2)"},
  };
  for (const FeedCase& c : cases) {
    auto out = exec->run(c.feeds);
    ASSERT_FALSE(out.is_ok()) << c.what;
    EXPECT_EQ(out.status().code(), StatusCode::kDataError) << c.what;
    EXPECT_EQ(out.status().message(), c.expected_message) << c.what;
    EXPECT_EQ(out.status().message().find('\n'), std::string::npos) << c.what;
  }
  // Symbolic dims accept any size; the executor still works after the errors above.
  auto ok = exec->run({{"x", good_x}, {"z", Tensor::from_vector<int64_t>({7}, {1})}});
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  EXPECT_TRUE((*ok)[2].same_content(Tensor::from_vector<int64_t>({7}, {1})));
}

TEST(Executor, DynamicBatchFreesDimZeroOnly) {
  GraphBuilder b;
  b.input("x", DType::kF32, {1, 3}).output("x", DType::kF32, {1, 3});
  const Model m = b.model();
  ExecutorOptions opt;
  opt.dynamic_batch = true;
  auto exec = must_create(m, opt);
  ASSERT_TRUE(exec);
  auto ok = exec->run({{"x", iota_f32({7, 3})}});
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  EXPECT_EQ((*ok)[0].shape(), (Shape{7, 3}));
  auto bad = exec->run({{"x", iota_f32({7, 2})}});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "input 'x': expected f32 [1, 3], got f32 [7, 2] (dim 1 is 2, expected 3)");
}

TEST(Executor, NonFiniteInputsAreRefusedUnlessAllowed) {
  const Model m = passthrough_model();
  Tensor x = iota_f32({2, 3});
  x.mutable_data<float>()[4] = std::numeric_limits<float>::quiet_NaN();
  x.mutable_data<float>()[5] = std::numeric_limits<float>::infinity();
  auto exec = must_create(m);
  ASSERT_TRUE(exec);
  auto out = exec->run({{"x", x}});
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kDataError);
  EXPECT_EQ(out.status().message(), "input 'x': element 4 (of 6, f32 [2, 3]) is NaN; inputs must be finite");
  x.mutable_data<float>()[4] = 0.f;
  out = exec->run({{"x", x}});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("element 5 (of 6, f32 [2, 3]) is +Inf"), std::string::npos)
      << out.status().message();

  ExecutorOptions allow;
  allow.check_finite_inputs = false;
  auto lenient = must_create(m, allow);
  ASSERT_TRUE(lenient);
  auto ok = lenient->run({{"x", x}});
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  EXPECT_TRUE(std::isinf((*ok)[0].data<float>()[5]));
}

TEST(Executor, NumThreadsZeroMeansAllCores) {
  auto exec = must_create(passthrough_model());
  ASSERT_TRUE(exec);
  EXPECT_GE(exec->num_threads(), 1);
  ExecutorOptions two;
  two.num_threads = 2;
  auto exec2 = must_create(passthrough_model(), two);
  ASSERT_TRUE(exec2);
  EXPECT_EQ(exec2->num_threads(), 2);
}


bool has_kernels(std::initializer_list<const char*> ops) {
  for (const char* op : ops)
    if (!find_kernel("", op, 17)) return false;
  return true;
}

// x: f32 [n] -> Relu chain of `length` nodes -> y.
Model relu_chain(int length, int64_t n) {
  GraphBuilder b;
  b.input("x", DType::kF32, {n});
  std::string prev = "x";
  for (int i = 0; i < length; ++i) {
    const std::string index = std::to_string(i);
    // (appends rather than operator+: GCC 12 warns falsely on "literal" + std::string)
    std::string out = "r";
    out.append(index);
    if (i + 1 == length) out = "y";
    std::string name = "relu";
    name.append(index);
    b.node("Relu", {prev}, {out}, {}, name);
    prev = out;
  }
  b.output("y", DType::kF32, {n});
  return b.model();
}

TEST(Executor, IntermediatesAreReleasedAfterTheirLastConsumer) {
  ASSERT_TRUE(has_kernels({"Relu"})) << "kernels.def lacks an op this test uses";
  constexpr int64_t kN = 1000;
  constexpr int kLength = 10;
  auto exec = must_create(relu_chain(kLength, kN));
  ASSERT_TRUE(exec);
  Tensor x = iota_f32({kN}, -500.f);
  auto out = exec->run({{"x", x}});
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  for (int64_t i = 0; i < kN; ++i) ASSERT_EQ((*out)[0].data<float>()[i], std::max(0.f, x.data<float>()[i])) << i;
  const ExecutorStats st = exec->last_run_stats();
  EXPECT_EQ(st.nodes_run, kLength);
  // At most a node's input and output are alive at once (the whole chain would be 11 tensors).
  const int64_t tensor_bytes = kN * 4;
  EXPECT_LE(st.peak_live_values, 2);
  EXPECT_LE(st.peak_live_bytes, 2 * tensor_bytes + 2 * 64);
  EXPECT_GE(st.peak_live_bytes, tensor_bytes);
}

TEST(Executor, ValueUsedTwiceSurvivesUntilItsLastUse) {
  ASSERT_TRUE(has_kernels({"Relu", "Add", "Neg"})) << "kernels.def lacks an op this test uses";
  // a = relu(x); b = neg(a); unused = neg(x); y = a + b + ... : a is read by b and by the Add.
  GraphBuilder b;
  b.input("x", DType::kF32, {5})
      .node("Relu", {"x"}, {"a"})
      .node("Neg", {"a"}, {"b"})
      .node("Neg", {"x"}, {"unused"}, {}, "dead")
      .node("Add", {"b", "b"}, {"bb"})
      .node("Add", {"a", "bb"}, {"y"})
      .output("y", DType::kF32, {5})
      .output("a", DType::kF32, {5});
  const Model m = b.model();
  auto exec = must_create(m);
  ASSERT_TRUE(exec);
  const Tensor x = iota_f32({5}, -2.f);
  auto out = exec->run({{"x", x}});
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  for (int64_t i = 0; i < 5; ++i) {
    const float a = std::max(0.f, x.data<float>()[i]);
    EXPECT_EQ((*out)[0].data<float>()[i], a + (-a + -a)) << i;
    EXPECT_EQ((*out)[1].data<float>()[i], a) << i;
  }
  EXPECT_EQ((*out)[1].name(), "a");
}

TEST(Executor, ObserverSeesEveryNodeOutputInOrderAndCanStopTheRun) {
  ASSERT_TRUE(has_kernels({"Relu"})) << "kernels.def lacks an op this test uses";
  auto exec = must_create(relu_chain(3, 4));
  ASSERT_TRUE(exec);
  const Tensor x = iota_f32({4}, -2.f);
  std::vector<std::string> seen;
  std::vector<Tensor> kept;
  auto out = exec->run_observed({{"x", x}}, [&](const Node& node, const std::string& name, const Tensor& t) {
    seen.push_back(node.name + ":" + name);
    kept.push_back(t);
    return Status::ok();
  });
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_EQ(seen, (std::vector<std::string>{"relu0:r0", "relu1:r1", "relu2:y"}));
  // Kept handles stay valid after the executor released its own.
  EXPECT_TRUE(kept[0].same_content(Tensor::from_vector<float>({0.f, 0.f, 0.f, 1.f}, {4})));
  EXPECT_TRUE(kept[2].same_content((*out)[0]));

  auto stopped = exec->run_observed({{"x", x}}, [](const Node& node, const std::string&, const Tensor&) {
    return node.name == "relu1" ? invalid_argument("observer: enough") : Status::ok();
  });
  ASSERT_FALSE(stopped.is_ok());
  EXPECT_EQ(stopped.status().message(), "observer: enough");
  EXPECT_EQ(exec->last_run_stats().nodes_run, 1);  // relu0 completed; the observer stopped relu1
}

TEST(Executor, ConstantNodesAreFoldedAndFeedTheirConsumers) {
  ASSERT_TRUE(has_kernels({"Constant", "Add"})) << "kernels.def lacks an op this test uses";
  GraphBuilder b;
  b.input("x", DType::kF32, {3})
      .node("Constant", {}, {"c"}, {test::tensor_attr("value", Tensor::from_vector<float>({10.f, 20.f, 30.f}, {3}))})
      .node("Add", {"x", "c"}, {"y"})
      .output("y", DType::kF32, {3})
      .output("c", DType::kF32, {3});
  const Model m = b.model();
  auto exec = must_create(m);
  ASSERT_TRUE(exec);
  for (int rep = 0; rep < 2; ++rep) {
    auto out = exec->run({{"x", iota_f32({3})}});
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    EXPECT_TRUE((*out)[0].same_content(Tensor::from_vector<float>({10.f, 21.f, 32.f}, {3})));
    EXPECT_TRUE((*out)[1].same_content(Tensor::from_vector<float>({10.f, 20.f, 30.f}, {3})));
    EXPECT_EQ(exec->last_run_stats().nodes_run, 1);
  }
}

TEST(Executor, UndefinedNodeInputIsAnInvalidModel) {
  ASSERT_TRUE(has_kernels({"Relu"})) << "kernels.def lacks an op this test uses";
  Model m = relu_chain(2, 4);
  m.graph.nodes[1].inputs[0] = "ghost";
  auto e = Executor::create(m);
  ASSERT_FALSE(e.is_ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(e.status().message(), "node 'relu1' (Relu): input 'ghost' is not defined");
}

// Odd-shaped conv + matmul + add graph with random data: outputs must be bit-identical for 1, 2
// and 3 threads.
TEST(Executor, OutputsAreBitIdenticalForAnyThreadCount) {
  ASSERT_TRUE(has_kernels({"Conv", "Relu", "Reshape", "MatMul", "Add"})) << "kernels.def lacks an op this test uses";
  GraphBuilder b;
  b.input("x", DType::kF32, {3, 5, 11, 13});
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.f, 1.f);
  auto random = [&](Shape shape, const std::string& name) {
    Tensor t(DType::kF32, std::move(shape), name);
    for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data<float>()[i] = dist(rng);
    return t;
  };
  b.initializer(random({7, 5, 3, 3}, "w"));
  b.initializer(random({7}, "wb"));
  b.initializer(Tensor::from_vector<int64_t>({3, -1}, {2}, "flat"));
  b.initializer(random({7 * 9 * 11, 17}, "fc"));
  b.initializer(random({17}, "fcb"));
  b.node("Conv", {"x", "w", "wb"}, {"c"})
      .node("Relu", {"c"}, {"r"})
      .node("Reshape", {"r", "flat"}, {"f"})
      .node("MatMul", {"f", "fc"}, {"mm"})
      .node("Add", {"mm", "fcb"}, {"y"})
      .output("y", DType::kF32, {3, 17});
  const Model m = b.model(13);
  const Tensor x = random({3, 5, 11, 13}, "x");
  Tensor reference;
  for (int threads : {1, 2, 3}) {
    ExecutorOptions opt;
    opt.num_threads = threads;
    auto exec = must_create(m, opt);
    ASSERT_TRUE(exec);
    auto out = exec->run({{"x", x}});
    ASSERT_TRUE(out.is_ok()) << out.status().message();
    ASSERT_EQ((*out)[0].shape(), (Shape{3, 17}));
    if (threads == 1) reference = (*out)[0];
    else EXPECT_TRUE((*out)[0].same_content(reference)) << threads << " threads";
  }
}

}  // namespace
}  // namespace bitsmith
