// Observers (bitsmith/quant/observer.h) on synthetic data whose answers the tests compute:
// exact min/max, the moving-average recurrence, percentiles of a ramp, clip thresholds of
// entropy / mse on heavy-tailed versus uniform data; plus the histogram's invariants (fixed
// memory, exact merging on range growth, NaN / Inf handling).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "bitsmith/quant/observer.h"
#include "quant/histogram.h"

namespace bitsmith {
namespace {

std::vector<float> uniform(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

// Laplace(0, b) by inverse CDF, plus `outliers` values at +-outlier_value.
std::vector<float> laplace_with_outliers(int64_t n, float b, int outliers, float outlier_value, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) {
    const double r = u(rng);
    x = static_cast<float>(-b * (r < 0 ? -1 : 1) * std::log(1 - 2 * std::fabs(r)));
  }
  for (int i = 0; i < outliers; ++i) v[static_cast<size_t>(i * 97)] = i % 2 ? outlier_value : -outlier_value;
  return v;
}

std::unique_ptr<Observer> observer(ObserverKind kind, int bins = 2048) {
  ObserverOptions o;
  o.kind = kind;
  o.bins = bins;
  return make_observer(o);
}

TEST(ObserverMinMax, ExactOverBatches) {
  auto obs = observer(ObserverKind::kMinMax);
  EXPECT_EQ(obs->range(DType::kU8, false), (std::pair<float, float>{0.f, 0.f}));
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (uint32_t b = 0; b < 20; ++b) {
    const auto x = uniform(100 + b, -1.f - b * 0.1f, 0.5f + b * 0.05f, b);
    for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
    obs->observe(x.data(), static_cast<int64_t>(x.size()));
  }
  EXPECT_EQ(obs->range(DType::kU8, false), (std::pair<float, float>{lo, hi}));
  const float a = std::max(-lo, hi);
  EXPECT_EQ(obs->range(DType::kI8, true), (std::pair<float, float>{-a, a}));
  EXPECT_EQ(obs->observed_min(), lo);
  EXPECT_EQ(obs->observed_max(), hi);
  EXPECT_STREQ(observer_kind_name(ObserverKind::kMinMax), "minmax");
}

TEST(ObserverMovingAverage, FollowsTheRecurrence) {
  ObserverOptions o;
  o.kind = ObserverKind::kMovingAverage;
  o.averaging_constant = 0.25;
  auto obs = make_observer(o);
  double lo = 0, hi = 0;
  for (uint32_t b = 0; b < 10; ++b) {
    const auto x = uniform(64, -2.f + b * 0.3f, 1.f + b * 0.5f, b + 50);
    const float bl = *std::min_element(x.begin(), x.end()), bh = *std::max_element(x.begin(), x.end());
    if (b == 0) {
      lo = bl, hi = bh;
    } else {
      lo += 0.25 * (bl - lo);
      hi += 0.25 * (bh - hi);
    }
    obs->observe(x.data(), 64);
  }
  const auto r = obs->range(DType::kU8, false);
  EXPECT_FLOAT_EQ(r.first, static_cast<float>(lo));
  EXPECT_FLOAT_EQ(r.second, static_cast<float>(hi));
  EXPECT_LT(r.second, obs->observed_max());  // the average lags the growing max
}

TEST(ObserverPercentile, UniformRamp) {
  const int64_t n = 200001;
  std::vector<float> ramp(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ramp[static_cast<size_t>(i)] = static_cast<float>(-1.0 + 2.0 * i / (n - 1));
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    ObserverOptions o;
    o.kind = ObserverKind::kPercentile;
    o.percentile = p;
    auto obs = make_observer(o);
    for (int64_t b = 0; b < n; b += 10000) obs->observe(ramp.data() + b, std::min<int64_t>(10000, n - b));
    // |x| is uniform on [0, 1]: its p-th percentile is p / 100; the histogram resolves 2 / bins.
    const auto r = obs->range(DType::kI8, true);
    EXPECT_NEAR(r.second, p / 100.0, 2.0 / 2048) << "p = " << p;
    EXPECT_EQ(r.first, -r.second);
  }
}

// Mean squared error of quantizing x symmetrically to 8 bits with clip threshold t.
double sample_mse(const std::vector<float>& x, double t) {
  const double s = t / 127;
  double e = 0;
  for (float v : x) {
    const double q = std::clamp(std::nearbyint(v / s), -127.0, 127.0) * s;
    e += (v - q) * (v - q);
  }
  return e / static_cast<double>(x.size());
}

// Entropy: clips well below max|x| on Laplace data with outliers, keeps ~max|x| on uniform data.
TEST(ObserverEntropyMse, EntropyClipsHeavyTailsKeepsUniformRange) {
  const auto heavy = laplace_with_outliers(200000, 1.f, 20, 60.f, 3);
  auto h = observer(ObserverKind::kEntropy);
  for (size_t b = 0; b < heavy.size(); b += 25000) h->observe(heavy.data() + b, 25000);
  const auto rh = h->range(DType::kI8, true);
  EXPECT_GT(rh.second, 2.f);                           // keeps the body of the distribution
  EXPECT_LT(rh.second, 0.5f * h->observed_max());      // clips the outliers
  const auto flat = uniform(200000, -1.f, 1.f, 4);
  auto f = observer(ObserverKind::kEntropy);
  for (size_t b = 0; b < flat.size(); b += 25000) f->observe(flat.data() + b, 25000);
  const auto rf = f->range(DType::kI8, true);
  const float fmax = std::max(-f->observed_min(), f->observed_max());
  EXPECT_GT(rf.second, 0.95f * fmax);
  EXPECT_LE(rf.second, fmax);
}

// MSE: the threshold's real quantization error is within 3 % of the best of a brute-force grid
// over the samples; one far outlier is clipped (keeping it would cost every other value), a
// uniform range is kept.
TEST(ObserverEntropyMse, MseNearBruteForceOptimum) {
  auto heavy = laplace_with_outliers(200000, 1.f, 0, 0.f, 5);
  heavy[123] = 40.f;
  auto h = observer(ObserverKind::kMse);
  for (size_t b = 0; b < heavy.size(); b += 25000) h->observe(heavy.data() + b, 25000);
  const float t = h->range(DType::kI8, true).second;
  double best = std::numeric_limits<double>::infinity(), best_t = 0;
  for (double c = 1.0; c <= 40.0; c += 0.25) {
    const double e = sample_mse(heavy, c);
    if (e < best) best = e, best_t = c;
  }
  ASSERT_LT(best_t, 20.0);  // the data clip
  EXPECT_LT(t, 0.5f * h->observed_max());
  EXPECT_LE(sample_mse(heavy, t), 1.03 * best) << "t = " << t << ", grid best " << best_t;
  const auto flat = uniform(200000, -1.f, 1.f, 6);
  auto f = observer(ObserverKind::kMse);
  for (size_t b = 0; b < flat.size(); b += 25000) f->observe(flat.data() + b, 25000);
  const float tf = f->range(DType::kI8, true).second;
  const float fmax = std::max(-f->observed_min(), f->observed_max());
  EXPECT_GT(tf, 0.95f * fmax);
  EXPECT_LE(tf, fmax);
}

// Asymmetric ranges for a ReLU output (all x >= 0) start at 0 and use the whole integer range.
TEST(ObserverEntropyMse, NonNegativeAsymmetricStartsAtZero) {
  auto x = laplace_with_outliers(100000, 1.f, 0, 0.f, 5);
  for (float& v : x) v = std::fabs(v);
  x[7] = 40.f;  // one far outlier: every kind clips it
  for (ObserverKind kind : {ObserverKind::kEntropy, ObserverKind::kMse, ObserverKind::kPercentile}) {
    auto obs = observer(kind);
    obs->observe(x.data(), static_cast<int64_t>(x.size()));
    const auto r = obs->range(DType::kU8, false);
    EXPECT_EQ(r.first, 0.f) << observer_kind_name(kind);
    EXPECT_GT(r.second, 1.f) << observer_kind_name(kind);
    EXPECT_LT(r.second, 40.f) << observer_kind_name(kind);
  }
}

TEST(ObserverHistogram, MemoryDoesNotGrowWithBatches) {
  for (ObserverKind kind : {ObserverKind::kMinMax, ObserverKind::kMovingAverage, ObserverKind::kPercentile,
                            ObserverKind::kEntropy, ObserverKind::kMse}) {
    auto obs = observer(kind, 256);
    const auto first = uniform(64, -1.f, 1.f, 0);
    obs->observe(first.data(), 64);
    const size_t bytes = obs->memory_bytes();
    std::vector<float> batch(64);
    for (int b = 1; b < 1000; ++b) {
      for (int i = 0; i < 64; ++i) batch[i] = static_cast<float>((i - 32) * (1 + b % 37)) * 0.01f * (1 + b / 100);
      obs->observe(batch.data(), 64);
    }
    EXPECT_EQ(obs->memory_bytes(), bytes) << observer_kind_name(kind);
    EXPECT_EQ(obs->count(), 64 * 1000) << observer_kind_name(kind);
  }
  quant::Histogram h(256);
  const size_t bytes = h.memory_bytes();
  for (int b = 0; b < 1000; ++b) {
    const auto x = uniform(32, -1.f * (b + 1), 1.f * (b + 1), b);
    h.add(x.data(), 32);
  }
  EXPECT_EQ(h.memory_bytes(), bytes);
  EXPECT_EQ(h.bins(), 256);
  EXPECT_EQ(h.total(), 32000);
}

// Growing the range merges bins exactly: the merged histogram equals binning everything at the
// final range directly, and the total count is kept.
TEST(ObserverHistogram, RangeGrowthMergesExactly) {
  const auto a = uniform(5000, -1.f, 1.f, 10);
  auto b = uniform(5000, -3.f, 3.5f, 11);
  b[0] = 3.5f;  // batch 2 grows a from max|a| to max|a| * 2^k
  quant::Histogram grown(512);
  grown.add(a.data(), 5000);
  const double a0 = grown.half_range();
  const int64_t before = grown.total();
  grown.add(b.data(), 5000);
  EXPECT_EQ(grown.total(), before + 5000);
  int64_t sum = 0;
  for (int64_t c : grown.counts()) sum += c;
  EXPECT_EQ(sum, 10000);
  const double ratio = grown.half_range() / a0;
  EXPECT_EQ(ratio, std::exp2(std::round(std::log2(ratio))));  // a power of two
  EXPECT_GE(grown.half_range(), 3.5);

  // Reference: bin every value at the final range with the bin formula.
  std::vector<int64_t> want(512, 0);
  const double half = grown.half_range(), w = 2 * half / 512;
  for (const std::vector<float>* v : {&a, static_cast<const std::vector<float>*>(&b)})
    for (float x : *v) ++want[static_cast<size_t>(std::min<int64_t>(511, static_cast<int64_t>(std::floor((x + half) / w))))];
  EXPECT_EQ(grown.counts(), want);
}

TEST(ObserverHistogram, NanCountedInfClamped) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (ObserverKind kind : {ObserverKind::kMinMax, ObserverKind::kPercentile, ObserverKind::kEntropy,
                            ObserverKind::kMse}) {
    auto obs = observer(kind, 256);
    const std::vector<float> all_nan = {nan, nan};
    obs->observe(all_nan.data(), 2);
    EXPECT_EQ(obs->count(), 0);
    EXPECT_EQ(obs->range(DType::kU8, false), (std::pair<float, float>{0.f, 0.f}));
    auto x = uniform(1000, -1.f, 2.f, 7);
    x[5] = nan;
    x[6] = nan;
    obs->observe(x.data(), 1000);
    EXPECT_EQ(obs->count(), 998) << observer_kind_name(kind);
    EXPECT_EQ(obs->nan_count(), 4) << observer_kind_name(kind);
    const auto r = obs->range(DType::kU8, false);
    EXPECT_TRUE(std::isfinite(r.first) && std::isfinite(r.second)) << observer_kind_name(kind);
    EXPECT_LE(r.second, 2.f);
  }
  quant::Histogram h(128);
  const std::vector<float> x = {0.5f, -1.f, inf, -inf, nan};
  h.add(x.data(), 5);
  EXPECT_EQ(h.half_range(), 1.0 * (1 + 1.0 / 256));  // max|x| + a quarter bin; Inf does not widen it
  EXPECT_EQ(h.total(), 4);
  EXPECT_EQ(h.counts().front(), 2);  // -1 and -Inf
  EXPECT_EQ(h.counts().back(), 1);   // +Inf
}

TEST(ObserverHistogram, AllZerosThenValues) {
  quant::Histogram h(128);
  const std::vector<float> zeros(10, 0.f), ones = {1.f, -1.f};
  h.add(zeros.data(), 10);
  EXPECT_EQ(h.half_range(), 0.0);
  h.add(ones.data(), 2);
  EXPECT_EQ(h.half_range(), 1.0 * (1 + 1.0 / 256));
  EXPECT_EQ(h.counts()[64], 10);  // [0, w)
  EXPECT_EQ(h.folded()[0], 10);
  EXPECT_EQ(h.total(), 12);
}

TEST(ObserverEntropyMse, Deterministic) {
  const auto x = laplace_with_outliers(50000, 0.5f, 5, 20.f, 9);
  for (ObserverKind kind : {ObserverKind::kEntropy, ObserverKind::kMse, ObserverKind::kPercentile}) {
    auto a = observer(kind), b = observer(kind);
    for (size_t i = 0; i < x.size(); i += 5000) a->observe(x.data() + i, 5000), b->observe(x.data() + i, 5000);
    EXPECT_EQ(a->range(DType::kI8, true), b->range(DType::kI8, true));
  }
}

}  // namespace
}  // namespace bitsmith
