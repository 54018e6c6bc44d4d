// bitsmith eval MODEL --data X.npy [--labels Y.npy] [--reference REF.onnx] [--batch N] [--json]
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bitsmith/io/npy.h"
#include "bitsmith/report/evaluate.h"
#include "cli_util.h"
#include "commands.h"

namespace bitsmith::tools {
namespace {

struct EvalArgs {
  std::string model;
  std::string data;
  std::string labels;
  std::string reference;
  int batch = 32;
  int64_t limit = 0;
  int threads = 0;
  bool json = false;
};

nlohmann::json num_or_null(const std::optional<double>& v) {
  if (!v) return nullptr;
  if (std::isinf(*v)) return *v > 0 ? "inf" : "-inf";
  return *v;
}

int run_eval(const EvalArgs& args) {
  auto exec = load_executor(args.model, args.threads);
  if (!exec) return report_error(exec.status());
  std::unique_ptr<Executor> ref_exec;
  if (!args.reference.empty()) {
    auto r = load_executor(args.reference, args.threads);
    if (!r) return report_error(r.status());
    ref_exec = std::move(r).value();
  }
  Expected<Tensor> data = read_array(args.data);
  if (!data) return report_error(data.status());
  std::optional<Tensor> labels;
  if (!args.labels.empty()) {
    Expected<Tensor> l = read_array(args.labels);
    if (!l) return report_error(l.status());
    labels = std::move(l).value();
  }
  EvalOptions eo;
  eo.batch = args.batch;
  eo.limit = args.limit;
  auto result = evaluate(**exec, *data, labels ? &*labels : nullptr, ref_exec.get(), eo);
  if (!result) return report_error(result.status().with_context(args.model));

  std::optional<double> top1, top5, agree, cosine, sqnr, max_abs, kld_mean, kld_p99;
  if (result->accuracy) {
    top1 = result->accuracy->top1;
    top5 = result->accuracy->top5;
  }
  if (result->fidelity) {
    const FidelityMetrics& f = *result->fidelity;
    agree = f.top1_agreement;
    cosine = f.cosine;
    sqnr = f.sqnr_db;
    max_abs = f.max_abs_err;
    kld_mean = f.kld_mean;
    kld_p99 = f.kld_p99;
  }
  if (args.json) {
    nlohmann::json j = {{"samples", result->samples},     {"top1", num_or_null(top1)},
                        {"top5", num_or_null(top5)},      {"top1_agreement", num_or_null(agree)},
                        {"cosine", num_or_null(cosine)},  {"sqnr_db", num_or_null(sqnr)},
                        {"max_abs_err", num_or_null(max_abs)}, {"kld_mean", num_or_null(kld_mean)},
                        {"kld_p99", num_or_null(kld_p99)}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("samples: %lld\n", static_cast<long long>(result->samples));
  if (top1) std::printf("top1: %.4f %%\ntop5: %.4f %%\n", *top1 * 100, *top5 * 100);
  if (agree) {
    std::printf("top1_agreement: %.4f %%\ncosine: %.6f\nsqnr_db: %.2f\nmax_abs_err: %.6g\n", *agree * 100, *cosine,
                *sqnr, *max_abs);
    std::printf("kld_mean: %.6g\nkld_p99: %.6g\n", *kld_mean, *kld_p99);
  }
  if (!top1 && !agree) spdlog::warn("no --labels and no --reference: nothing to measure beyond running the model");
  return 0;
}

}  // namespace

void register_eval(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Measure accuracy against labels and fidelity against a reference model");
  cmd->add_option("model", args->model, "Model file (.onnx or .bsm)")->required();
  cmd->add_option("--data", args->data, "Inputs [N, ...] as .npy (or .npz:member)")->required();
  cmd->add_option("--labels", args->labels, "Class ids [N] (or one-hot [N, C]) as .npy");
  cmd->add_option("--reference", args->reference, "Reference model for fidelity metrics");
  cmd->add_option("--batch", args->batch, "Rows per run (a static model batch overrides it)")->check(CLI::PositiveNumber);
  cmd->add_option("--limit", args->limit, "Only the first N rows")->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", args->threads, "Threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", args->json, "Print JSON (keys: top1, top5, top1_agreement, cosine, sqnr_db, max_abs_err, kld_mean, kld_p99)");
  cmd->callback([args, &exit_code] { exit_code = run_eval(*args); });
}

}  // namespace bitsmith::tools
