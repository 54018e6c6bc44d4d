// The recipe flags shared by `compress` and `analyze`: --recipe R.json, or --preset NAME with
// --calib / --calib-samples / --eval / --labels / --gate NAME=VALUE building a recipe around the
// preset's pipeline (data paths relative to the current directory).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "bitsmith/recipe/recipe.h"

namespace bitsmith::tools {

struct RecipeArgs {
  std::string recipe, preset, calib, eval, labels;
  int64_t calib_samples = 0;
  std::vector<std::string> gates;  // NAME=VALUE
};

void add_recipe_options(CLI::App* cmd, RecipeArgs& args);

// The recipe the flags describe. `for_printing`: data files are not checked, and a preset that
// needs calibration data gets a placeholder "calib.npy" when --calib is not given (so
// `--print-recipe --preset int8-static` prints a complete template). Errors: kInvalidArgument.
Expected<Recipe> build_recipe(const RecipeArgs& args, bool for_printing);

}  // namespace bitsmith::tools
