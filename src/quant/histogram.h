// Histogram: fixed-size counts over [-a, a] for the calibration observers (observer.h).
//
// `bins` counts (rounded up to an even number) of width 2a / bins; bin i covers
// [-a + i w, -a + (i + 1) w). a is kept strictly above every finite |x| seen: it starts a quarter
// bin above the first nonzero max|x| and, when a batch reaches it, doubles k times until it is
// above again; bins then merge 2^k at a time, exactly (boundaries of the new bins are boundaries
// of old ones because the bin count is even and 0 stays an edge), so counts stay integers and
// the total is kept. Values seen while a == 0 (all zeros) sit in bin bins/2,
// which keeps holding [0, w) after a grows. NaN is skipped (the caller counts it); +-Inf goes to
// the edge bins without widening the range. Memory: bins * 8 bytes, whatever the data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bitsmith::quant {

class Histogram {
 public:
  explicit Histogram(int bins);

  void add(const float* x, int64_t n);

  int bins() const { return static_cast<int>(counts_.size()); }
  double half_range() const { return a_; }               // a
  double bin_width() const { return 2.0 * a_ / bins(); }  // w
  const std::vector<int64_t>& counts() const { return counts_; }
  int64_t total() const { return total_; }
  // Histogram of |x|: bins / 2 counts, bin j covering [j w, (j + 1) w).
  std::vector<int64_t> folded() const;
  // Bytes held (fixed at construction).
  size_t memory_bytes() const { return counts_.capacity() * sizeof(int64_t); }

 private:
  void grow_to(double amax);

  std::vector<int64_t> counts_;
  double a_ = 0;
  int64_t total_ = 0;
};

}  // namespace bitsmith::quant
