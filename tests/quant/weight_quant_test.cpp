// Weight quantization (bitsmith/quant/weight_quant.h) against independent references:
//   - parameters against the header's formulas, written out here per element with plain loops;
//   - codes against the runtime's QuantizeLinear kernel run through the Executor on a tiny graph
//     built from the computed parameters (same bytes, 4-bit packing included), and
//     dequantize_tensor against DequantizeLinear (same floats);
//   - the AVX2 row kernels against their scalar twins on awkward shapes at 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bitsmith/quant/weight_quant.h"
#include "bitsmith/runtime/executor.h"
#include "quant/weight_quant_internal.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

Tensor random_weights(const Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f, std::string name = "w") {
  Tensor t(DType::kF32, shape, std::move(name));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data<float>()[i] = dist(rng);
  return t;
}

// Element i of a quantized tensor as an integer (4-bit: element 2k in the low nibble).
int32_t code_at(const Tensor& q, int64_t i) {
  const auto* b = reinterpret_cast<const uint8_t*>(q.bytes());
  switch (q.dtype()) {
    case DType::kI8: return static_cast<int8_t>(b[i]);
    case DType::kU8: return b[i];
    case DType::kI4:
    case DType::kU4: {
      const int nib = i % 2 == 0 ? b[i / 2] & 0xf : b[i / 2] >> 4;
      return q.dtype() == DType::kI4 && nib >= 8 ? nib - 16 : nib;
    }
    default: ADD_FAILURE() << "unexpected dtype"; return 0;
  }
}

// Index of the parameter of flat element i, from the QuantParams contract.
int64_t param_index(const Shape& shape, const QuantParams& p, int64_t i) {
  if (p.axis < 0) return 0;
  std::vector<int64_t> idx(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  if (p.block_size == 0) return idx[p.axis];
  int64_t k = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t dim = static_cast<int64_t>(d) == p.axis ? (shape[d] + p.block_size - 1) / p.block_size : shape[d];
    const int64_t v = static_cast<int64_t>(d) == p.axis ? idx[d] / p.block_size : idx[d];
    k = k * dim + v;
  }
  return k;
}

bool is_signed_q(DType t) { return t == DType::kI8 || t == DType::kI4; }

std::string describe(const WeightQuantSpec& s, const Shape& shape) {
  return std::string(dtype_name(s.qdtype)) + " gran=" + std::to_string(static_cast<int>(s.granularity)) +
         " axis=" + std::to_string(s.axis) + " block=" + std::to_string(s.block_size) +
         (s.symmetric ? " sym" : " asym") + (s.reduce_range ? " reduce" : "") + " shape=" + shape_str(shape);
}

std::vector<WeightQuantSpec> all_specs(int rank, int64_t block) {
  std::vector<WeightQuantSpec> specs;
  for (DType t : {DType::kI8, DType::kU8, DType::kI4, DType::kU4})
    for (bool sym : {true, false})
      for (bool reduce : {false, true}) {
        if (reduce && dtype_bits(t) != 8) continue;
        specs.push_back({t, Granularity::kPerTensor, 0, 32, sym, reduce});
        for (int axis = 0; axis < rank; ++axis) {
          specs.push_back({t, Granularity::kPerChannel, axis, 32, sym, reduce});
          specs.push_back({t, Granularity::kPerBlock, axis - (axis == rank - 1 ? rank : 0), block, sym, reduce});
        }
      }
  return specs;
}

// The header's parameter formulas, per group, from a plain min/max over the elements.
void check_params_formula(const Tensor& w, const WeightQuantSpec& spec, const QuantParams& p) {
  const std::string what = describe(spec, w.shape());
  ASSERT_TRUE(p.validate(w.shape()).is_ok()) << what << ": " << p.validate(w.shape()).message();
  std::vector<float> lo(p.scales.size(), 0.f), hi(p.scales.size(), 0.f);  // range includes 0
  for (int64_t i = 0; i < w.numel(); ++i) {
    const int64_t k = param_index(w.shape(), p, i);
    lo[k] = std::min(lo[k], w.data<float>()[i]);
    hi[k] = std::max(hi[k], w.data<float>()[i]);
  }
  int32_t qmin = 0, qmax = 0;
  quant_range(spec.qdtype, spec.reduce_range, &qmin, &qmax);
  const bool sgn = is_signed_q(spec.qdtype);
  EXPECT_EQ(p.zero_points.empty(), spec.symmetric && sgn) << what;
  for (size_t k = 0; k < p.scales.size(); ++k) {
    double want = 0;
    int32_t zp_sym = sgn ? 0 : (qmin + qmax + 1) / 2;
    if (spec.symmetric) want = std::max(-static_cast<double>(lo[k]), static_cast<double>(hi[k])) / (qmax - zp_sym);
    else want = (static_cast<double>(hi[k]) - lo[k]) / (qmax - qmin);
    const float wantf = want == 0 ? 1.f : static_cast<float>(want);
    // The scale may be nudged up a few ulps so that rounding keeps the codes in range.
    EXPECT_GE(p.scales[k], wantf) << what << " scale " << k;
    EXPECT_LE(p.scales[k], wantf * (1 + 8 * std::numeric_limits<float>::epsilon())) << what << " scale " << k;
    const int32_t zp = p.zero_points.empty() ? 0 : p.zero_points[k];
    if (spec.symmetric) {
      EXPECT_EQ(zp, zp_sym) << what;
    } else {
      const double z = std::nearbyint(qmin - static_cast<double>(lo[k]) / p.scales[k]);
      EXPECT_EQ(zp, static_cast<int32_t>(std::min<double>(std::max<double>(z, qmin), qmax))) << what << " zp " << k;
    }
  }
}

// Runs QuantizeLinear and DequantizeLinear (opset 21) with p's scales and zero points.
Expected<std::vector<Tensor>> run_runtime_qdq(const Tensor& w, const QuantParams& p) {
  Shape sshape;
  if (p.axis >= 0 && p.block_size == 0) sshape = {static_cast<int64_t>(p.scales.size())};
  if (p.block_size > 0) {
    sshape = w.shape();
    sshape[p.axis] = (sshape[p.axis] + p.block_size - 1) / p.block_size;
  }
  Tensor scale(DType::kF32, sshape, "scale");
  for (size_t k = 0; k < p.scales.size(); ++k) scale.mutable_data<float>()[k] = p.scales[k];
  Tensor zp(p.qdtype, sshape, "zp");  // zeros when p has none (sets the output dtype)
  auto* zb = reinterpret_cast<uint8_t*>(zp.mutable_bytes());
  for (size_t k = 0; k < p.zero_points.size(); ++k) {
    const uint8_t v = static_cast<uint8_t>(p.zero_points[k]);
    if (dtype_bits(p.qdtype) == 8) zb[k] = v;
    else zb[k / 2] = static_cast<uint8_t>(k % 2 == 0 ? (zb[k / 2] & 0xf0) | (v & 0xf) : (zb[k / 2] & 0x0f) | (v << 4));
  }
  std::vector<test::DimArg> dims(w.shape().begin(), w.shape().end());
  test::GraphBuilder b;
  const std::vector<Attribute> attrs = {test::attr_int("axis", std::max(p.axis, 0)),
                                        test::attr_int("block_size", p.block_size)};
  b.input("x", DType::kF32, dims)
      .initializer(scale)
      .initializer(zp)
      .node("QuantizeLinear", {"x", "scale", "zp"}, {"q"}, attrs)
      .node("DequantizeLinear", {"q", "scale", "zp"}, {"y"}, attrs)
      .output("q", p.qdtype, dims)
      .output("y", DType::kF32, dims);
  BS_ASSIGN_OR_RETURN(auto exec, Executor::create(b.model(21)));
  return exec->run({{"x", w}});
}

TEST(WeightQuant, QuantRange) {
  int32_t lo = 0, hi = 0;
  quant_range(DType::kI8, false, &lo, &hi);
  EXPECT_EQ(lo, -128); EXPECT_EQ(hi, 127);
  quant_range(DType::kI8, true, &lo, &hi);
  EXPECT_EQ(lo, -64); EXPECT_EQ(hi, 63);
  quant_range(DType::kU8, true, &lo, &hi);
  EXPECT_EQ(lo, 0); EXPECT_EQ(hi, 127);
  quant_range(DType::kI4, true, &lo, &hi);  // no effect on 4-bit
  EXPECT_EQ(lo, -8); EXPECT_EQ(hi, 7);
  quant_range(DType::kU4, false, &lo, &hi);
  EXPECT_EQ(lo, 0); EXPECT_EQ(hi, 15);
}

// Every dtype x granularity x scheme on tensors whose blocks do and do not divide the axis:
// parameters follow the formulas, codes equal the runtime QuantizeLinear's bytes, dequantized
// values equal DequantizeLinear's, codes stay in the (reduced) range, error <= scale / 2.
TEST(WeightQuant, MatchesFormulasAndRuntimeKernels) {
  const std::vector<std::pair<Shape, int64_t>> cases = {{{6, 40}, 16}, {{5, 7, 3}, 3}, {{9}, 4}, {{4, 33}, 32}};
  uint32_t seed = 1;
  for (const auto& [shape, block] : cases) {
    Tensor w = random_weights(shape, seed++, -0.7f, 1.3f);
    w.mutable_data<float>()[0] = -2.5f;  // one larger value so groups differ
    for (const WeightQuantSpec& spec : all_specs(static_cast<int>(shape.size()), block)) {
      const std::string what = describe(spec, shape);
      auto p = compute_weight_params(w, spec);
      ASSERT_TRUE(p.is_ok()) << what << ": " << p.status().message();
      check_params_formula(w, spec, *p);
      auto q = quantize_tensor(w, *p);
      ASSERT_TRUE(q.is_ok()) << what << ": " << q.status().message();
      ASSERT_EQ(q->dtype(), spec.qdtype) << what;
      EXPECT_EQ(q->name(), "w");
      ASSERT_TRUE(q->quant().has_value());
      EXPECT_EQ(q->quant()->scales, p->scales);
      EXPECT_EQ(q->nbytes(), storage_nbytes(spec.qdtype, w.numel()));
      auto rt = run_runtime_qdq(w, *p);
      ASSERT_TRUE(rt.is_ok()) << what << ": " << rt.status().message();
      ASSERT_EQ((*rt)[0].nbytes(), q->nbytes()) << what;
      EXPECT_EQ(0, std::memcmp((*rt)[0].bytes(), q->bytes(), q->nbytes())) << what;
      auto dq = dequantize_tensor(*q);
      ASSERT_TRUE(dq.is_ok()) << what << ": " << dq.status().message();
      EXPECT_EQ(0, std::memcmp((*rt)[1].bytes(), dq->bytes(), dq->nbytes())) << what;
      int32_t qmin = 0, qmax = 0;
      quant_range(spec.qdtype, spec.reduce_range, &qmin, &qmax);
      for (int64_t i = 0; i < w.numel(); ++i) {
        const int32_t c = code_at(*q, i);
        ASSERT_GE(c, qmin) << what << " element " << i;
        ASSERT_LE(c, qmax) << what << " element " << i;
        const float s = p->scales[static_cast<size_t>(param_index(shape, *p, i))];
        ASSERT_LE(std::fabs(dq->data<float>()[i] - w.data<float>()[i]), 0.5f * s * 1.0001f) << what << " element " << i;
      }
    }
  }
}

TEST(WeightQuant, RoundsHalfToEvenAndPacksLowNibbleFirst) {
  const std::vector<float> v = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.5f, 7.f, -8.f};
  const Tensor w = Tensor::from_vector<float>(v, {static_cast<int64_t>(v.size())}, "halves");
  QuantParams p;
  p.qdtype = DType::kI4;
  p.scales = {1.f};
  auto q = quantize_tensor(w, p, 1);
  ASSERT_TRUE(q.is_ok()) << q.status().message();
  ASSERT_EQ(q->nbytes(), (v.size() + 1) / 2);
  const auto* bytes = reinterpret_cast<const uint8_t*>(q->bytes());
  for (size_t i = 0; i < v.size(); ++i) {
    const int32_t want = static_cast<int32_t>(std::nearbyint(v[i]));
    const int nib = (i % 2 == 0) ? bytes[i / 2] & 0xf : bytes[i / 2] >> 4;
    EXPECT_EQ(nib, want & 0xf) << "element " << i;
  }
  EXPECT_EQ(bytes[v.size() / 2] >> 4, 0) << "padding nibble of an odd count";
}

TEST(WeightQuant, AllZeroChannelGetsScaleOne) {
  Tensor w = random_weights({3, 8}, 7);
  for (int j = 0; j < 8; ++j) w.mutable_data<float>()[8 + j] = 0.f;
  for (bool sym : {true, false}) {
    auto p = compute_weight_params(w, {DType::kU8, Granularity::kPerChannel, 0, 32, sym, false});
    ASSERT_TRUE(p.is_ok());
    EXPECT_EQ(p->scales[1], 1.f);
    auto q = quantize_tensor(w, *p);
    ASSERT_TRUE(q.is_ok());
    for (int j = 0; j < 8; ++j) EXPECT_EQ(code_at(*q, 8 + j), p->zero_points[1]);
  }
}

// The AVX2 kernels against the scalar twins: same parameters and bytes at 1 and 2 threads.
TEST(WeightQuant, FastPathMatchesScalarTwinOnAwkwardShapes) {
  const std::vector<Shape> shapes = {{1, 37}, {3, 13}, {13, 33}, {127, 5}, {5, 127}, {1}, {2, 3, 7, 5}, {31, 65}};
  uint32_t seed = 100;
  for (const Shape& shape : shapes) {
    const Tensor w = random_weights(shape, seed++, -2.f, 1.f);
    for (const WeightQuantSpec& spec : all_specs(static_cast<int>(shape.size()), 5)) {
      const std::string what = describe(spec, shape);
      auto ref_p = quant::compute_weight_params_impl(w, spec, 1, true);
      ASSERT_TRUE(ref_p.is_ok()) << what << ": " << ref_p.status().message();
      auto ref_q = quant::quantize_tensor_impl(w, *ref_p, 1, true);
      ASSERT_TRUE(ref_q.is_ok()) << what;
      for (int threads : {1, 2}) {
        // Two threads on a subset (every granularity and axis, one signed 8-bit asymmetric and
        // one packed 4-bit scheme): the work split does not depend on the dtype, and each
        // parallel region is slow to start on a loaded machine.
        const bool subset = (spec.qdtype == DType::kI8 && !spec.symmetric && spec.reduce_range) ||
                            (spec.qdtype == DType::kU4 && spec.symmetric);
        if (threads == 2 && !subset) continue;
        auto p = quant::compute_weight_params_impl(w, spec, threads, false);
        ASSERT_TRUE(p.is_ok()) << what;
        EXPECT_EQ(p->scales, ref_p->scales) << what << " threads " << threads;
        EXPECT_EQ(p->zero_points, ref_p->zero_points) << what << " threads " << threads;
        auto q = quant::quantize_tensor_impl(w, *ref_p, threads, false);
        ASSERT_TRUE(q.is_ok()) << what;
        EXPECT_TRUE(q->same_content(*ref_q)) << what << " threads " << threads;
      }
    }
  }
}

// Large enough that every kernel runs its 32-wide loop and several work items per thread.
TEST(WeightQuant, FastPathMatchesScalarTwinLarge) {
  const Tensor w = random_weights({67, 1029}, 9, -3.f, 2.f);
  for (Granularity g : {Granularity::kPerTensor, Granularity::kPerChannel, Granularity::kPerBlock})
    for (int axis : {0, 1})
      for (DType t : {DType::kI8, DType::kU4}) {
        const WeightQuantSpec spec{t, g, axis, 32, t == DType::kI8, false};
        auto ref_p = quant::compute_weight_params_impl(w, spec, 1, true);
        ASSERT_TRUE(ref_p.is_ok());
        auto ref_q = quant::quantize_tensor_impl(w, *ref_p, 1, true);
        ASSERT_TRUE(ref_q.is_ok());
        auto p = quant::compute_weight_params_impl(w, spec, 2, false);
        ASSERT_TRUE(p.is_ok());
        EXPECT_EQ(p->scales, ref_p->scales) << describe(spec, w.shape());
        auto q = quant::quantize_tensor_impl(w, *p, 2, false);
        ASSERT_TRUE(q.is_ok());
        EXPECT_TRUE(q->same_content(*ref_q)) << describe(spec, w.shape());
      }
}

TEST(WeightQuant, BadInputNamesTheTensor) {
  const Tensor w = random_weights({4, 6}, 3, -1.f, 1.f, "conv1.weight");
  const auto expect_bad = [](const Status& s, const std::string& needle) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
    EXPECT_NE(s.message().find("conv1.weight"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
  };
  Tensor i32(DType::kI32, {4, 6}, "conv1.weight");
  expect_bad(compute_weight_params(i32, {}).status(), "expected f32");
  expect_bad(compute_weight_params(w, {DType::kI8, Granularity::kPerChannel, 2}).status(), "axis 2");
  expect_bad(compute_weight_params(w, {DType::kI8, Granularity::kPerChannel, -3}).status(), "axis -3");
  expect_bad(compute_weight_params(w, {DType::kI8, Granularity::kPerBlock, 1, 1}).status(), "block size 1");
  expect_bad(compute_weight_params(w, {DType::kI16, Granularity::kPerTensor}).status(), "i16");
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    Tensor wb = w.clone();
    wb.set_name("conv1.weight");
    wb.mutable_data<float>()[13] = bad;
    for (Granularity g : {Granularity::kPerTensor, Granularity::kPerChannel, Granularity::kPerBlock})
      for (bool scalar : {false, true})
        expect_bad(quant::compute_weight_params_impl(wb, {DType::kI8, g, 1, 4}, 1, scalar).status(), "element 13");
    QuantParams p;
    p.scales = {0.1f};
    expect_bad(quantize_tensor(wb, p).status(), "element 13");
  }
  QuantParams wrong;
  wrong.axis = 0;
  wrong.scales = {1.f, 1.f};  // 4 expected
  expect_bad(quantize_tensor(w, wrong).status(), "scales");
  expect_bad(quantize_tensor(i32, QuantParams{}).status(), "expected f32");
  EXPECT_EQ(dequantize_tensor(w).status().code(), StatusCode::kInvalidArgument);
}

TEST(WeightQuant, ActivationParams) {
  // Asymmetric u8 on [-1, 3]: scale = 4 / 255, zero point = round(0 - (-1) / scale).
  QuantParams p = activation_params(-1.f, 3.f, DType::kU8, false);
  ASSERT_TRUE(p.validate({}).is_ok());
  const float s = static_cast<float>(4.0 / 255.0);
  EXPECT_EQ(p.scales[0], s);
  ASSERT_EQ(p.zero_points.size(), 1u);
  EXPECT_EQ(p.zero_points[0], static_cast<int32_t>(std::nearbyint(1.0 / s)));
  // The range is widened to include 0.
  p = activation_params(2.f, 5.f, DType::kU8, false);
  EXPECT_EQ(p.scales[0], static_cast<float>(5.0 / 255.0));
  EXPECT_EQ(p.zero_points[0], 0);
  // Symmetric: zero point 0 (i8) or 128 (u8), scale max|x| / 127.
  p = activation_params(-3.f, 1.f, DType::kI8, true);
  EXPECT_EQ(p.scales[0], static_cast<float>(3.0 / 127.0));
  EXPECT_EQ(p.zero_points[0], 0);
  p = activation_params(-3.f, 1.f, DType::kU8, true);
  EXPECT_EQ(p.scales[0], static_cast<float>(3.0 / 127.0));
  EXPECT_EQ(p.zero_points[0], 128);
  p = activation_params(-1.f, 3.f, DType::kI8, true, true);  // reduce_range: 63 levels
  EXPECT_EQ(p.scales[0], static_cast<float>(3.0 / 63.0));
  // Degenerate and non-finite ranges still give valid parameters.
  EXPECT_EQ(activation_params(0.f, 0.f, DType::kU8, false).scales[0], 1.f);
  EXPECT_TRUE(activation_params(std::nanf(""), std::numeric_limits<float>::infinity(), DType::kU8, false)
                  .validate({})
                  .is_ok());
}

TEST(WeightQuant, QuantError) {
  const Tensor a = Tensor::from_vector<float>({1.f, 2.f, -2.f}, {3});
  const Tensor b = Tensor::from_vector<float>({1.f, 1.f, -2.f}, {3});
  const QuantError exact = quant_error(a, a);
  EXPECT_TRUE(std::isinf(exact.sqnr_db));
  EXPECT_DOUBLE_EQ(exact.cosine, 1.0);
  EXPECT_EQ(exact.max_abs, 0.0);
  const QuantError e = quant_error(a, b);
  EXPECT_DOUBLE_EQ(e.sqnr_db, 10.0 * std::log10(9.0 / 1.0));
  EXPECT_DOUBLE_EQ(e.cosine, (1.0 + 2.0 + 4.0) / std::sqrt(9.0 * 6.0));
  EXPECT_DOUBLE_EQ(e.max_abs, 1.0);
}

TEST(WeightQuant, ResultsIndependentOfThreadCount) {
  const Tensor w = random_weights({96, 130}, 11);
  for (const WeightQuantSpec& spec : all_specs(2, 32)) {
    auto p = compute_weight_params(w, spec);
    ASSERT_TRUE(p.is_ok());
    auto q1 = quantize_tensor(w, *p, 1);
    auto q2 = quantize_tensor(w, *p, 2);
    ASSERT_TRUE(q1.is_ok() && q2.is_ok());
    EXPECT_TRUE(q1->same_content(*q2)) << describe(spec, w.shape());
  }
}

}  // namespace
}  // namespace bitsmith
