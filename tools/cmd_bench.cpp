// bitsmith bench MODEL [MODEL ...] [--threads N] [--batch N] [--warmup W] [--iters I] [--input ...] [--profile]
//   [--json]
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bitsmith/runtime/bench.h"
#include "cli_util.h"
#include "commands.h"

namespace bitsmith::tools {
namespace {

struct BenchArgs {
  std::vector<std::string> models;
  std::vector<std::string> inputs;
  int threads = 0;
  int batch = 1;
  int warmup = 5;
  int iters = 50;
  uint64_t seed = 0;
  bool json = false;
  bool profile = false;
};

int run_bench(const BenchArgs& args) {
  const int threads = resolve_threads(args.threads);
  std::vector<std::unique_ptr<Executor>> execs;
  std::vector<NamedTensors> feeds;
  for (const std::string& path : args.models) {
    auto exec = load_executor(path, threads);
    if (!exec) return report_error(exec.status());
    Expected<NamedTensors> f = args.inputs.empty() ? make_random_feeds((*exec)->inputs(), args.batch, args.seed)
                                                   : load_feeds(args.inputs, (*exec)->inputs());
    if (!f) return report_error(f.status().with_context(path));
    execs.push_back(std::move(exec).value());
    feeds.push_back(std::move(f).value());
  }
  std::vector<Executor*> ptrs;
  for (auto& e : execs) ptrs.push_back(e.get());
  BenchOptions bo;
  bo.batch = args.batch;
  bo.warmup = args.warmup;
  bo.iters = args.iters;
  auto stats = bench_interleaved(ptrs, feeds, bo);
  if (!stats) return report_error(stats.status());
  // Per-op profile after the timed runs, so observing never disturbs the latency figures.
  std::vector<std::vector<OpProfileRow>> profiles(execs.size());
  if (args.profile)
    for (size_t i = 0; i < execs.size(); ++i) {
      auto p = profile_by_op(*execs[i], feeds[i], args.iters);
      if (!p) return report_error(p.status().with_context(args.models[i]));
      profiles[i] = std::move(p).value();
    }
  const int64_t rss = peak_rss_bytes();
  if (args.json) {
    nlohmann::json j;
    j["threads"] = threads;
    j["batch"] = args.batch;
    j["warmup"] = args.warmup;
    j["iters"] = args.iters;
    j["peak_rss_bytes"] = rss;
    j["models"] = nlohmann::json::array();
    for (size_t i = 0; i < args.models.size(); ++i) {
      const LatencyStats& s = (*stats)[i];
      j["models"].push_back({{"model", args.models[i]}, {"min_ms", s.min_ms}, {"mean_ms", s.mean_ms},
                             {"p50_ms", s.p50_ms}, {"p90_ms", s.p90_ms}, {"p99_ms", s.p99_ms},
                             {"throughput_per_s", s.throughput_per_s}});
      if (args.profile) {
        nlohmann::json rows = nlohmann::json::array();
        for (const OpProfileRow& r : profiles[i])
          rows.push_back({{"op", r.op}, {"nodes", r.nodes}, {"total_ms", r.total_ms}, {"share", r.share}});
        j["models"].back()["profile"] = rows;
      }
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("threads %d, batch %d, %d iterations after %d warm-up, models interleaved\n", threads,
              args.batch, args.iters, args.warmup);
  std::printf("%-40s %10s %10s %10s %10s %14s\n", "model", "min ms", "p50 ms", "p90 ms", "p99 ms", "samples/s");
  for (size_t i = 0; i < args.models.size(); ++i) {
    const LatencyStats& s = (*stats)[i];
    std::printf("%-40s %10.3f %10.3f %10.3f %10.3f %14.1f\n", args.models[i].c_str(), s.min_ms, s.p50_ms, s.p90_ms,
                s.p99_ms, s.throughput_per_s);
  }
  if (stats->size() > 1)
    for (size_t i = 1; i < stats->size(); ++i)
      std::printf("p50 ratio %s / %s: %.3f\n", args.models[i].c_str(), args.models[0].c_str(),
                  (*stats)[i].p50_ms / (*stats)[0].p50_ms);
  for (size_t i = 0; args.profile && i < profiles.size(); ++i) {
    std::printf("\nprofile of %s (ms per run, by op type):\n", args.models[i].c_str());
    std::printf("  %-32s %6s %10s %7s\n", "op", "nodes", "ms", "share");
    for (const OpProfileRow& r : profiles[i])
      std::printf("  %-32s %6lld %10.3f %6.1f%%\n", r.op.c_str(), static_cast<long long>(r.nodes), r.total_ms,
                  100 * r.share);
  }
  std::printf("peak RSS: %.1f MiB\n", static_cast<double>(rss) / (1 << 20));
  return 0;
}

}  // namespace

void register_bench(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Time models (interleaved): min, p50, p90, p99 latency, throughput, peak RSS");
  cmd->add_option("models", args->models, "Model files (.onnx or .bsm)")->required();
  cmd->add_option("--input", args->inputs, "NAME=FILE.npy (default: random data of the model's input shapes)");
  cmd->add_option("--threads", args->threads, "Threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", args->batch, "Batch size for random inputs")->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", args->warmup, "Untimed runs first")->check(CLI::NonNegativeNumber);
  cmd->add_option("--iters", args->iters, "Timed runs per model")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed, "Seed of the random inputs");
  cmd->add_flag("--profile", args->profile, "Also print where the time goes, per op type (measured after the timed runs)");
  cmd->add_flag("--json", args->json, "Print JSON (per model: min_ms, p50_ms, p90_ms, p99_ms, throughput_per_s)");
  cmd->callback([args, &exit_code] { exit_code = run_bench(*args); });
}

}  // namespace bitsmith::tools
