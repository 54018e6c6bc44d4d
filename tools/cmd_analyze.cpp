// bitsmith analyze MODEL (--recipe R.json | --preset NAME [--calib X.npy] [--eval X.npy --labels Y.npy])
//   [--max-layers N] [--threads N] [--json]
// Quantizes (or converts) one weighted layer at a time with the recipe's precision steps and
// ranks the layers by the damage against the float model (compress/sensitivity.h), on the
// recipe's evaluation data (or its calibration data when it has none).
// Exit: 0 ok, 1 bad flags or recipe, 2 bad model/data.
#include <cstdio>
#include <iostream>

#include "bitsmith/compress/data.h"
#include "bitsmith/compress/sensitivity.h"
#include "bitsmith/io/model_io.h"
#include "bitsmith/io/npy.h"
#include "cli_util.h"
#include "commands.h"
#include "recipe_args.h"

namespace bitsmith::tools {
namespace {

struct AnalyzeArgs {
  std::string model;
  RecipeArgs recipe;
  int64_t max_layers = -1;  // -1: the recipe's sensitivity.max_layers
  int threads = 0;
  bool json = false;
};

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

int run_analyze(const AnalyzeArgs& a) {
  Expected<Recipe> recipe = build_recipe(a.recipe, false);
  if (!recipe) return report_error(recipe.status());
  if (!recipe->evaluation && !recipe->calibration)
    return report_error(invalid_argument("analyze needs data to measure on: --eval (or --calib) with --preset, or "
                                         "\"evaluation\" in the recipe"));
  Expected<Model> model = load_model(a.model);
  if (!model) return report_error(model.status());
  const bool use_eval = recipe->evaluation.has_value();
  const std::string data_path = use_eval ? recipe->resolve(recipe->evaluation->data) : recipe->resolve(recipe->calibration->data);
  Expected<Tensor> data = load_input_rows(data_path, *model, use_eval ? "/evaluation/data" : "/calibration/data");
  if (!data) return report_error(data.status());
  std::optional<Tensor> labels;
  if (use_eval && !recipe->evaluation->labels.empty()) {
    Expected<Tensor> l = read_npy(recipe->resolve(recipe->evaluation->labels));
    if (!l) return report_error(l.status());
    labels = std::move(l).value();
  }
  Tensor calib_rows;
  SensitivityInputs si;
  si.model = &*model;
  si.pipeline = recipe->pipeline;
  si.data = &*data;
  si.labels = labels ? &*labels : nullptr;
  if (recipe->calibration) {
    Expected<Tensor> c = load_input_rows(recipe->resolve(recipe->calibration->data), *model, "/calibration/data");
    if (!c) return report_error(c.status());
    calib_rows = std::move(c).value();
    si.calibration = calibration_batches(calib_rows, model->graph.runtime_inputs()[0]->name,
                                         recipe->calibration->samples, recipe->calibration->seed,
                                         recipe->calibration->batch);
  }
  si.seed = recipe->seed;
  si.threads = resolve_threads(a.threads);
  si.max_layers = a.max_layers >= 0 ? a.max_layers : recipe->sensitivity.max_layers;
  si.batch = use_eval ? recipe->evaluation->batch : 32;
  si.output = use_eval ? static_cast<int>(recipe->evaluation->output) : 0;
  Expected<std::vector<LayerSensitivity>> ranking = analyze_sensitivity(si);
  if (!ranking) return report_error(ranking.status().with_context(a.model));
  if (a.json) {
    std::cout << nlohmann::json{{"model", a.model}, {"recipe", recipe->source}, {"layers", to_json(*ranking)}}.dump(2)
              << "\n";
    return 0;
  }
  std::cout << "Layer sensitivity of " << a.model << " (" << recipe->source << "; one layer at a time, against the "
            << "float model on " << data->dim(0) << " rows)\n\n";
  std::cout << "| rank | layer | op | weights | KL mean | KL p99 | top-1 agreement | top-1 drop (pt) | why |\n";
  std::cout << "|---:|---|---|---:|---:|---:|---:|---:|---|\n";
  int rank = 0;
  for (const LayerSensitivity& l : *ranking)
    std::cout << "| " << ++rank << " | " << l.node << " | " << l.op << " | " << l.weights << " | "
              << fixed(l.kld_mean, 6) << " | " << fixed(l.kld_p99, 6) << " | " << fixed(100 * l.top1_agreement, 2)
              << "% | " << (l.top1_drop_pt ? fixed(*l.top1_drop_pt, 2) : std::string("—")) << " | " << l.reason
              << " |\n";
  return 0;
}

}  // namespace

void register_analyze(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<AnalyzeArgs>();
  CLI::App* cmd = app.add_subcommand("analyze", "Rank layers by how much quantizing each alone hurts the outputs");
  cmd->add_option("model", a->model, "Input model (.onnx)")->required();
  add_recipe_options(cmd, a->recipe);
  cmd->add_option("--max-layers", a->max_layers, "Analyze at most N layers, largest first (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", a->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a, &exit_code] { exit_code = run_analyze(*a); });
}

}  // namespace bitsmith::tools
