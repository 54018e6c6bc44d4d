// bitsmith inspect MODEL [--json] [--graph]
#include <iostream>

#include "bitsmith/io/model_io.h"
#include "bitsmith/ir/printer.h"
#include "bitsmith/report/model_summary.h"
#include "commands.h"

namespace bitsmith::tools {
namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
  bool graph = false;
};

int run_inspect(const InspectArgs& args) {
  Expected<Model> model = load_model(args.model);
  if (!model) return report_error(model.status());
  if (args.graph) {
    std::cout << print_model(*model);
    return 0;
  }
  const ModelSummary summary = summarize(*model);
  if (args.json) std::cout << to_json(summary).dump(2) << "\n";
  else std::cout << to_text(summary);
  return 0;
}

}  // namespace

void register_inspect(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a model's inputs, outputs, ops, parameters and sizes");
  cmd->add_option("model", args->model, "Model file (.onnx)")->required();
  cmd->add_flag("--json", args->json, "Print JSON (stable keys: params, bytes_by_dtype, ops, inputs, outputs)");
  cmd->add_flag("--graph", args->graph, "Print the whole graph as text (the IR printer)");
  cmd->callback([args, &exit_code] { exit_code = run_inspect(*args); });
}

}  // namespace bitsmith::tools
