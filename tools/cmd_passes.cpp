// bitsmith passes [NAME] [--json]
//   no NAME: every registered pass with its one-line summary;
//   NAME:    the pass's summary and options (type, default, allowed values or range, doc).
// Everything printed comes from the pass registry (src/passes/passes.def and each pass's
// option table). An unknown NAME exits 1 with a did-you-mean.
#include <iostream>
#include <nlohmann/json.hpp>

#include "bitsmith/passes/registry.h"
#include "commands.h"

namespace bitsmith::tools {
namespace {

struct PassesArgs {
  std::string name;
  bool json = false;
};

int run_passes(const PassesArgs& args) {
  if (args.name.empty()) {
    if (args.json) {
      nlohmann::json all = nlohmann::json::array();
      for (const PassInfo& p : pass_registry()) all.push_back(pass_info_json(p));
      std::cout << all.dump(2) << "\n";
    } else {
      std::cout << "Passes (bitsmith passes NAME shows a pass's options):\n" << describe_passes();
    }
    return 0;
  }
  const PassInfo* info = find_pass(args.name);
  if (!info)
    return report_error(invalid_argument("unknown pass \"" + args.name + "\"" + did_you_mean(args.name, pass_names()) +
                                         " (known: " + bracket_list(pass_names()) + ")"));
  if (args.json) std::cout << pass_info_json(*info).dump(2) << "\n";
  else std::cout << describe_pass(*info);
  return 0;
}

}  // namespace

void register_passes(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<PassesArgs>();
  CLI::App* cmd = app.add_subcommand("passes", "List the graph passes, or show one pass's options");
  cmd->add_option("name", args->name, "A pass name (e.g. fold-batchnorm)");
  cmd->add_flag("--json", args->json, "Print JSON (name, summary, options with type/default/min/max/allowed/doc)");
  cmd->callback([args, &exit_code] { exit_code = run_passes(*args); });
}

}  // namespace bitsmith::tools
