// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool and BatchNormalization: registered
// kernels against the scalar references on awkward shapes, at 1, 2 and 3 threads (bytes
// identical). Max is exact; averages differ from the double-precision reference by rounding only.
#include <gtest/gtest.h>

// Case tables list only the leading fields of each case struct.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <cmath>

#include "runtime/dense_kernel_harness.h"
#include "runtime/kernels/conv_geometry.h"
#include "runtime/kernels/ref/norm_ref.h"
#include "runtime/kernels/ref/pool_ref.h"

namespace bitsmith::test {
namespace {

struct PoolCase {
  std::string name;
  Shape x;
  std::vector<int64_t> kernel, strides, pads, dilations;
  bool ceil_mode = false;
  std::string auto_pad;
  bool count_include_pad = false;
};

std::vector<Attribute> pool_attrs(const PoolCase& c, bool average) {
  std::vector<Attribute> a = {Attribute::make_ints("kernel_shape", c.kernel)};
  if (!c.strides.empty()) a.push_back(Attribute::make_ints("strides", c.strides));
  if (!c.pads.empty()) a.push_back(Attribute::make_ints("pads", c.pads));
  if (!c.dilations.empty()) a.push_back(Attribute::make_ints("dilations", c.dilations));
  if (c.ceil_mode) a.push_back(Attribute::make_int("ceil_mode", 1));
  if (!c.auto_pad.empty()) a.push_back(Attribute::make_string("auto_pad", c.auto_pad));
  if (average && c.count_include_pad) a.push_back(Attribute::make_int("count_include_pad", 1));
  return a;
}

const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases = {
      {"3x3 s2 pad1", {1, 3, 13, 13}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
      {"2x2 s2", {2, 5, 8, 11}, {2, 2}, {2, 2}, {}},
      {"3x2 asym pads ceil", {1, 4, 9, 10}, {3, 2}, {2, 3}, {0, 1, 2, 1}, {}, true},
      {"dilation2", {1, 2, 12, 11}, {3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}},
      {"same_upper s1", {1, 3, 7, 9}, {4, 3}, {}, {}, {}, false, "SAME_UPPER"},
      {"same_lower s2 include pad", {1, 3, 7, 9}, {3, 3}, {2, 2}, {}, {}, false, "SAME_LOWER", true},
      {"pads include", {1, 3, 6, 6}, {3, 3}, {1, 1}, {1, 2, 2, 1}, {}, false, "", true},
      {"ceil include", {1, 1, 10, 10}, {3, 3}, {3, 3}, {1, 1, 1, 1}, {}, true, "", true},
      {"1d", {2, 3, 127}, {5}, {3}, {2, 1}},
      {"3d", {1, 2, 5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {0, 1, 1, 1, 1, 0}},
      {"1x1 output", {1, 6, 3, 3}, {3, 3}, {}, {}},
  };
  return cases;
}

TEST(DensePool, MaxAndAverageMatchReference) {
  uint32_t seed = 900;
  for (const PoolCase& c : pool_cases()) {
    const Tensor x = random_tensor(c.x, seed++, -3, 3);
    for (bool average : {false, true}) {
      Node node;
      node.name = c.name;
      node.op_type = average ? "AveragePool" : "MaxPool";
      node.attributes = pool_attrs(c, average);
      auto attrs = kernels::parse_window_attrs(node);
      ASSERT_TRUE(attrs.is_ok()) << attrs.status().message();
      auto g = kernels::pool_geometry(*attrs, c.x, node);
      ASSERT_TRUE(g.is_ok()) << c.name << ": " << g.status().message();
      Tensor want(DType::kF32, g->out_shape());
      if (average) kernels::ref::average_pool<float>(*g, c.count_include_pad, x.data<float>(), want.mutable_data<float>());
      else kernels::ref::max_pool<float>(*g, x.data<float>(), want.mutable_data<float>(), nullptr, false);
      const std::string what = std::string(average ? "AveragePool " : "MaxPool ") + c.name + " x " + shape_str(c.x);
      const auto out = run_op_all_threads(OpRun{node.op_type, {x}, node.attributes}, what);
      if (!out.empty()) expect_close(out[0], want, average ? 1e-5 * 3 : 0.0, what);
    }
  }
}

TEST(DensePool, MaxPoolIndicesAndInt8) {
  const PoolCase c{"indices", {2, 3, 7, 6}, {3, 2}, {2, 2}, {1, 0, 1, 1}};
  const Tensor x = random_tensor(c.x, 77);
  for (int order : {0, 1}) {
    std::vector<Attribute> attrs = pool_attrs(c, false);
    attrs.push_back(Attribute::make_int("storage_order", order));
    const auto out = run_op_all_threads(OpRun{"MaxPool", {x}, attrs, {}, 2}, "MaxPool with Indices");
    ASSERT_EQ(out.size(), 2u);
    const Tensor& y = out[0];
    const Tensor& idx = out[1];
    ASSERT_EQ(idx.dtype(), DType::kI64);
    // Every index points at an input element equal to the max (decoded per storage order).
    const int64_t h = 7, w = 6;
    for (int64_t i = 0; i < y.numel(); ++i) {
      const int64_t flat = idx.data<int64_t>()[i], plane = flat / (h * w), off = flat % (h * w);
      const int64_t row = order == 0 ? off / w : off % h, col = order == 0 ? off % w : off / h;
      EXPECT_EQ(x.data<float>()[plane * h * w + row * w + col], y.data<float>()[i]) << "output " << i << " order " << order;
    }
  }
  const Tensor xi = random_tensor<uint8_t>({1, 2, 5, 5}, 78, 0, 255);
  auto out = run_op(OpRun{"MaxPool", {xi}, {Attribute::make_ints("kernel_shape", {5, 5}), Attribute::make_ints("pads", {2, 2, 2, 2})}}, 2);
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  const Tensor& y = (*out)[0];
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t oy = 0; oy < 5; ++oy)
      for (int64_t ox = 0; ox < 5; ++ox) {
        uint8_t best = 0;
        for (int64_t iy = std::max<int64_t>(0, oy - 2); iy <= std::min<int64_t>(4, oy + 2); ++iy)
          for (int64_t ix = std::max<int64_t>(0, ox - 2); ix <= std::min<int64_t>(4, ox + 2); ++ix)
            best = std::max(best, xi.data<uint8_t>()[p * 25 + iy * 5 + ix]);
        EXPECT_EQ(y.data<uint8_t>()[p * 25 + oy * 5 + ox], best);
      }
}

TEST(DensePool, GlobalPoolsMatchReference) {
  for (const Shape& s : {Shape{1, 3, 13, 13}, Shape{2, 5, 127}, Shape{3, 7, 1, 1}, Shape{1, 64, 8, 8, 2}}) {
    const Tensor x = random_tensor(s, 31);
    const int64_t planes = s[0] * s[1], plane = shape_numel(s) / planes;
    Shape os = s;
    for (size_t i = 2; i < os.size(); ++i) os[i] = 1;
    Tensor avg(DType::kF32, os), mx(DType::kF32, os);
    kernels::ref::global_average_pool<float>(planes, plane, x.data<float>(), avg.mutable_data<float>());
    kernels::ref::global_max_pool<float>(planes, plane, x.data<float>(), mx.mutable_data<float>());
    const auto a = run_op_all_threads(OpRun{"GlobalAveragePool", {x}}, "GlobalAveragePool " + shape_str(s));
    const auto m = run_op_all_threads(OpRun{"GlobalMaxPool", {x}}, "GlobalMaxPool " + shape_str(s));
    if (!a.empty()) expect_close(a[0], avg, 1e-6, "GlobalAveragePool " + shape_str(s));
    if (!m.empty()) expect_close(m[0], mx, 0.0, "GlobalMaxPool " + shape_str(s));
  }
}

TEST(DenseBatchNorm, InferenceMatchesReference) {
  for (const Shape& s : {Shape{2, 3, 5, 7}, Shape{1, 13, 127}, Shape{4, 6}, Shape{1, 64, 33, 17}}) {
    const int64_t c = s[1], n = s[0], sp = shape_numel(s) / (n * c);
    const Tensor x = random_tensor(s, 41), scale = random_tensor({c}, 42), bias = random_tensor({c}, 43);
    const Tensor mean = random_tensor({c}, 44), var = random_tensor({c}, 45, 0.1, 2.0);
    Tensor want(DType::kF32, s);
    kernels::ref::batch_norm<float>(n, c, sp, x.data<float>(), scale.data<float>(), bias.data<float>(), mean.data<float>(),
                                    var.data<float>(), 1e-3, want.mutable_data<float>());
    const auto out = run_op_all_threads(
        OpRun{"BatchNormalization", {x, scale, bias, mean, var}, {Attribute::make_float("epsilon", 1e-3f)}},
        "BatchNormalization " + shape_str(s));
    if (!out.empty()) expect_close(out[0], want, 2e-5 * (1 + 4 * max_abs(x)), "BatchNormalization " + shape_str(s));
  }
}

TEST(DenseBatchNorm, TrainingModeUsesBatchStatistics) {
  const Shape s{2, 3, 4, 5};
  const Tensor x = random_tensor(s, 51), scale = random_tensor({3}, 52), bias = random_tensor({3}, 53);
  const Tensor mean = random_tensor({3}, 54), var = random_tensor({3}, 55, 0.1, 2.0);
  Tensor want(DType::kF32, s), rm(DType::kF32, {3}), rv(DType::kF32, {3});
  kernels::ref::batch_norm_training<float>(2, 3, 20, x.data<float>(), scale.data<float>(), bias.data<float>(),
                                           mean.data<float>(), var.data<float>(), 1e-5, 0.9, want.mutable_data<float>(),
                                           rm.mutable_data<float>(), rv.mutable_data<float>());
  OpRun r{"BatchNormalization", {x, scale, bias, mean, var}, {Attribute::make_int("training_mode", 1)}, {}, 3, 15};
  const auto out = run_op_all_threads(r, "BatchNormalization training");
  ASSERT_EQ(out.size(), 3u);
  expect_close(out[0], want, 1e-5, "training y");
  expect_close(out[1], rm, 1e-6, "running mean");
  expect_close(out[2], rv, 1e-6, "running var");
}

}  // namespace
}  // namespace bitsmith::test
