// bitsmith run MODEL --input NAME=FILE.npy [--input ...] [--output-dir DIR] [--threads N]
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "bitsmith/io/npy.h"
#include "bitsmith/runtime/executor.h"
#include "cli_util.h"
#include "commands.h"

namespace bitsmith::tools {
namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string output_dir;
  int threads = 0;
};

int run_run(const RunArgs& args) {
  auto exec = load_executor(args.model, args.threads);
  if (!exec) return report_error(exec.status());
  auto feeds = load_feeds(args.inputs, (*exec)->inputs());
  if (!feeds) return report_error(feeds.status());
  auto outputs = (*exec)->run(*feeds);
  if (!outputs) return report_error(outputs.status().with_context(args.model));
  if (!args.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.output_dir, ec);
    if (ec) return report_error(io_error(args.output_dir + ": cannot create folder: " + ec.message()));
  }
  for (const Tensor& t : *outputs) {
    std::cout << t.name() << ": " << dtype_name(t.dtype()) << shape_str(t.shape());
    if (!args.output_dir.empty()) {
      const std::string path = (std::filesystem::path(args.output_dir) / (safe_file_name(t.name()) + ".npy")).string();
      if (Status s = write_npy(t, path); !s) return report_error(s);
      std::cout << " -> " << path;
    }
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

void register_run(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model on .npy inputs and write its outputs as .npy");
  cmd->add_option("model", args->model, "Model file (.onnx or .bsm)")->required();
  cmd->add_option("--input", args->inputs, "NAME=FILE.npy (or FILE.npy for a one-input model); .npz:member works too")
      ->required();
  cmd->add_option("--output-dir", args->output_dir, "Write each output as DIR/NAME.npy");
  cmd->add_option("--threads", args->threads, "Threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd->callback([args, &exit_code] { exit_code = run_run(*args); });
}

}  // namespace bitsmith::tools
