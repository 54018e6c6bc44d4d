#include "quant/histogram.h"

#include <algorithm>
#include <cmath>

namespace bitsmith::quant {

Histogram::Histogram(int bins) : counts_(static_cast<size_t>(std::max(2, bins + (bins & 1))), 0) {}

void Histogram::grow_to(double amax) {
  if (a_ == 0) {
    // A quarter bin of headroom keeps max|x| off the closed top edge: every value binned so far
    // stays strictly inside its bin's half-open interval, which makes later merges exact.
    a_ = amax * (1.0 + 1.0 / (2.0 * bins()));  // zeros seen so far stay in bin bins/2 = [0, w)
    return;
  }
  int k = 0;
  double a = a_;
  while (a <= amax) {
    a *= 2;
    ++k;
  }
  if (k == 0) return;
  const int64_t b = bins();
  if (k >= 62) {  // everything collapses into the two middle bins
    int64_t neg = 0, pos = 0;
    for (int64_t i = 0; i < b; ++i) (i < b / 2 ? neg : pos) += counts_[i];
    std::fill(counts_.begin(), counts_.end(), 0);
    counts_[b / 2 - 1] = neg;
    counts_[b / 2] = pos;
  } else {
    // Old bin i starts (2^k - 1) * b / 2 + i old widths above -a'; new bins are 2^k old widths.
    const int64_t offset = ((int64_t{1} << k) - 1) * (b / 2);
    std::vector<int64_t> merged(counts_.size(), 0);
    for (int64_t i = 0; i < b; ++i) merged[static_cast<size_t>((offset + i) >> k)] += counts_[i];
    std::copy(merged.begin(), merged.end(), counts_.begin());  // keeps the allocation
  }
  a_ = a;
}

void Histogram::add(const float* x, int64_t n) {
  double amax = 0;
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(x[i])) amax = std::max(amax, static_cast<double>(std::fabs(x[i])));
  if (amax > 0 && amax >= a_) grow_to(amax);
  const int64_t b = bins();
  const double inv_w = a_ > 0 ? b / (2.0 * a_) : 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (std::isnan(v)) continue;
    int64_t idx = 0;
    if (std::isinf(v)) {
      idx = v > 0 ? b - 1 : 0;
    } else if (a_ == 0) {
      idx = b / 2;
    } else {
      idx = static_cast<int64_t>(std::floor((static_cast<double>(v) + a_) * inv_w));
      idx = std::clamp<int64_t>(idx, 0, b - 1);
    }
    ++counts_[static_cast<size_t>(idx)];
    ++total_;
  }
}

std::vector<int64_t> Histogram::folded() const {
  const size_t half = counts_.size() / 2;
  std::vector<int64_t> f(half);
  for (size_t j = 0; j < half; ++j) f[j] = counts_[half + j] + counts_[half - 1 - j];
  return f;
}

}  // namespace bitsmith::quant
