#include "bitsmith/runtime/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>

#include "bitsmith/core/half.h"

namespace bitsmith {
namespace {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

template <class T, class Gen>
void fill_ints(Tensor& t, Gen& gen) {
  T* d = t.mutable_data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = static_cast<T>(gen() % 16);
}

}  // namespace

Expected<NamedTensors> make_random_feeds(const std::vector<ValueInfo>& inputs, int batch, uint64_t seed) {
  std::mt19937_64 gen(seed);
  NamedTensors feeds;
  for (const ValueInfo& v : inputs) {
    if (v.type.kind != TypeInfo::Kind::kTensor || !v.type.has_shape)
      return data_error("input '" + v.name + "' has no tensor shape in the model; give data with --input");
    Shape shape;
    for (size_t d = 0; d < v.type.dims.size(); ++d) {
      const Dim& dim = v.type.dims[d];
      if (dim.has_value()) {
        if (d == 0 && batch > 0 && dim.value != batch)
          return invalid_argument("input '" + v.name + "' has a static batch dimension of " +
                                  std::to_string(dim.value) + "; batch " + std::to_string(batch) + " is not possible");
        shape.push_back(dim.value);
      } else if (d == 0) {
        shape.push_back(batch > 0 ? batch : 1);
      } else {
        return data_error("input '" + v.name + "' dim " + std::to_string(d) + " ('" + dim.param +
                          "') is dynamic; give data with --input");
      }
    }
    Tensor t(v.type.elem_type, shape, v.name);
    std::normal_distribution<float> normal(0.f, 1.f);
    switch (v.type.elem_type) {
      case DType::kF32: {
        float* d = t.mutable_data<float>();
        for (int64_t i = 0; i < t.numel(); ++i) d[i] = normal(gen);
        break;
      }
      case DType::kF16: {
        auto* d = reinterpret_cast<uint16_t*>(t.mutable_bytes());
        for (int64_t i = 0; i < t.numel(); ++i) d[i] = f32_to_f16(normal(gen));
        break;
      }
      case DType::kF64: {
        double* d = t.mutable_data<double>();
        for (int64_t i = 0; i < t.numel(); ++i) d[i] = normal(gen);
        break;
      }
      case DType::kI64: fill_ints<int64_t>(t, gen); break;
      case DType::kI32: fill_ints<int32_t>(t, gen); break;
      case DType::kI8: fill_ints<int8_t>(t, gen); break;
      case DType::kU8: fill_ints<uint8_t>(t, gen); break;
      case DType::kBool: {
        auto* d = reinterpret_cast<uint8_t*>(t.mutable_bytes());
        for (int64_t i = 0; i < t.numel(); ++i) d[i] = static_cast<uint8_t>(gen() & 1);
        break;
      }
      default:
        return data_error("input '" + v.name + "': cannot make random " + std::string(dtype_name(v.type.elem_type)) +
                          " data; give data with --input");
    }
    feeds.emplace_back(v.name, std::move(t));
  }
  return feeds;
}

LatencyStats latency_stats(std::vector<double> samples, int batch) {
  LatencyStats s;
  s.iters = static_cast<int>(samples.size());
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  double sum = 0;
  for (double x : samples) sum += x;
  s.min_ms = samples.front();
  s.mean_ms = sum / static_cast<double>(samples.size());
  s.p50_ms = percentile(samples, 0.50);
  s.p90_ms = percentile(samples, 0.90);
  s.p99_ms = percentile(samples, 0.99);
  s.throughput_per_s = s.p50_ms > 0 ? (batch > 0 ? batch : 1) * 1000.0 / s.p50_ms : 0;
  return s;
}

Expected<std::vector<LatencyStats>> bench_interleaved(const std::vector<Executor*>& executors,
                                                      const std::vector<NamedTensors>& feeds,
                                                      const BenchOptions& options) {
  const size_t m = executors.size();
  std::vector<std::vector<double>> samples(m);
  for (int it = 0; it < options.warmup + options.iters; ++it) {
    for (size_t k = 0; k < m; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      Expected<std::vector<Tensor>> out = executors[k]->run(feeds[k]);
      const auto t1 = std::chrono::steady_clock::now();
      if (!out) return out.status();
      if (it >= options.warmup) samples[k].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
  }
  std::vector<LatencyStats> stats;
  for (size_t k = 0; k < m; ++k) stats.push_back(latency_stats(std::move(samples[k]), options.batch));
  return stats;
}

int64_t peak_rss_bytes() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

Expected<std::vector<OpProfileRow>> profile_by_op(Executor& executor, const NamedTensors& feeds, int iters) {
  using Clock = std::chrono::steady_clock;
  BS_TRY(executor.run(feeds).status());  // warm-up: first-touch allocations, packed weights
  std::map<std::string, OpProfileRow> rows;
  for (int it = 0; it < std::max(iters, 1); ++it) {
    Clock::time_point prev = Clock::now();
    auto out = executor.run_observed(feeds, [&](const Node& node, const std::string& value, const Tensor&) {
      // A node with several outputs is seen once per output; time it at its first output.
      if (node.outputs.empty() || value != node.outputs.front()) return Status::ok();
      const Clock::time_point now = Clock::now();
      const std::string op = node.domain.empty() || node.domain == "ai.onnx" ? node.op_type
                                                                               : node.domain + "." + node.op_type;
      OpProfileRow& row = rows[op];
      row.op = op;
      if (it == 0) ++row.nodes;
      row.total_ms += std::chrono::duration<double, std::milli>(now - prev).count();
      prev = now;
      return Status::ok();
    });
    BS_TRY(out.status());
  }
  std::vector<OpProfileRow> result;
  double sum = 0;
  for (auto& [op, row] : rows) {
    row.total_ms /= std::max(iters, 1);
    sum += row.total_ms;
    result.push_back(row);
  }
  for (OpProfileRow& row : result) row.share = sum > 0 ? row.total_ms / sum : 0;
  std::stable_sort(result.begin(), result.end(),
                   [](const OpProfileRow& a, const OpProfileRow& b) { return a.total_ms > b.total_ms; });
  return result;
}

}  // namespace bitsmith
