// bitsmith compress MODEL (--recipe R.json | --preset NAME [--calib X.npy] [--eval X.npy --labels Y.npy]
//   [--gate NAME=VALUE ...]) -o OUTDIR [--threads N] [--json]
// bitsmith compress --print-recipe (--recipe R.json | --preset NAME)
// Runs the recipe (compress/compress.h) and writes OUTDIR/model.onnx, report.json, report.md and
// report.html. Prints the Markdown summary table on stdout (--json: report.json instead).
// Exit: 0 ok, 1 bad flags or recipe, 2 bad model/data/I/O, 3 a gate failed (outputs written).
#include <spdlog/spdlog.h>

#include <iostream>

#include "bitsmith/compress/compress.h"
#include "bitsmith/report/render.h"
#include "cli_util.h"
#include "commands.h"
#include "recipe_args.h"

namespace bitsmith::tools {
namespace {

struct CompressArgs {
  std::string model, out_dir;
  RecipeArgs recipe;
  int threads = 0;
  bool json = false, print_recipe = false;
};

int run_compress(const CompressArgs& a) {
  if (a.print_recipe) {
    Expected<Recipe> r = build_recipe(a.recipe, /*for_printing=*/true);
    if (!r) return report_error(r.status());
    std::cout << r->to_json().dump(2) << "\n";
    return 0;
  }
  if (a.model.empty() || a.out_dir.empty())
    return report_error(invalid_argument("compress needs MODEL and -o OUTDIR (or --print-recipe)"));
  Expected<Recipe> recipe = build_recipe(a.recipe, /*for_printing=*/false);
  if (!recipe) return report_error(recipe.status());
  CompressOptions o;
  o.model_path = a.model;
  o.out_dir = a.out_dir;
  o.threads = resolve_threads(a.threads);
  Expected<CompressResult> result = compress(*recipe, o);
  if (!result) return report_error(result.status());
  if (a.json) {
    std::cout << result->report.dump(2) << "\n";
  } else {
    std::cout << render_summary_table(result->report) << "\n";
    std::cout << "wrote " << result->model_file << ", " << result->report_json << ", " << result->report_md << ", "
              << result->report_html << "\n";
  }
  for (const std::string& g : result->failed_gates) spdlog::error("gate failed: {}", g);
  return result->failed_gates.empty() ? 0 : 3;
}

}  // namespace

void register_compress(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<CompressArgs>();
  CLI::App* cmd = app.add_subcommand("compress", "Run a compression recipe; write the model and a measured report");
  cmd->add_option("model", a->model, "Input model (.onnx)");
  cmd->add_option("-o,--output", a->out_dir, "Output folder (model.onnx, report.json, report.md, report.html)");
  add_recipe_options(cmd, a->recipe);
  cmd->add_option("--threads", a->threads, "Threads for passes and evaluation (0: all cores; latency uses the "
                                           "recipe's latency.threads)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", a->json, "Print report.json on stdout instead of the summary table");
  cmd->add_flag("--print-recipe", a->print_recipe, "Print the canonical recipe (every default filled in) and exit");
  cmd->callback([a, &exit_code] { exit_code = run_compress(*a); });
}

}  // namespace bitsmith::tools
