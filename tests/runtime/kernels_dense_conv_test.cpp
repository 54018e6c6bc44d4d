// Conv and ConvTranspose: the registered (fast) kernels against the scalar references on awkward
// shapes, at 1, 2 and 3 threads (bytes identical across thread counts).
// Tolerance from the maths: the reference sums in double, the fast path in f32 over K terms, so
// |error| <= ~1e-5 * sqrt(K) * max|x| * max|w| (+ a little for the bias).
#include <gtest/gtest.h>

// Case tables list only the leading fields of each case struct.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <cmath>

#include "bitsmith/core/half.h"
#include "runtime/dense_kernel_harness.h"
#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/ref/conv_ref.h"

namespace bitsmith::test {
namespace {

struct ConvCase {
  std::string name;
  Shape x, w;
  std::vector<int64_t> strides, pads, dilations;
  int64_t group = 1;
  std::string auto_pad;
  bool bias = true;
  std::vector<int64_t> output_padding, output_shape;  // ConvTranspose only
};

std::vector<Attribute> conv_attrs(const ConvCase& c) {
  std::vector<Attribute> a;
  if (!c.strides.empty()) a.push_back(Attribute::make_ints("strides", c.strides));
  if (!c.pads.empty()) a.push_back(Attribute::make_ints("pads", c.pads));
  if (!c.dilations.empty()) a.push_back(Attribute::make_ints("dilations", c.dilations));
  if (c.group != 1) a.push_back(Attribute::make_int("group", c.group));
  if (!c.auto_pad.empty()) a.push_back(Attribute::make_string("auto_pad", c.auto_pad));
  if (!c.output_padding.empty()) a.push_back(Attribute::make_ints("output_padding", c.output_padding));
  if (!c.output_shape.empty()) a.push_back(Attribute::make_ints("output_shape", c.output_shape));
  return a;
}

// The reference output for `c`, computed from the same attributes.
Tensor reference(const ConvCase& c, bool transpose, const Tensor& x, const Tensor& w, const Tensor& b) {
  Node node;
  node.name = c.name;
  node.op_type = transpose ? "ConvTranspose" : "Conv";
  node.attributes = conv_attrs(c);
  auto attrs = kernels::parse_window_attrs(node);
  EXPECT_TRUE(attrs.is_ok()) << attrs.status().message();
  auto g = transpose ? kernels::conv_transpose_geometry(*attrs, x.shape(), w.shape(), node)
                     : kernels::conv_geometry(*attrs, x.shape(), w.shape(), node);
  EXPECT_TRUE(g.is_ok()) << g.status().message();
  Tensor y(DType::kF32, g->out_shape());
  const float* bd = b.defined() ? b.data<float>() : nullptr;
  if (transpose) kernels::ref::conv_transpose<float>(*g, x.data<float>(), w.data<float>(), bd, y.mutable_data<float>());
  else kernels::ref::conv<float>(*g, x.data<float>(), w.data<float>(), bd, y.mutable_data<float>());
  return y;
}

void check(const ConvCase& c, bool transpose, uint32_t seed) {
  const Tensor x = random_tensor(c.x, seed), w = random_tensor(c.w, seed + 1);
  const int64_t m = transpose ? c.w[1] * c.group : c.w[0];
  const Tensor b = c.bias ? random_tensor({m}, seed + 2) : Tensor();
  const int64_t taps = shape_numel(c.w) / (c.w[0] * c.w[1]);
  const int64_t k = transpose ? taps * c.w[0] / c.group : taps * c.w[1];
  const double atol = 1e-5 * std::sqrt(static_cast<double>(std::max<int64_t>(k, 1))) * max_abs(x) * max_abs(w) + 1e-6;
  const Tensor want = reference(c, transpose, x, w, b);
  for (bool constant_w : {false, true}) {
    OpRun r{transpose ? "ConvTranspose" : "Conv", {x, w, b}, conv_attrs(c), {false, constant_w, constant_w}};
    const std::string what = c.name + (constant_w ? " (constant W)" : " (runtime W)") + " x " + shape_str(c.x) +
                             " w " + shape_str(c.w);
    const std::vector<Tensor> out = run_op_all_threads(r, what);
    if (out.empty()) return;
    expect_close(out[0], want, atol, what);
  }
}

TEST(DenseConv, MatchesReferenceOnAwkwardShapes) {
  const std::vector<ConvCase> cases = {
      {"3x3 pad1", {1, 3, 13, 13}, {5, 3, 3, 3}, {}, {1, 1, 1, 1}, {}},
      {"3x2 stride2 asym pads", {2, 4, 7, 9}, {6, 4, 3, 2}, {2, 2}, {0, 1, 2, 0}, {}},
      {"group3 dilation2", {1, 6, 11, 10}, {9, 2, 3, 3}, {}, {2, 2, 2, 2}, {2, 2}, 3},
      {"depthwise stride2", {1, 8, 15, 17}, {8, 1, 3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 8},
      {"depthwise x2 multiplier 5x5", {2, 4, 9, 8}, {8, 1, 5, 5}, {}, {2, 2, 2, 2}, {}, 4},
      {"depthwise dilated asym", {1, 3, 10, 13}, {3, 1, 3, 3}, {1, 2}, {0, 2, 1, 1}, {2, 1}, 3},
      {"pointwise", {2, 16, 7, 7}, {13, 16, 1, 1}, {}, {}, {}},
      {"pointwise stride2", {1, 8, 9, 9}, {12, 8, 1, 1}, {2, 2}, {}, {}},
      {"1d", {1, 3, 127}, {4, 3, 5}, {2}, {1, 3}, {}},
      {"1d stride1 dilated (shifted)", {2, 3, 100}, {4, 3, 3}, {}, {2, 1}, {3}},
      {"2d dilated wide (shifted)", {1, 5, 9, 60}, {7, 5, 3, 3}, {}, {2, 0, 1, 3}, {2, 2}},
      {"3d", {1, 2, 5, 6, 7}, {3, 2, 3, 3, 3}, {}, {1, 1, 1, 1, 1, 1}, {}},
      {"deep K (3 blocks)", {1, 67, 12, 11}, {70, 67, 3, 3}, {}, {1, 1, 1, 1}, {}},
      {"many columns", {1, 5, 61, 67}, {7, 5, 3, 3}, {}, {1, 1, 1, 1}, {}},
      {"same_upper", {1, 3, 10, 11}, {4, 3, 4, 3}, {2, 2}, {}, {}, 1, "SAME_UPPER"},
      {"same_lower", {1, 3, 10, 11}, {4, 3, 4, 3}, {2, 3}, {}, {}, 1, "SAME_LOWER"},
      {"valid no bias", {3, 2, 8, 8}, {1, 2, 3, 3}, {3, 3}, {}, {}, 1, "VALID", false},
      {"1x1 image", {1, 7, 1, 1}, {3, 7, 1, 1}, {}, {}, {}},
      {"group2 wide", {1, 4, 5, 40}, {6, 2, 1, 3}, {1, 2}, {0, 1, 0, 1}, {}, 2},
  };
  uint32_t seed = 100;
  for (const ConvCase& c : cases) check(c, false, seed += 10);
}

// 3x3 stride-1 convs with >= 8 channels each side run through Winograd F(2x2, 3x3)
// (conv_winograd.h): odd and even sizes (partial edge tiles), images smaller than a tile,
// asymmetric and zero padding, several bands of tile rows, with and without bias.
TEST(DenseConv, WinogradMatchesReferenceOnAwkwardShapes) {
  const std::vector<ConvCase> cases = {
      {"wino 8ch 1x1 image", {1, 8, 1, 1}, {8, 8, 3, 3}, {}, {1, 1, 1, 1}, {}},
      {"wino 8->13 2x3", {2, 8, 2, 3}, {13, 8, 3, 3}, {}, {1, 1, 1, 1}, {}},
      {"wino 13->8 odd 13x17", {1, 13, 13, 17}, {8, 13, 3, 3}, {}, {1, 1, 1, 1}, {}},
      {"wino valid 9x10", {3, 9, 9, 10}, {11, 9, 3, 3}, {}, {}, {}},
      {"wino asym pads", {1, 16, 7, 12}, {16, 16, 3, 3}, {}, {0, 2, 1, 0}, {}, 1, "", false},
      {"wino same_upper", {1, 8, 6, 5}, {9, 8, 3, 3}, {}, {}, {}, 1, "SAME_UPPER"},
      {"wino deep C (2 K blocks)", {1, 300, 6, 7}, {10, 300, 3, 3}, {}, {1, 1, 1, 1}, {}},
      {"wino many rows (bands)", {2, 40, 37, 35}, {20, 40, 3, 3}, {}, {1, 1, 1, 1}, {}},
      {"wino wide rows", {1, 8, 4, 70}, {8, 8, 3, 3}, {}, {1, 1, 1, 1}, {}},
  };
  uint32_t seed = 900;
  for (const ConvCase& c : cases) check(c, false, seed += 10);
}

TEST(DenseConvTranspose, MatchesReferenceOnAwkwardShapes) {
  ConvCase out_pad{"stride2 output_padding", {1, 3, 5, 4}, {3, 2, 3, 3}, {2, 2}, {1, 0, 1, 1}, {}};
  out_pad.output_padding = {1, 1};
  ConvCase out_shape{"output_shape", {1, 2, 4, 5}, {2, 3, 3, 3}, {3, 2}, {}, {}};
  out_shape.output_shape = {12, 11};
  const std::vector<ConvCase> cases = {
      {"basic", {1, 3, 6, 7}, {3, 4, 3, 3}, {}, {}, {}},
      {"stride2 pads", {2, 4, 5, 5}, {4, 3, 3, 2}, {2, 2}, {1, 0, 1, 1}, {}},
      {"group2 dilation2", {1, 4, 6, 5}, {4, 3, 3, 3}, {1, 2}, {}, {2, 2}, 2},
      {"same_upper", {1, 2, 5, 6}, {2, 2, 3, 3}, {2, 2}, {}, {}, 1, "SAME_UPPER"},
      {"same_lower no bias", {1, 2, 5, 6}, {2, 2, 4, 3}, {2, 2}, {}, {}, 1, "SAME_LOWER", false},
      {"1d", {1, 3, 13}, {3, 2, 4}, {3}, {1, 2}, {}},
      {"3d", {1, 2, 3, 4, 3}, {2, 2, 2, 3, 2}, {2, 1, 2}, {}, {}},
      out_pad,
      out_shape,
  };
  uint32_t seed = 500;
  for (const ConvCase& c : cases) check(c, true, seed += 10);
}

// f16 Conv is computed in f32: the result equals the f32 kernel on the widened inputs, rounded.
TEST(DenseConv, Float16ComputesInF32) {
  const Tensor x = random_tensor({1, 3, 6, 5}, 7), w = random_tensor({4, 3, 3, 3}, 8);
  Tensor xh(DType::kF16, x.shape()), wh(DType::kF16, w.shape());
  for (int64_t i = 0; i < x.numel(); ++i) xh.mutable_data<uint16_t>()[i] = f32_to_f16(x.data<float>()[i]);
  for (int64_t i = 0; i < w.numel(); ++i) wh.mutable_data<uint16_t>()[i] = f32_to_f16(w.data<float>()[i]);
  Tensor xw(DType::kF32, x.shape()), ww(DType::kF32, w.shape());
  for (int64_t i = 0; i < x.numel(); ++i) xw.mutable_data<float>()[i] = f16_to_f32(xh.data<uint16_t>()[i]);
  for (int64_t i = 0; i < w.numel(); ++i) ww.mutable_data<float>()[i] = f16_to_f32(wh.data<uint16_t>()[i]);
  const std::vector<Attribute> attrs = {Attribute::make_ints("pads", {1, 1, 1, 1})};
  auto half = run_op(OpRun{"Conv", {xh, wh}, attrs}, 2);
  auto full = run_op(OpRun{"Conv", {xw, ww}, attrs}, 2);
  ASSERT_TRUE(half.is_ok()) << half.status().message();
  ASSERT_TRUE(full.is_ok()) << full.status().message();
  const Tensor& yh = (*half)[0];
  ASSERT_EQ(yh.dtype(), DType::kF16);
  for (int64_t i = 0; i < yh.numel(); ++i)
    EXPECT_EQ(yh.data<uint16_t>()[i], f32_to_f16((*full)[0].data<float>()[i])) << "index " << i;
}

// com.microsoft FusedConv: act(conv + B + Z) on each conv path (depthwise, shifted, im2col,
// pointwise) equals the reference conv followed by the same maths.
TEST(DenseFusedConv, MatchesConvThenActivation) {
  struct Act {
    std::string name;
    std::vector<float> params;
    float (*fn)(float, const std::vector<float>&);
  };
  const std::vector<Act> acts = {
      {"Relu", {}, [](float v, const std::vector<float>&) { return v > 0.f ? v : 0.f; }},
      {"LeakyRelu", {0.1f}, [](float v, const std::vector<float>& p) { return v >= 0.f ? v : v * p[0]; }},
      {"Clip", {-0.5f, 0.7f}, [](float v, const std::vector<float>& p) { return std::min(std::max(v, p[0]), p[1]); }},
      {"Sigmoid", {}, [](float v, const std::vector<float>&) { return 1.f / (1.f + std::exp(-v)); }},
      {"Tanh", {}, [](float v, const std::vector<float>&) { return std::tanh(v); }},
      {"HardSigmoid", {0.3f, 0.4f}, [](float v, const std::vector<float>& p) { return std::max(0.f, std::min(1.f, p[0] * v + p[1])); }},
  };
  const std::vector<ConvCase> cases = {
      {"depthwise", {1, 4, 9, 8}, {4, 1, 3, 3}, {2, 1}, {1, 1, 1, 1}, {}, 4},
      {"shifted", {1, 3, 13, 15}, {5, 3, 3, 3}, {}, {1, 1, 1, 1}, {}},
      {"im2col", {2, 4, 7, 9}, {6, 4, 3, 2}, {2, 2}, {0, 1, 2, 0}, {}},
      {"pointwise", {1, 8, 5, 7}, {7, 8, 1, 1}, {}, {}, {}},
  };
  uint32_t seed = 800;
  for (const ConvCase& c : cases)
    for (const Act& act : acts)
      for (bool with_z : {false, true}) {
        seed += 3;
        const Tensor x = random_tensor(c.x, seed), w = random_tensor(c.w, seed + 1), b = random_tensor({c.w[0]}, seed + 2);
        Tensor want = reference(c, false, x, w, b);
        const Tensor z = with_z ? random_tensor(want.shape(), seed + 3) : Tensor();
        float* wd = want.mutable_data<float>();
        for (int64_t i = 0; i < want.numel(); ++i) wd[i] = act.fn(wd[i] + (with_z ? z.data<float>()[i] : 0.f), act.params);
        std::vector<Attribute> attrs = conv_attrs(c);
        attrs.push_back(Attribute::make_string("activation", act.name));
        if (!act.params.empty()) attrs.push_back(Attribute::make_floats("activation_params", act.params));
        OpRun r{"FusedConv", {x, w, b, z}, attrs, {false, true, true, false}, 1, 1, "com.microsoft"};
        const std::string what = "FusedConv " + act.name + (with_z ? "+Z " : " ") + c.name;
        const auto out = run_op_all_threads(r, what);
        const int64_t k = shape_numel(c.w) / c.w[0];
        if (!out.empty()) expect_close(out[0], want, 1e-5 * std::sqrt(static_cast<double>(k)) * 4 + 1e-5, what);
      }
}

TEST(DenseConv, BadShapesAreErrorsNamingTheNode) {
  const Tensor x = random_tensor({1, 3, 5, 5}, 1), w = random_tensor({4, 2, 3, 3}, 2);
  auto out = run_op(OpRun{"Conv", {x, w}, {}}, 1);
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("test_Conv"), std::string::npos) << out.status().message();
  auto big = run_op(OpRun{"Conv", {random_tensor({1, 3, 2, 2}, 3), random_tensor({4, 3, 3, 3}, 4)}, {}}, 1);
  EXPECT_FALSE(big.is_ok());
  auto bad_pad = run_op(OpRun{"Conv", {x, random_tensor({4, 3, 3, 3}, 5)}, {Attribute::make_string("auto_pad", "SAME")}}, 1);
  EXPECT_FALSE(bad_pad.is_ok());
}

}  // namespace
}  // namespace bitsmith::test
