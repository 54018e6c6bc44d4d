// Executor QDQ fusion (src/runtime/qdq_fusion.h): graphs of complete QDQ units run fused (one
// integer kernel per unit) and unfused (ExecutorOptions::fuse_qdq = false, node by node in f32)
// at 1 and 2 threads. Contract: quantized outputs differ by at most one quantization step (the
// fused unit rounds the exact integer sum once, the unfused graph rounds f32 sums), float outputs
// agree to f32 rounding; fused results are identical for any thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "bitsmith/runtime/executor.h"
#include "support/graph_builder.h"

namespace bitsmith::test {
namespace {

std::vector<float> uniform(int64_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

// Symmetric per-channel int8 weights of `shape`, channel axis `axis`, |q| <= qmax; scales out.
Tensor quant_weights(const Shape& shape, int axis, int qmax, uint32_t seed, std::vector<float>& scales,
                     const std::string& name) {
  const int64_t channels = shape[axis];
  int64_t inner = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  std::mt19937 rng(seed);
  Tensor w(DType::kI8, shape, name);
  for (int64_t i = 0; i < w.numel(); ++i) w.mutable_data<int8_t>()[i] = static_cast<int8_t>(static_cast<int>(rng() % (2 * qmax + 1)) - qmax);
  scales = uniform(channels, seed + 1, 0.002f, 0.01f);
  (void)inner;
  return w;
}

struct Built {
  Model model;
  std::vector<float> x;
  Shape x_shape;
};

// x (f32) -> Q(u8) -> DQ -> op(DQ(W) [, DQ(b)]) [-> Relu] [-> Q(y) -> DQ] -> out
Built build_unit(const std::string& op, const Shape& x_shape, const Shape& w_shape, bool bias, bool relu, bool quant_out,
                 DType out_t, int qmax, uint32_t seed, std::vector<Attribute> attrs = {}) {
  GraphBuilder b;
  std::vector<DimArg> xd(x_shape.begin(), x_shape.end());
  b.input("x", DType::kF32, xd);
  const float sx = 0.02f;
  b.initializer("sx", std::vector<float>{sx}, {});
  b.initializer("zx", std::vector<uint8_t>{117}, {});
  b.node("QuantizeLinear", {"x", "sx", "zx"}, {"xq"});
  b.node("DequantizeLinear", {"xq", "sx", "zx"}, {"xd"});
  const int axis = op == "Conv" ? 0 : (op == "Gemm" && !attrs.empty() ? 0 : 1);  // Gemm attrs: transB=1
  std::vector<float> sw;
  b.initializer(quant_weights(w_shape, axis, qmax, seed, sw, "wq"));
  const int64_t channels = w_shape[axis];
  b.initializer("sw", sw, {channels});
  b.initializer("zw", std::vector<int8_t>(static_cast<size_t>(channels), 0), {channels});
  b.node("DequantizeLinear", {"wq", "sw", "zw"}, {"wd"}, {attr_int("axis", axis)});
  std::vector<std::string> ins = {"xd", "wd"};
  if (bias) {
    std::vector<int32_t> bq(static_cast<size_t>(channels));
    std::vector<float> sb(static_cast<size_t>(channels));
    std::mt19937 rng(seed + 7);
    for (int64_t j = 0; j < channels; ++j) {
      bq[j] = static_cast<int32_t>(rng() % 4001) - 2000;
      sb[j] = sx * sw[j];
    }
    b.initializer("bq", bq, {channels});
    b.initializer("sb", sb, {channels});
    b.node("DequantizeLinear", {"bq", "sb"}, {"bd"}, {attr_int("axis", 0)});
    ins.push_back("bd");
  }
  b.node(op, ins, {"y"}, attrs, "unit");
  std::string y = "y";
  if (relu) {
    b.node("Relu", {"y"}, {"yr"});
    y = "yr";
  }
  if (quant_out) {
    b.initializer("sy", std::vector<float>{0.05f}, {});
    if (out_t == DType::kU8) b.initializer("zy", std::vector<uint8_t>{relu ? uint8_t{0} : uint8_t{121}}, {});
    else b.initializer("zy", std::vector<int8_t>{relu ? int8_t{-128} : int8_t{-7}}, {});
    b.node("QuantizeLinear", {y, "sy", "zy"}, {"yq"});
    b.node("DequantizeLinear", {"yq", "sy", "zy"}, {"out"});
  } else {
    b.node("Identity", {y}, {"out"});
  }
  b.output_unranked("out", DType::kF32);
  Built r{b.model(17), uniform(shape_numel(x_shape), seed + 3, -2.f, 2.5f), x_shape};
  return r;
}

std::vector<float> run(const Built& b, bool fuse, int threads, std::vector<std::string>* units = nullptr) {
  ExecutorOptions opt;
  opt.num_threads = threads;
  opt.fuse_qdq = fuse;
  auto e = Executor::create(b.model, opt);
  EXPECT_TRUE(e.is_ok()) << e.status().message();
  if (!e.is_ok()) return {};
  if (units) *units = (*e)->fused_units();
  auto out = (*e)->run({{"x", Tensor::from_vector<float>(b.x, b.x_shape)}});
  EXPECT_TRUE(out.is_ok()) << out.status().message();
  if (!out.is_ok()) return {};
  const Tensor& t = (*out)[0];
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

// Fused vs unfused; `step` > 0: at most one step apart; else relative float tolerance.
void check_unit(const Built& b, const std::string& want_fused, float step, const std::string& what) {
  const std::vector<float> ref = run(b, false, 1);
  std::vector<std::string> units;
  const std::vector<float> f1 = run(b, true, 1, &units);
  const std::vector<float> f2 = run(b, true, 2);
  ASSERT_EQ(units.size(), want_fused.empty() ? 0u : 1u) << what;
  if (!want_fused.empty()) {
    EXPECT_NE(units[0].find(want_fused), std::string::npos) << what << ": " << units[0];
  }
  ASSERT_EQ(ref.size(), f1.size()) << what;
  EXPECT_EQ(f1, f2) << what << ": fused results depend on the thread count";
  double max_ref = 0;
  for (float v : ref) max_ref = std::max(max_ref, std::fabs(static_cast<double>(v)));
  int64_t off = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = std::fabs(static_cast<double>(f1[i]) - ref[i]);
    if (step > 0) {
      EXPECT_LE(d, step * 1.001) << what << " at " << i;
      off += d > 0;
    } else {
      EXPECT_LE(d, 1e-5 * std::max(1.0, max_ref)) << what << " at " << i;
    }
  }
  if (step > 0) {
    EXPECT_LE(off * 20, static_cast<int64_t>(ref.size())) << what << ": too many one-step differences";
  }
}

TEST(QdqFusion, GemmTransBBiasReluToQGemm) {
  check_unit(build_unit("Gemm", {13, 70}, {37, 70}, true, true, true, DType::kU8, 63, 1, {attr_int("transB", 1)}),
             "QGemm", 0.05f, "gemm");
}

TEST(QdqFusion, GemmFullRangeWeightsSignedOutput) {
  check_unit(build_unit("Gemm", {5, 129}, {129, 18}, true, false, true, DType::kI8, 127, 2), "QGemm", 0.05f, "gemm s8");
}

TEST(QdqFusion, GemmFloatOutputToQGemm) {
  check_unit(build_unit("Gemm", {4, 33}, {33, 19}, true, false, false, DType::kU8, 63, 3), "QGemm", 0.f, "gemm float");
}

TEST(QdqFusion, MatMul3dToQLinearMatMul) {
  check_unit(build_unit("MatMul", {2, 7, 40}, {40, 21}, false, false, true, DType::kU8, 127, 4), "QLinearMatMul", 0.05f,
             "matmul");
}

TEST(QdqFusion, MatMulFloatOutputToMatMulIntegerToFloat) {
  check_unit(build_unit("MatMul", {3, 5, 31}, {31, 17}, false, false, false, DType::kU8, 63, 5), "MatMulIntegerToFloat",
             0.f, "matmul float");
}

TEST(QdqFusion, ConvBiasReluToQLinearConv) {
  check_unit(build_unit("Conv", {2, 5, 11, 9}, {16, 5, 3, 3}, true, true, true, DType::kU8, 63, 6,
                        {ints("pads", {1, 1, 1, 1}), ints("strides", {2, 1})}),
             "QLinearConv", 0.05f, "conv");
}

TEST(QdqFusion, GroupedConvSignedOutput) {
  check_unit(build_unit("Conv", {1, 8, 7, 7}, {16, 4, 3, 3}, true, false, true, DType::kI8, 127, 7,
                        {ints("pads", {0, 1, 1, 0}), attr_int("group", 2)}),
             "QLinearConv", 0.05f, "group conv");
}

// Relu before a Q whose zero point is not the type's minimum changes results: Relu and Q stay,
// only DQ -> Gemm is fused (float output).
TEST(QdqFusion, ReluWithNonMinimalZeroPointKeepsReluAndQ) {
  Built b = build_unit("Gemm", {3, 8}, {8, 4}, false, true, true, DType::kU8, 63, 8);
  for (Tensor& t : b.model.graph.initializers)
    if (t.name() == "zy") t.mutable_data<uint8_t>()[0] = 10;
  check_unit(b, "QGemm", 0.05f, "relu zp 10");
}

}  // namespace
}  // namespace bitsmith::test
