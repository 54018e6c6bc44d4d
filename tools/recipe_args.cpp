#include "recipe_args.h"

#include <charconv>

#include "bitsmith/passes/options.h"
#include "bitsmith/passes/presets.h"

namespace bitsmith::tools {

void add_recipe_options(CLI::App* cmd, RecipeArgs& a) {
  cmd->add_option("--recipe", a.recipe, "Recipe file (bitsmith.recipe/1 JSON; data paths relative to it)");
  cmd->add_option("--preset", a.preset, "Built-in recipe: one of " + bracket_list(preset_names()));
  cmd->add_option("--calib", a.calib, "With --preset: calibration rows (.npy, [N, ...])");
  cmd->add_option("--calib-samples", a.calib_samples, "With --preset: use N calibration rows (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--eval", a.eval, "With --preset: evaluation rows (.npy, [N, ...])");
  cmd->add_option("--labels", a.labels, "With --preset: class ids of the evaluation rows (.npy, [N])");
  cmd->add_option("--gate", a.gates, "With --preset: a gate, NAME=VALUE (e.g. max_top1_drop_pt=0.5); repeatable");
}

Expected<Recipe> build_recipe(const RecipeArgs& a, bool for_printing) {
  const bool preset_flags = !a.calib.empty() || !a.eval.empty() || !a.labels.empty() || !a.gates.empty() ||
                            a.calib_samples > 0;
  if (!a.recipe.empty()) {
    if (!a.preset.empty()) return invalid_argument("give --recipe or --preset, not both");
    if (preset_flags)
      return invalid_argument("--calib, --calib-samples, --eval, --labels and --gate go with --preset; with --recipe "
                              "put them in the recipe (" + a.recipe + ")");
    return load_recipe(a.recipe);
  }
  nlohmann::json j;
  const std::string preset = a.preset.empty() ? (a.calib.empty() ? "int8-dynamic" : "int8-static") : a.preset;
  BS_ASSIGN_OR_RETURN(j, preset_recipe_json(preset));
  if (!a.calib.empty()) j["calibration"] = {{"data", a.calib}, {"samples", a.calib_samples}};
  if (!a.eval.empty()) {
    j["evaluation"] = {{"data", a.eval}};
    if (!a.labels.empty()) j["evaluation"]["labels"] = a.labels;
  } else if (!a.labels.empty()) {
    return invalid_argument("--labels needs --eval (the rows the labels belong to)");
  }
  for (const std::string& g : a.gates) {
    const size_t eq = g.find('=');
    double v = 0;
    const char* first = eq == std::string::npos ? nullptr : g.data() + eq + 1;
    if (!first || std::from_chars(first, g.data() + g.size(), v).ec != std::errc() || first == g.data() + g.size())
      return invalid_argument("--gate " + g + ": expected NAME=NUMBER, e.g. max_top1_drop_pt=0.5");
    j["gates"][g.substr(0, eq)] = v;
  }
  const std::string source = "--preset " + preset;
  if (for_printing && a.calib.empty()) {
    // A preset that needs calibration data prints as a template with a placeholder file.
    Expected<Recipe> probe = parse_recipe(j, source, "", false);
    if (!probe && probe.status().message().find("/calibration:") != std::string::npos)
      j["calibration"] = {{"data", "calib.npy"}};
  }
  return parse_recipe(j, source, "", !for_printing);
}

}  // namespace bitsmith::tools
