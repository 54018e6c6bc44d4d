// Observers: watch an activation over calibration batches and choose its quantization range.
//
// Memory is fixed per observer (a histogram of `bins` counts plus a few scalars): it never grows
// with the number of batches or samples. The histogram covers [-a, a] (a = the largest |x| seen
// so far plus a quarter bin); when a batch exceeds it, the range grows by a power of two and old
// bins are merged (counts are integers, so the result depends only on the data order, never on
// threads). Histogram kinds choose a threshold t on |x| (the histogram folded at 0, bins / 2
// bins) and return [-t, t] when symmetric; asymmetric: [0, t] when every x >= 0 (e.g. a ReLU
// output; entropy and mse then search with 256 levels on that side instead of 128), [-t, 0] when
// every x <= 0, otherwise [max(min, -t), min(max, t)].
//
// Kinds:
//   minmax          running min and max
//   moving-average  min/max of each batch averaged with constant c (first batch taken as is)
//   percentile      symmetric clip at the p-th percentile of |x| (p in (0, 100])
//   entropy         clip threshold minimizing KL(P || Q) between the histogram and its
//                   quantized version (TensorRT's method; candidates from 'quant levels' bins up)
//   mse             clip threshold minimizing the expected squared quantization error over the
//                   histogram (a search of candidate thresholds)
// NaN values are counted and ignored; Inf is clamped to the histogram edge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "bitsmith/core/dtype.h"

namespace bitsmith {

enum class ObserverKind { kMinMax, kMovingAverage, kPercentile, kEntropy, kMse };

struct ObserverOptions {
  ObserverKind kind = ObserverKind::kMinMax;
  int bins = 2048;                   // histogram bins (percentile, entropy, mse); >= 128
  double percentile = 99.999;        // percentile kind
  double averaging_constant = 0.01;  // moving-average kind
};

// "minmax", "moving-average", "percentile", "entropy", "mse".
const char* observer_kind_name(ObserverKind kind);

class Observer {
 public:
  virtual ~Observer() = default;
  // Adds n values (one batch of one activation).
  virtual void observe(const float* x, int64_t n) = 0;
  // The chosen range [lo, hi] for quantizing to `qdtype` (i8 or u8). Before any observe(): {0, 0}.
  virtual std::pair<float, float> range(DType qdtype, bool symmetric) const = 0;
  // Values observed so far (NaN excluded), and NaNs skipped.
  virtual int64_t count() const = 0;
  virtual int64_t nan_count() const = 0;
  // Exact min and max of everything observed (for reports: "clipped 0.3 % of values").
  virtual float observed_min() const = 0;
  virtual float observed_max() const = 0;
  // Bytes of state this observer holds; fixed at construction (never grows with batches).
  virtual size_t memory_bytes() const { return sizeof(*this); }
};

std::unique_ptr<Observer> make_observer(const ObserverOptions& options);

}  // namespace bitsmith
