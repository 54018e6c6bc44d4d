// Weight quantization throughput (bitsmith/quant/weight_quant.h) on a 4096x4096 f32 matrix
// (64 MiB): compute_weight_params + quantize_tensor, bytes processed = f32 input bytes, so
// "bytes_per_second" is GB/s of f32 weights. Cases: per-tensor int8, per-channel int8 on axis 0
// (rows, Conv-style) and axis 1 (columns, MatMul [K, N]-style), per-block int4 (block 32) on
// axis 0 and axis 1; each at 1 thread and all threads (Arg = thread count, 0 = all). The
// scalar-twin rows show what the AVX2 kernels gain.
//
// Usage: quant_bench [--benchmark_format=json] [Google Benchmark flags]
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>

#include "bitsmith/quant/weight_quant.h"
#include "quant/weight_quant_internal.h"

using namespace bitsmith;

namespace {

constexpr int64_t kDim = 4096;

const Tensor& weights() {
  static const Tensor w = [] {
    Tensor t(DType::kF32, {kDim, kDim}, "w");
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.f, 0.02f);
    float* x = t.mutable_data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) x[i] = d(rng);
    return t;
  }();
  return w;
}

void run(benchmark::State& state, WeightQuantSpec spec, bool scalar) {
  const Tensor& w = weights();
  const int threads = state.range(0) > 0 ? static_cast<int>(state.range(0)) : omp_get_max_threads();
  for (auto _ : state) {
    auto p = quant::compute_weight_params_impl(w, spec, threads, scalar);
    auto q = quant::quantize_tensor_impl(w, *p, threads, scalar);
    if (!q.is_ok()) state.SkipWithError(q.status().message().c_str());
    benchmark::DoNotOptimize(q->bytes());
  }
  state.SetBytesProcessed(state.iterations() * w.numel() * static_cast<int64_t>(sizeof(float)));
  state.counters["threads"] = threads;
}

void BM_PerTensorI8(benchmark::State& s) { run(s, {DType::kI8, Granularity::kPerTensor, 0, 0, true, false}, false); }
void BM_PerChannelI8Axis0(benchmark::State& s) { run(s, {DType::kI8, Granularity::kPerChannel, 0, 0, true, false}, false); }
void BM_PerChannelI8Axis1(benchmark::State& s) { run(s, {DType::kI8, Granularity::kPerChannel, 1, 0, true, false}, false); }
void BM_PerChannelI8Axis0Asym(benchmark::State& s) { run(s, {DType::kU8, Granularity::kPerChannel, 0, 0, false, false}, false); }
void BM_PerBlockI4Axis0(benchmark::State& s) { run(s, {DType::kI4, Granularity::kPerBlock, 0, 32, true, false}, false); }
void BM_PerBlockI4Axis1(benchmark::State& s) { run(s, {DType::kI4, Granularity::kPerBlock, 1, 32, true, false}, false); }
void BM_PerChannelI8Axis0Scalar(benchmark::State& s) { run(s, {DType::kI8, Granularity::kPerChannel, 0, 0, true, false}, true); }

}  // namespace

#define BS_QUANT_CASE(fn) BENCHMARK(fn)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime()
BS_QUANT_CASE(BM_PerTensorI8);
BS_QUANT_CASE(BM_PerChannelI8Axis0);
BS_QUANT_CASE(BM_PerChannelI8Axis1);
BS_QUANT_CASE(BM_PerChannelI8Axis0Asym);
BS_QUANT_CASE(BM_PerBlockI4Axis0);
BS_QUANT_CASE(BM_PerBlockI4Axis1);
BS_QUANT_CASE(BM_PerChannelI8Axis0Scalar);

BENCHMARK_MAIN();
