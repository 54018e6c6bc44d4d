// Calibration observers (include/bitsmith/quant/observer.h).
//
// Histogram observers choose a clip threshold t on the |x| histogram (Histogram::folded()), then:
//   symmetric                      [-t, t]
//   asymmetric, all x >= 0 (ReLU)  [0, t]     (and [-t, 0] when all x <= 0): the whole integer
//                                             range covers one side, so entropy and mse search
//                                             with 256 levels on that side instead of 128;
//   asymmetric, mixed signs        [max(min, -t), min(max, t)]: the symmetric threshold, never
//                                  beyond what was observed.
#include "bitsmith/quant/observer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "quant/histogram.h"

namespace bitsmith {
namespace {

class ObserverBase : public Observer {
 public:
  void observe(const float* x, int64_t n) override {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    int64_t seen = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      if (std::isnan(v)) {
        ++nan_count_;
        continue;
      }
      ++seen;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (seen == 0) return;
    min_ = count_ == 0 ? lo : std::min(min_, lo);
    max_ = count_ == 0 ? hi : std::max(max_, hi);
    count_ += seen;
    on_batch(x, n, lo, hi);
  }
  int64_t count() const override { return count_; }
  int64_t nan_count() const override { return nan_count_; }
  float observed_min() const override { return min_; }
  float observed_max() const override { return max_; }

 protected:
  // A batch with at least one non-NaN value; lo/hi are its min and max (NaN excluded).
  virtual void on_batch(const float* x, int64_t n, float lo, float hi) = 0;

  std::pair<float, float> shaped(float lo, float hi, bool symmetric) const {
    if (symmetric) {
      const float t = std::max(std::fabs(lo), std::fabs(hi));
      return {-t, t};
    }
    return {lo, hi};
  }

  int64_t count_ = 0, nan_count_ = 0;
  float min_ = 0, max_ = 0;
};

class MinMaxObserver final : public ObserverBase {
 public:
  std::pair<float, float> range(DType, bool symmetric) const override {
    return count_ == 0 ? std::pair<float, float>{0.f, 0.f} : shaped(min_, max_, symmetric);
  }

 private:
  void on_batch(const float*, int64_t, float, float) override {}
};

class MovingAverageObserver final : public ObserverBase {
 public:
  explicit MovingAverageObserver(double c) : c_(c) {}
  std::pair<float, float> range(DType, bool symmetric) const override {
    return count_ == 0 ? std::pair<float, float>{0.f, 0.f}
                       : shaped(static_cast<float>(lo_), static_cast<float>(hi_), symmetric);
  }

 private:
  void on_batch(const float*, int64_t, float lo, float hi) override {
    if (batches_++ == 0) {
      lo_ = lo;
      hi_ = hi;
    } else {
      lo_ += c_ * (static_cast<double>(lo) - lo_);
      hi_ += c_ * (static_cast<double>(hi) - hi_);
    }
  }
  double c_;
  double lo_ = 0, hi_ = 0;
  int64_t batches_ = 0;
};

// Histogram observers: a threshold on |x|, shaped as described at the top of the file.
class HistogramObserver : public ObserverBase {
 public:
  explicit HistogramObserver(int bins) : hist_(bins) {}
  std::pair<float, float> range(DType qdtype, bool symmetric) const override {
    if (count_ == 0) return {0.f, 0.f};
    const bool one_sided = !symmetric && (min_ >= 0 || max_ <= 0);
    const double amax = std::max(std::fabs(static_cast<double>(min_)), std::fabs(static_cast<double>(max_)));
    const std::vector<int64_t> h = hist_.folded();
    double t = std::min(threshold(h, hist_.bin_width(), one_sided ? 256 : 128), amax);
    if (!std::isfinite(t)) t = std::numeric_limits<float>::max();
    const float tf = static_cast<float>(t);
    if (symmetric) return {-tf, tf};
    if (min_ >= 0) return {0.f, tf};
    if (max_ <= 0) return {-tf, 0.f};
    return {std::max(min_, -tf), std::min(max_, tf)};
  }

 protected:
  // The threshold on |x| for the folded histogram h (bin width w) and `levels` integer levels
  // between 0 and the threshold.
  virtual double threshold(const std::vector<int64_t>& h, double w, int levels) const = 0;

  size_t memory_bytes() const override { return sizeof(*this) + hist_.memory_bytes(); }

 private:
  void on_batch(const float* x, int64_t n, float, float) override { hist_.add(x, n); }
  quant::Histogram hist_;
};

class PercentileObserver final : public HistogramObserver {
 public:
  PercentileObserver(int bins, double p) : HistogramObserver(bins), p_(std::clamp(p, 0.0, 100.0)) {}

 private:
  // Linear interpolation inside the bin where the cumulative count reaches p % of the total.
  double threshold(const std::vector<int64_t>& h, double w, int) const override {
    int64_t total = 0;
    for (int64_t c : h) total += c;
    const double target = p_ / 100.0 * static_cast<double>(total);
    double cum = 0;
    for (size_t j = 0; j < h.size(); ++j) {
      const double next = cum + static_cast<double>(h[j]);
      if (next >= target && h[j] > 0) return (static_cast<double>(j) + (target - cum) / static_cast<double>(h[j])) * w;
      cum = next;
    }
    return static_cast<double>(h.size()) * w;
  }
  double p_;
};

// MXNet / ONNX Runtime smoothing: moves eps of mass onto zero bins so that KL stays finite.
std::vector<double> smooth(std::vector<double> p) {
  constexpr double kEps = 1e-4;
  size_t zeros = 0;
  for (double v : p) zeros += v == 0;
  const size_t nonzeros = p.size() - zeros;
  if (zeros == 0 || nonzeros == 0) return p;
  const double eps1 = kEps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : p) v = v == 0 ? kEps : v - eps1;
  return p;
}

class EntropyObserver final : public HistogramObserver {
 public:
  explicit EntropyObserver(int bins) : HistogramObserver(bins) {}

 private:
  // TensorRT's calibration: for each candidate i (bins kept) from `levels` up, P = h[0, i) with
  // the outliers h[i, n) added to its last bin; Q = h[0, i) merged into `levels` groups and
  // spread back evenly over the bins where P is nonzero; t = i w minimizing KL(P || Q).
  double threshold(const std::vector<int64_t>& h, double w, int levels) const override {
    const int n = static_cast<int>(h.size());
    int last = n;
    while (last > 0 && h[static_cast<size_t>(last - 1)] == 0) --last;
    if (last <= levels) return static_cast<double>(last) * w;
    std::vector<double> suffix(static_cast<size_t>(n) + 1, 0);
    for (int j = n - 1; j >= 0; --j) suffix[j] = suffix[j + 1] + static_cast<double>(h[j]);
    double best_kl = std::numeric_limits<double>::infinity();
    int best = last;
    for (int i = levels; i <= last; ++i) {
      std::vector<double> p(h.begin(), h.begin() + i), q(static_cast<size_t>(i), 0);
      p[static_cast<size_t>(i - 1)] += suffix[i];
      for (int g = 0; g < levels; ++g) {
        const int b0 = static_cast<int>(static_cast<int64_t>(g) * i / levels);
        const int b1 = static_cast<int>(static_cast<int64_t>(g + 1) * i / levels);
        double sum = 0;
        int nz = 0;
        for (int j = b0; j < b1; ++j) {
          sum += static_cast<double>(h[j]);
          nz += p[j] != 0;
        }
        if (nz == 0) continue;
        for (int j = b0; j < b1; ++j)
          if (p[j] != 0) q[j] = sum / nz;
      }
      const double kl = kl_divergence(smooth(std::move(p)), smooth(std::move(q)));
      if (kl < best_kl) {
        best_kl = kl;
        best = i;
      }
    }
    return static_cast<double>(best) * w;
  }

  static double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
    double sp = 0, sq = 0;
    for (size_t j = 0; j < p.size(); ++j) {
      sp += p[j];
      sq += q[j];
    }
    if (sp <= 0 || sq <= 0) return std::numeric_limits<double>::infinity();
    double kl = 0;
    for (size_t j = 0; j < p.size(); ++j) {
      if (p[j] <= 0) continue;
      if (q[j] <= 0) return std::numeric_limits<double>::infinity();
      const double pj = p[j] / sp, qj = q[j] / sq;
      kl += pj * std::log(pj / qj);
    }
    return kl;
  }
};

class MseObserver final : public HistogramObserver {
 public:
  explicit MseObserver(int bins) : HistogramObserver(bins) {}

 private:
  // Expected squared error of clipping at t = i w with `levels` - 1 steps between 0 and t, the
  // values of a bin taken at its centre c: (c - t)^2 above t, step^2 / 12 (uniform rounding
  // error) below. Every bin edge is a candidate; the first minimum wins.
  double threshold(const std::vector<int64_t>& h, double w, int levels) const override {
    const int n = static_cast<int>(h.size());
    int last = n;
    while (last > 0 && h[static_cast<size_t>(last - 1)] == 0) --last;
    if (last == 0) return 0;
    std::vector<double> prefix(static_cast<size_t>(n) + 1, 0);
    for (int j = 0; j < n; ++j) prefix[j + 1] = prefix[j] + static_cast<double>(h[j]);
    double best_err = std::numeric_limits<double>::infinity();
    int best = last;
    for (int i = 1; i <= last; ++i) {
      const double t = i * w, step = t / (levels - 1);
      double err = prefix[i] * step * step / 12.0;
      for (int j = i; j < last; ++j) {
        const double d = (j + 0.5) * w - t;
        err += static_cast<double>(h[j]) * d * d;
      }
      if (err < best_err) {
        best_err = err;
        best = i;
      }
    }
    return static_cast<double>(best) * w;
  }
};

}  // namespace

const char* observer_kind_name(ObserverKind kind) {
  switch (kind) {
    case ObserverKind::kMinMax: return "minmax";
    case ObserverKind::kMovingAverage: return "moving-average";
    case ObserverKind::kPercentile: return "percentile";
    case ObserverKind::kEntropy: return "entropy";
    case ObserverKind::kMse: return "mse";
  }
  return "unknown";
}

std::unique_ptr<Observer> make_observer(const ObserverOptions& options) {
  const int bins = std::max(options.bins, 128);
  switch (options.kind) {
    case ObserverKind::kMinMax: return std::make_unique<MinMaxObserver>();
    case ObserverKind::kMovingAverage: return std::make_unique<MovingAverageObserver>(options.averaging_constant);
    case ObserverKind::kPercentile: return std::make_unique<PercentileObserver>(bins, options.percentile);
    case ObserverKind::kEntropy: return std::make_unique<EntropyObserver>(bins);
    case ObserverKind::kMse: return std::make_unique<MseObserver>(bins);
  }
  return std::make_unique<MinMaxObserver>();
}

}  // namespace bitsmith
