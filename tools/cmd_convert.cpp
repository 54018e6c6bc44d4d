// bitsmith convert IN OUT [--external-data]: read and write; the format follows the extension.
#include <spdlog/spdlog.h>

#include <iostream>

#include "bitsmith/io/model_io.h"
#include "commands.h"

namespace bitsmith::tools {
namespace {

struct ConvertArgs {
  std::string input;
  std::string output;
  bool external_data = false;
};

int run_convert(const ConvertArgs& args) {
  Expected<Model> model = load_model(args.input);
  if (!model) return report_error(model.status());
  SaveOptions options;
  options.onnx.external_data = args.external_data ? ExternalDataMode::kAlways : ExternalDataMode::kAuto;
  if (Status s = save_model(*model, args.output, options); !s) return report_error(s);
  spdlog::info("wrote {}", args.output);
  return 0;
}

}  // namespace

void register_convert(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "Read a model and write it (format chosen by the file extension)");
  cmd->add_option("input", args->input, "Input model (.onnx or .bsm)")->required();
  cmd->add_option("output", args->output, "Output model (.onnx or .bsm)")->required();
  cmd->add_flag("--external-data", args->external_data,
                "Store tensors of 1 KiB or more in '<output name>.data' next to the model");
  cmd->callback([args, &exit_code] { exit_code = run_convert(*args); });
}

}  // namespace bitsmith::tools
