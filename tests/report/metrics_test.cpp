#include "bitsmith/report/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "bitsmith/runtime/bench.h"

namespace bitsmith {
namespace {

TEST(Accuracy, Top1AndTop5FromClassIds) {
  // 3 rows, 6 classes. Row 0: label is argmax. Row 1: label ranks 3rd. Row 2: label ranks last.
  Tensor logits = Tensor::from_vector<float>({0, 9, 1, 2, 3, 4,   // argmax 1
                                              5, 4, 3, 2, 1, 0,   // label 2 -> rank 3
                                              5, 4, 3, 2, 1, 0},  // label 5 -> rank 6
                                             {3, 6});
  Tensor labels = Tensor::from_vector<int64_t>({1, 2, 5}, {3});
  AccuracyAccumulator acc;
  ASSERT_TRUE(acc.add(logits, labels).is_ok());
  const AccuracyMetrics m = acc.finish();
  EXPECT_EQ(m.samples, 3);
  EXPECT_DOUBLE_EQ(m.top1, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.top5, 2.0 / 3);
}

TEST(Accuracy, OneHotLabelsAndErrors) {
  Tensor logits = Tensor::from_vector<float>({1, 0, 0, 1}, {2, 2});
  Tensor one_hot = Tensor::from_vector<float>({1, 0, 1, 0}, {2, 2});
  AccuracyAccumulator acc;
  ASSERT_TRUE(acc.add(logits, one_hot).is_ok());
  EXPECT_DOUBLE_EQ(acc.finish().top1, 0.5);

  AccuracyAccumulator bad;
  Status s = bad.add(logits, Tensor::from_vector<int64_t>({0, 7}, {2}));
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("not a class id"), std::string::npos) << s.message();
  s = bad.add(logits, Tensor::from_vector<int64_t>({0, 1, 1}, {3}));
  EXPECT_NE(s.message().find("rows"), std::string::npos) << s.message();
}

TEST(Fidelity, IdenticalOutputsArePerfect) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3, -1, 0, 4}, {2, 3});
  FidelityAccumulator f;
  ASSERT_TRUE(f.add(a, a).is_ok());
  const FidelityMetrics m = f.finish();
  EXPECT_EQ(m.top1_agreement, 1.0);
  EXPECT_NEAR(m.cosine, 1.0, 1e-12);
  EXPECT_TRUE(std::isinf(m.sqnr_db));
  EXPECT_EQ(m.max_abs_err, 0.0);
  EXPECT_NEAR(m.kld_mean, 0.0, 1e-12);
}

TEST(Fidelity, KlAndSqnrMatchTheirDefinitions) {
  // One row of two classes: ref logits (0, 0) -> p = (.5, .5); out logits (0, ln 3) -> q = (.25, .75).
  Tensor ref = Tensor::from_vector<float>({0.f, 0.f}, {1, 2});
  Tensor out = Tensor::from_vector<float>({0.f, static_cast<float>(std::log(3.0))}, {1, 2});
  FidelityAccumulator f;
  ASSERT_TRUE(f.add(out, ref).is_ok());
  const FidelityMetrics m = f.finish();
  const double expected_kl = 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75);
  EXPECT_NEAR(m.kld_mean, expected_kl, 1e-6);
  EXPECT_NEAR(m.kld_p99, expected_kl, 1e-6);
  EXPECT_EQ(m.top1_agreement, 0.0);  // ref ties -> argmax 0; out argmax 1
  // The reference is all zero, so sqnr = 10 log10(0 / err^2) = -inf.
  EXPECT_TRUE(std::isinf(m.sqnr_db) && m.sqnr_db < 0);
}

TEST(Fidelity, SqnrAndCosine) {
  Tensor ref = Tensor::from_vector<float>({3, 4}, {1, 2});
  Tensor out = Tensor::from_vector<float>({3, 3}, {1, 2});
  FidelityAccumulator f;
  ASSERT_TRUE(f.add(out, ref).is_ok());
  const FidelityMetrics m = f.finish();
  EXPECT_NEAR(m.sqnr_db, 10 * std::log10(25.0 / 1.0), 1e-9);
  EXPECT_NEAR(m.cosine, 21.0 / (5.0 * std::sqrt(18.0)), 1e-9);
  EXPECT_EQ(m.max_abs_err, 1.0);
}

TEST(Fidelity, ShapeMismatchIsAnError) {
  FidelityAccumulator f;
  Status s = f.add(Tensor(DType::kF32, {2, 3}), Tensor(DType::kF32, {3, 2}));
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("[2, 3]"), std::string::npos) << s.message();
}

TEST(Bench, LatencyStatsUseNearestRank) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);
  const LatencyStats s = latency_stats(samples, 4);
  EXPECT_EQ(s.min_ms, 1);
  EXPECT_EQ(s.p50_ms, 50);
  EXPECT_EQ(s.p90_ms, 90);
  EXPECT_EQ(s.p99_ms, 99);
  EXPECT_DOUBLE_EQ(s.mean_ms, 50.5);
  EXPECT_DOUBLE_EQ(s.throughput_per_s, 4 * 1000.0 / 50);
}

TEST(Bench, RandomFeedsFollowTheModelShapes) {
  ValueInfo v;
  v.name = "x";
  v.type = TypeInfo::tensor(DType::kF32, {1, 3});
  v.type.dims[0] = Dim{-1, "batch", ""};
  auto feeds = make_random_feeds({v}, 5, 7);
  ASSERT_TRUE(feeds.is_ok()) << feeds.status().message();
  EXPECT_EQ((*feeds)[0].second.shape(), (Shape{5, 3}));
  auto again = make_random_feeds({v}, 5, 7);
  EXPECT_TRUE((*feeds)[0].second.same_content((*again)[0].second));  // seeded: deterministic

  v.type.dims[0] = Dim{2, "", ""};
  auto bad = make_random_feeds({v}, 5, 7);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("static batch"), std::string::npos);
}

}  // namespace
}  // namespace bitsmith
