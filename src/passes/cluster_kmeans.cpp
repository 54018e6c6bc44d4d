// cluster: 1-D k-means of one codebook (see fit_codebook in cluster_impl.h). Values are sorted
// once; each Lloyd step assigns by binary search over the centroids sorted by (value, index), so
// a step costs O(n log k). Everything runs serially in double, in a fixed order.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "passes/cluster_impl.h"

namespace bitsmith::cluster_detail {

namespace {

// Uniform double in [0, 1) from 53 bits of `rng` (the same on every standard library).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// `count` initial centroids over the sorted nonzero values `nz` (non-empty), ascending.
std::vector<double> initial_centroids(const std::vector<double>& nz, int count, ClusterInit init, bool zero_fixed,
                                      std::mt19937_64& rng) {
  std::vector<double> c;
  const double lo = nz.front(), hi = nz.back();
  const auto n = static_cast<int64_t>(nz.size());
  switch (init) {
    case ClusterInit::kLinear:
      for (int i = 0; i < count; ++i)
        c.push_back(count == 1 ? 0.5 * (lo + hi) : lo + (hi - lo) * i / (count - 1));
      break;
    case ClusterInit::kDensity:  // equally spaced quantiles (i + 1/2) / count of the empirical CDF
      for (int i = 0; i < count; ++i) {
        const double pos = (i + 0.5) / count * static_cast<double>(n - 1);
        const auto a = static_cast<int64_t>(std::floor(pos));
        const int64_t b = std::min(a + 1, n - 1);
        c.push_back(nz[a] + (nz[b] - nz[a]) * (pos - static_cast<double>(a)));
      }
      break;
    case ClusterInit::kKMeansPlusPlus: {
      // D^2 sampling (Arthur & Vassilvitskii 2007); the fixed zero counts as a chosen centroid.
      std::vector<double> d2(nz.size());
      auto update = [&](double centre, bool first) {
        for (size_t i = 0; i < nz.size(); ++i) {
          const double d = (nz[i] - centre) * (nz[i] - centre);
          d2[i] = first ? d : std::min(d2[i], d);
        }
      };
      c.push_back(nz[rng() % static_cast<uint64_t>(n)]);
      update(c.back(), true);
      if (zero_fixed) update(0.0, false);
      while (static_cast<int>(c.size()) < count) {
        const double total = std::accumulate(d2.begin(), d2.end(), 0.0);
        size_t pick = nz.size() - 1;
        if (total > 0) {
          const double u = uniform01(rng) * total;
          double run = 0;
          for (size_t i = 0; i < nz.size(); ++i) {
            run += d2[i];
            if (u < run && d2[i] > 0) {
              pick = i;
              break;
            }
          }
        }
        c.push_back(nz[pick]);  // total 0: every value is a centroid already (a duplicate)
        update(c.back(), false);
      }
      std::sort(c.begin(), c.end());
      break;
    }
  }
  return c;
}

// Nearest-centroid lookup: centroids sorted by (value, index).
class Nearest {
 public:
  Nearest(const std::vector<double>& centroids, bool zero_fixed) : zero_fixed_(zero_fixed) {
    for (size_t i = 0; i < centroids.size(); ++i) sorted_.emplace_back(centroids[i], static_cast<int>(i));
    std::sort(sorted_.begin(), sorted_.end());
  }
  // Nearest centroid of v; ties: the lower index. An exact zero goes to the fixed zero.
  uint8_t operator()(double v) const {
    if (zero_fixed_ && v == 0) return 0;
    auto first_of = [&](double value) {
      return std::lower_bound(sorted_.begin(), sorted_.end(), std::make_pair(value, -1));
    };
    auto right = first_of(v);  // lowest index among the smallest value >= v
    if (right == sorted_.begin()) return static_cast<uint8_t>(right->second);
    auto left = first_of(std::prev(right)->first);  // lowest index among the largest value < v
    if (right == sorted_.end()) return static_cast<uint8_t>(left->second);
    const double dl = v - left->first, dr = right->first - v;
    if (dl < dr) return static_cast<uint8_t>(left->second);
    if (dr < dl) return static_cast<uint8_t>(right->second);
    return static_cast<uint8_t>(std::min(left->second, right->second));
  }

 private:
  bool zero_fixed_;
  std::vector<std::pair<double, int>> sorted_;
};

double sse_of(const std::vector<double>& v, const std::vector<uint8_t>& a, const std::vector<double>& c) {
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += (v[i] - c[a[i]]) * (v[i] - c[a[i]]);
  return s;
}

}  // namespace

Codebook fit_codebook(const std::vector<float>& values, int k, ClusterInit init, int64_t iterations,
                      std::mt19937_64& rng) {
  Codebook cb;
  // Values sorted (stable: ties keep their order), and where each came from.
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> sv(values.size()), nz;
  for (size_t i = 0; i < order.size(); ++i) {
    sv[i] = values[order[i]];
    if (sv[i] == 0) cb.zero_fixed = true;
    else nz.push_back(sv[i]);
  }
  const int first = cb.zero_fixed ? 1 : 0;
  cb.centroids.assign(static_cast<size_t>(k), 0.0);
  if (!nz.empty()) {
    const std::vector<double> c = initial_centroids(nz, k - first, init, cb.zero_fixed, rng);
    std::copy(c.begin(), c.end(), cb.centroids.begin() + first);
  }

  std::vector<uint8_t> a(sv.size());
  auto assign_all = [&]() {
    const Nearest nearest(cb.centroids, cb.zero_fixed);
    bool changed = false;
    for (size_t i = 0; i < sv.size(); ++i) {
      const uint8_t j = nearest(sv[i]);
      changed = changed || j != a[i];
      a[i] = j;
    }
    return changed;
  };
  assign_all();
  cb.init_sse = sse_of(sv, a, cb.centroids);
  std::vector<double> sum(static_cast<size_t>(k));
  std::vector<int64_t> count(static_cast<size_t>(k));
  for (int64_t it = 0; it < iterations; ++it) {
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0);
    for (size_t i = 0; i < sv.size(); ++i) {
      sum[a[i]] += sv[i];
      ++count[a[i]];
    }
    for (int j = first; j < k; ++j)
      if (count[j] > 0) cb.centroids[j] = sum[j] / static_cast<double>(count[j]);
    ++cb.iterations_run;
    if (!assign_all()) break;
  }
  cb.sse = sse_of(sv, a, cb.centroids);  // same order of summation as init_sse
  // Free centroids back in ascending order (Lloyd keeps 1-D order except around empty ones).
  std::vector<int> perm(static_cast<size_t>(k));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin() + first, perm.end(), [&](int x, int y) { return cb.centroids[x] < cb.centroids[y]; });
  std::vector<uint8_t> new_index(static_cast<size_t>(k));
  std::vector<double> sorted(static_cast<size_t>(k));
  for (int j = 0; j < k; ++j) {
    new_index[perm[j]] = static_cast<uint8_t>(j);
    sorted[j] = cb.centroids[perm[j]];
  }
  cb.centroids = std::move(sorted);
  cb.assign.assign(values.size(), 0);
  for (size_t i = 0; i < sv.size(); ++i) cb.assign[order[i]] = new_index[a[i]];
  return cb;
}

}  // namespace bitsmith::cluster_detail
