// Latency measurement for `bitsmith bench` and the compress report.
//
// Several models are timed INTERLEAVED (model A run, model B run, A, B, ...) in one process so
// that drift of the machine (frequency, other load) hits all of them alike and their ratio can
// be trusted. Times are wall-clock per run() call, in milliseconds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/runtime/executor.h"

namespace bitsmith {

struct BenchOptions {
  int batch = 1;
  int warmup = 5;
  int iters = 50;
  uint64_t seed = 0;
};

struct LatencyStats {
  int iters = 0;
  double min_ms = 0, mean_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0;
  double throughput_per_s = 0;  // samples per second at p50: batch * 1000 / p50_ms
};

// Random feeds for `inputs`: a dynamic (symbolic or unknown) first dim becomes `batch`, other
// unknown dims are an error naming the input (give real data instead); a static first dim must
// equal `batch` or be used as is when batch == 0. Floats ~ N(0, 1); integers uniform in [0, 16);
// bool uniform. Deterministic for a given seed.
Expected<NamedTensors> make_random_feeds(const std::vector<ValueInfo>& inputs, int batch, uint64_t seed);

// Times each executor on its feeds, interleaved. Result i belongs to executors[i].
Expected<std::vector<LatencyStats>> bench_interleaved(const std::vector<Executor*>& executors,
                                                      const std::vector<NamedTensors>& feeds,
                                                      const BenchOptions& options);

// Summary statistics of samples in ms (nearest-rank percentiles).
LatencyStats latency_stats(std::vector<double> samples_ms, int batch);

// Where the time goes: wall time per op type ("Conv", "com.microsoft.QGemm", ...) over `iters`
// runs observed node by node (after one untimed run). A node's time is measured from the previous
// node's end (or the run's start) to its own end, so the rows sum to the runs' wall time.
// Sorted by total_ms, largest first; share = total_ms / sum of all rows.
struct OpProfileRow {
  std::string op;
  int64_t nodes = 0;      // nodes of this op type executed per run
  double total_ms = 0;    // per run (averaged over iters)
  double share = 0;
};
Expected<std::vector<OpProfileRow>> profile_by_op(Executor& executor, const NamedTensors& feeds, int iters);

// Peak resident set size of this process so far, in bytes.
int64_t peak_rss_bytes();

}  // namespace bitsmith
