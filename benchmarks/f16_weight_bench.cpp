// float16 weights through the executor: x [M, 1024] -> Cast(W f16 [1024, 1024], to=FLOAT) ->
// MatMul -> y, run with the f16-weight fusion (ExecutorOptions::fuse_f16_weights: W stays f16
// and is widened panel by panel inside the GEMM) and without it (the Cast makes a 4 MiB f32
// copy of W every run); and, for scale, MatMul with W an f32 initializer (packed once at load,
// 4 MiB held). Arg 0 = M (batch rows), Arg 1 = threads (0 = all cores).
//
// Usage: f16_weight_bench [--benchmark_format=json] [Google Benchmark flags]
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstring>
#include <random>

#include "bitsmith/core/half.h"
#include "bitsmith/runtime/executor.h"

using namespace bitsmith;

namespace {

constexpr int64_t kDim = 1024;

// f32_weights: x -> MatMul(x, W f32 initializer) instead (same W values, widened).
Model cast_matmul_model(bool f32_weights) {
  Model m;
  m.opset_imports = {{"", 17}};
  Tensor w(DType::kF16, {kDim, kDim}, "wh");
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.f, 0.02f);
  uint16_t* h = reinterpret_cast<uint16_t*>(w.mutable_bytes());
  for (int64_t i = 0; i < w.numel(); ++i) h[i] = f32_to_f16(d(rng));
  if (f32_weights) {
    Tensor wf(DType::kF32, {kDim, kDim}, "w");
    f16_to_f32_n(h, wf.mutable_data<float>(), static_cast<size_t>(w.numel()));
    m.graph.initializers.push_back(std::move(wf));
  } else {
    m.graph.initializers.push_back(std::move(w));
  }
  Node cast;
  cast.name = "cast_w";
  cast.op_type = "Cast";
  cast.inputs = {"wh"};
  cast.outputs = {"w"};
  cast.attributes = {Attribute::make_int("to", 1)};
  Node mm;
  mm.name = "mm";
  mm.op_type = "MatMul";
  mm.inputs = {"x", "w"};
  mm.outputs = {"y"};
  m.graph.nodes = {cast, mm};
  if (f32_weights) m.graph.nodes = {mm};
  ValueInfo x, y;
  x.name = "x";
  y.name = "y";
  x.type = y.type = TypeInfo::tensor(DType::kF32, {1, kDim});
  x.type.dims[0] = Dim{-1, "batch", {}};
  y.type.dims[0] = Dim{-1, "batch", {}};
  m.graph.inputs = {x};
  m.graph.outputs = {y};
  return m;
}

void run(benchmark::State& state, bool fuse, bool f32_weights = false) {
  const int64_t rows = state.range(0);
  const int threads = state.range(1) > 0 ? static_cast<int>(state.range(1)) : omp_get_max_threads();
  ExecutorOptions opt;
  opt.fuse_f16_weights = fuse;
  opt.num_threads = threads;
  auto e = Executor::create(cast_matmul_model(f32_weights), opt);
  if (!e.is_ok()) {
    state.SkipWithError(e.status().message().c_str());
    return;
  }
  Tensor x(DType::kF32, {rows, kDim});
  float* xd = x.mutable_data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) xd[i] = static_cast<float>(i % 17) / 17.f - 0.5f;
  for (auto _ : state) {
    auto out = (*e)->run({{"x", x}});
    if (!out.is_ok()) {
      state.SkipWithError(out.status().message().c_str());
      return;
    }
    benchmark::DoNotOptimize((*out)[0].bytes());
  }
  state.counters["threads"] = threads;
  state.counters["fused_units"] = static_cast<double>((*e)->fused_units().size());
}

void BM_CastMatMulFused(benchmark::State& s) { run(s, true); }
void BM_CastMatMulUnfused(benchmark::State& s) { run(s, false); }
void BM_MatMulF32Weights(benchmark::State& s) { run(s, true, true); }

}  // namespace

#define BS_F16W_CASE(fn) \
  BENCHMARK(fn)->Args({1, 1})->Args({32, 1})->Args({1, 0})->Args({32, 0})->Unit(benchmark::kMicrosecond)->UseRealTime()
BS_F16W_CASE(BM_CastMatMulFused);
BS_F16W_CASE(BM_CastMatMulUnfused);
BS_F16W_CASE(BM_MatMulF32Weights);

BENCHMARK_MAIN();
